-- Hourly average temperature and seconds in ERROR per customer and contract type, over a range
-- of days. Two parameters, the first and the last day as 'YYYY-MM-DD' (Athena
-- ExecutionParameters, or Spark's positional args).
SELECT
  c.customer_id,
  c.company_name,
  c.contract_type,
  t.dt,
  t.hour,
  avg(t.temperature) AS avg_temperature,
  count_if(t.status = 'ERROR') AS error_seconds,
  count(DISTINCT t.sensor_id) AS sensors
FROM "{database}"."sensor_timeseries" t
JOIN "{database}"."sensor_mapping" m ON m.sensor_id = t.sensor_id
JOIN "{database}"."customer_data" c ON c.customer_id = m.customer_id
WHERE t.dt BETWEEN ? AND ?
GROUP BY c.customer_id, c.company_name, c.contract_type, t.dt, t.hour
ORDER BY t.dt, t.hour, c.contract_type, c.customer_id
