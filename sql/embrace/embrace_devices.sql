-- Devices from the exports' metadata.csv files: one row per distinct record, with the exports holding it.
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`embrace_devices` (
  `ppt_id` string,
  `dev_id` string,
  `recorded_at` string,
  `timezone_minutes` int,
  `firmware_version` string,
  `app` string,
  `app_version` string,
  `mobile_os` string,
  `mobile_os_version` string,
  `gtcs_algorithm_version` string,
  `source_file` string,
  `exports` array<string>
)
STORED AS PARQUET
LOCATION '{embrace.devices}';
