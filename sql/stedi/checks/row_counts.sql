-- Rows per zone: compare with the pipeline summary (make pipeline name=stedi).
SELECT 'customer' AS "data", 'landing' AS "zone", count(*) AS "rows" FROM "{database}"."customer_landing"
UNION ALL SELECT 'customer', 'trusted', count(*) FROM "{database}"."customer_trusted"
UNION ALL SELECT 'customer', 'curated', count(*) FROM "{database}"."customer_curated"
UNION ALL SELECT 'accelerometer', 'landing', count(*) FROM "{database}"."accelerometer_landing"
UNION ALL SELECT 'accelerometer', 'trusted', count(*) FROM "{database}"."accelerometer_trusted"
UNION ALL SELECT 'step_trainer', 'landing', count(*) FROM "{database}"."step_trainer_landing"
UNION ALL SELECT 'step_trainer', 'trusted', count(*) FROM "{database}"."step_trainer_trusted"
UNION ALL SELECT 'machine_learning', 'curated', count(*) FROM "{database}"."machine_learning_curated"
