-- Step-trainer readings joined to the same customer's accelerometer readings at the same instant
-- (stedi_machine_learning_curated), by reading date.
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`machine_learning_curated` (
  `sensorReadingTime` bigint,
  `serialNumber` string,
  `distanceFromObject` int,
  `sensorReadingTimestamp` timestamp,
  {stedi.reading_owner_column},
  `timestamp` bigint,
  `x` double,
  `y` double,
  `z` double
)
PARTITIONED BY (`reading_date` string)
{stedi.storage}
LOCATION '{stedi.machine_learning_curated}'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.reading_date.type'='date',
  'projection.reading_date.format'='yyyy-MM-dd',
  'projection.reading_date.range'='2020-01-01,NOW',
  'projection.reading_date.interval'='1',
  'projection.reading_date.interval.unit'='DAYS',
  'storage.location.template'='{stedi.machine_learning_curated}reading_date=${reading_date}/'
);
