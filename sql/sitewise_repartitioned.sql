-- Daily-merged IoT SiteWise measurements written by the sitewise_repartition job.
-- One Avro file per day and merge run; partitions are found by projection, so no crawler and
-- no MSCK REPAIR are needed after a backfill.
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`sitewise_repartitioned` (
  `seriesid` string,
  `timeinseconds` bigint,
  `offsetinnanos` bigint,
  `quality` string,
  `doublevalue` double,
  `stringvalue` string,
  `integervalue` int,
  `booleanvalue` boolean,
  `jsonvalue` string,
  `recordversion` bigint
)
PARTITIONED BY (`startyear` int, `startmonth` int, `startday` int)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.avro.AvroSerDe'
WITH SERDEPROPERTIES ('avro.schema.literal'='{"type":"record","name":"RawData","namespace":"com.amazonaws.iotsitewise","fields":[{"name":"seriesId","type":"string"},{"name":"timeInSeconds","type":"long"},{"name":"offsetInNanos","type":"long"},{"name":"quality","type":"string"},{"name":"doubleValue","type":["null","double"],"default":null},{"name":"stringValue","type":["null","string"],"default":null},{"name":"integerValue","type":["null","int"],"default":null},{"name":"booleanValue","type":["null","boolean"],"default":null},{"name":"jsonValue","type":["null","string"],"default":null},{"name":"recordVersion","type":["null","long"],"default":null}]}')
STORED AS
  INPUTFORMAT 'org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat'
  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat'
LOCATION '{sitewise.repartitioned}'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.startyear.type'='integer',
  'projection.startyear.range'='2018,2099',
  'projection.startmonth.type'='integer',
  'projection.startmonth.range'='1,12',
  'projection.startday.type'='integer',
  'projection.startday.range'='1,31',
  'storage.location.template'='{sitewise.repartitioned}startYear=${startyear}/startMonth=${startmonth}/startDay=${startday}/'
);
