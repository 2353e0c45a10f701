-- The customers sensors are mapped to: customer_data.csv with a header line, values quoted.
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`customer_data` (
  `customer_id` string,
  `company_name` string,
  `contact_person` string,
  `contract_type` string
)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
WITH SERDEPROPERTIES ('separatorChar'=',', 'quoteChar'='"')
STORED AS TEXTFILE
LOCATION '{sensors.customer_data}'
TBLPROPERTIES ('skip.header.line.count'='1');
