-- One row per participant, device, day and stream: rows read and what each cleaning rule did, over
-- every export holding the device-day (exports lists them). A row several exports hold counts once
-- in total_rows; its other copies are overlap. total_dupes = perfect + unclear (non-missing rows
-- sharing their timestamp with another row).
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`embrace_duplicate_log` (
  `ppt_id` string,
  `dev_id` string,
  `day` string,
  `total_rows` bigint,
  `total_dupes` bigint,
  `perfect` bigint,
  `nan` bigint,
  `unclear` bigint,
  `overlap` bigint,
  `exports` array<string>
)
PARTITIONED BY (`stream` string, `month` string)
STORED AS PARQUET
LOCATION '{embrace.duplicate_log}'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.stream.type'='enum',
  'projection.stream.values'='acc,eda,temp',
  'projection.month.type'='date',
  'projection.month.format'='yyyy-MM',
  'projection.month.range'='2015-01,NOW',
  'projection.month.interval'='1',
  'projection.month.interval.unit'='MONTHS',
  'storage.location.template'='{embrace.duplicate_log}stream=${stream}/month=${month}/'
);
