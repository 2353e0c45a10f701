-- Phone accelerometer readings as uploaded: JSON lines; user is the customer's email, timestamp epoch ms.
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`accelerometer_landing` (
  `user` string,
  `timestamp` bigint,
  `x` double,
  `y` double,
  `z` double
)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json'='true', 'case.insensitive'='true')
STORED AS
  INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION '{stedi.accelerometer_landing}';
