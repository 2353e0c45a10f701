-- Step-trainer readings as uploaded: JSON lines; sensorReadingTime is epoch ms.
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`step_trainer_landing` (
  `sensorReadingTime` bigint,
  `serialNumber` string,
  `distanceFromObject` int
)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json'='true', 'case.insensitive'='true')
STORED AS
  INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION '{stedi.step_trainer_landing}';
