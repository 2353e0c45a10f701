-- One row per participant, device, month and stream: rows read and what each cleaning rule did.
-- total_dupes = perfect + unclear (non-missing rows sharing their timestamp with another row).
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`embrace_duplicate_log` (
  `ppt_id` string,
  `dev_id` string,
  `month` string,
  `total_rows` bigint,
  `total_dupes` bigint,
  `perfect` bigint,
  `nan` bigint,
  `unclear` bigint
)
PARTITIONED BY (`export` string, `stream` string)
STORED AS PARQUET
LOCATION '{embrace.duplicate_log}'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.export.type'='injected',
  'projection.stream.type'='enum',
  'projection.stream.values'='acc,eda,temp',
  'storage.location.template'='{embrace.duplicate_log}export=${export}/stream=${stream}/'
);
