-- Raw sensor readings as Firehose delivers them: JSON lines under YYYY/MM/DD/HH/ (arrival hour,
-- UTC), objects without an extension. Malformed lines read as nulls instead of failing the query.
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`sensor_raw` (
  `sensor_id` string,
  `temperature` double,
  `status` string,
  `event_time` bigint
)
PARTITIONED BY (`year` int, `month` int, `day` int, `hour` int)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json'='true')
STORED AS
  INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION '{sensors.raw}'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.year.type'='integer',
  'projection.year.range'='2020,2099',
  'projection.month.type'='integer',
  'projection.month.range'='1,12',
  'projection.month.digits'='2',
  'projection.day.type'='integer',
  'projection.day.range'='1,31',
  'projection.day.digits'='2',
  'projection.hour.type'='integer',
  'projection.hour.range'='0,23',
  'projection.hour.digits'='2',
  'storage.location.template'='{sensors.raw}${year}/${month}/${day}/${hour}/'
);
