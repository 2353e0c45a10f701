-- Step-trainer readings of curated customers' devices by reading date (stedi_step_trainer_trusted).
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`step_trainer_trusted` (
  `sensorReadingTime` bigint,
  `serialNumber` string,
  `distanceFromObject` int,
  `sensorReadingTimestamp` timestamp
)
PARTITIONED BY (`reading_date` string)
{stedi.storage}
LOCATION '{stedi.step_trainer_trusted}'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.reading_date.type'='date',
  'projection.reading_date.format'='yyyy-MM-dd',
  'projection.reading_date.range'='2020-01-01,NOW',
  'projection.reading_date.interval'='1',
  'projection.reading_date.interval.unit'='DAYS',
  'storage.location.template'='{stedi.step_trainer_trusted}reading_date=${reading_date}/'
);
