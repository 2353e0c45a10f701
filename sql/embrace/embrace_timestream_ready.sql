-- The Timestream batch-load CSV files (header row skipped), for checking a load before it starts.
-- Columns beyond the stream's own are null: acc has x, y, z; eda has eda in x; temp has temp in x.
-- Each reading once, whatever exports held it. Folders are bare values (<stream>/<date>/):
-- CreateBatchLoadTask's ObjectKeyPrefix allows no '=', so the partitions come only from projection
-- and its template.
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`embrace_timestream_ready` (
  `time` bigint,
  `ppt_id` string,
  `dev_id` string,
  `x` double,
  `y` double,
  `z` double
)
PARTITIONED BY (`stream` string, `date` string)
ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
STORED AS TEXTFILE
LOCATION '{embrace.timestream_ready}'
TBLPROPERTIES (
  'skip.header.line.count'='1',
  'projection.enabled'='true',
  'projection.stream.type'='enum',
  'projection.stream.values'='acc,eda,temp',
  'projection.date.type'='date',
  'projection.date.format'='yyyy-MM-dd',
  'projection.date.range'='2015-01-01,NOW',
  'projection.date.interval'='1',
  'projection.date.interval.unit'='DAYS',
  'storage.location.template'='{embrace.timestream_ready}${stream}/${date}/'
);
