-- Minutes and share of each UTC day a device was worn, from its clean 4 Hz EDA (every export's
-- readings, each once) after dropping 10-second windows with more than 90% of values below 0.03 µS.
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`embrace_wear_time` (
  `ppt_id` string,
  `dev_id` string,
  `day` string,
  `minutes_worn` double,
  `share_worn` double,
  `samples` bigint,
  `samples_worn` bigint,
  `windows` bigint,
  `windows_worn` bigint
)
PARTITIONED BY (`month` string)
STORED AS PARQUET
LOCATION '{embrace.wear_time}'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.month.type'='date',
  'projection.month.format'='yyyy-MM',
  'projection.month.range'='2015-01,NOW',
  'projection.month.interval'='1',
  'projection.month.interval.unit'='MONTHS',
  'storage.location.template'='{embrace.wear_time}month=${month}/'
);
