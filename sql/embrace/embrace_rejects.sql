-- Lines the job could not use, with their file, line number and reason, per export (lines of its
-- files) and stream. export is injected: filter on it (export = 'Sensors_…' or export IN (…)).
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`embrace_rejects` (
  `ppt_id` string,
  `dev_id` string,
  `file` string,
  `line` bigint,
  `reason` string,
  `record` string
)
PARTITIONED BY (`export` string, `stream` string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION '{embrace.rejects}'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.export.type'='injected',
  'projection.stream.type'='enum',
  'projection.stream.values'='acc,eda,temp',
  'storage.location.template'='{embrace.rejects}export=${export}/stream=${stream}/'
);
