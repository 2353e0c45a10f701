-- Which customer each sensor belongs to: sensor_mapping.csv with a header line.
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`sensor_mapping` (
  `sensor_id` string,
  `customer_id` string
)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
WITH SERDEPROPERTIES ('separatorChar'=',', 'quoteChar'='"')
STORED AS TEXTFILE
LOCATION '{sensors.sensor_mapping}'
TBLPROPERTIES ('skip.header.line.count'='1');
