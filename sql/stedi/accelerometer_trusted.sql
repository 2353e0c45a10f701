-- Accelerometer readings of consenting customers by reading date (stedi_accelerometer_trusted);
-- partitions are found by projection, so no crawler or MSCK REPAIR after a backfill.
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`accelerometer_trusted` (
  `user` string,
  `timestamp` bigint,
  `x` double,
  `y` double,
  `z` double,
  `readingTime` timestamp
)
PARTITIONED BY (`reading_date` string)
{stedi.storage}
LOCATION '{stedi.accelerometer_trusted}'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.reading_date.type'='date',
  'projection.reading_date.format'='yyyy-MM-dd',
  'projection.reading_date.range'='2020-01-01,NOW',
  'projection.reading_date.interval'='1',
  'projection.reading_date.interval.unit'='DAYS',
  'storage.location.template'='{stedi.accelerometer_trusted}reading_date=${reading_date}/'
);
