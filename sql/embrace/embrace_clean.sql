-- Clean Embrace readings written by the embrace_dedupe job: one row per participant, device,
-- stream and timestamp, whatever exports held it (exports lists them); x/y/z for acc, eda for eda,
-- temp for temp (null otherwise).
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`embrace_clean` (
  `ppt_id` string,
  `dev_id` string,
  `time_ms` bigint,
  `time` timestamp,
  `x` double,
  `y` double,
  `z` double,
  `eda` double,
  `temp` double,
  `exports` array<string>
)
PARTITIONED BY (`stream` string, `date` string)
STORED AS PARQUET
LOCATION '{embrace.clean}'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.stream.type'='enum',
  'projection.stream.values'='acc,eda,temp',
  'projection.date.type'='date',
  'projection.date.format'='yyyy-MM-dd',
  'projection.date.range'='2015-01-01,NOW',
  'projection.date.interval'='1',
  'projection.date.interval.unit'='DAYS',
  'storage.location.template'='{embrace.clean}stream=${stream}/date=${date}/'
);
