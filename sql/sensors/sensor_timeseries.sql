-- One row per sensor and whole UTC second, written by the sensor_timeseries_export job:
-- temperature interpolated linearly between readings, status carried forward.
-- Partitions are found by projection, so a backfill needs no crawler and no MSCK REPAIR.
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`sensor_timeseries` (
  `sensor_id` string,
  `time` timestamp,
  `temperature` double,
  `status` string
)
PARTITIONED BY (`dt` string, `hour` int)
STORED AS PARQUET
LOCATION '{sensors.curated}'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.dt.type'='date',
  'projection.dt.format'='yyyy-MM-dd',
  'projection.dt.range'='2020-01-01,NOW',
  'projection.dt.interval'='1',
  'projection.dt.interval.unit'='DAYS',
  'projection.hour.type'='integer',
  'projection.hour.range'='0,23',
  'projection.hour.digits'='2',
  'storage.location.template'='{sensors.curated}dt=${dt}/hour=${hour}/'
);
