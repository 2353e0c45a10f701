-- Consenting customers with accelerometer readings, one row each (stedi_customer_curated);
-- pseudonymised unless stedi.pseudonymise is false.
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`customer_curated` (
  {stedi.customer_identity_columns},
  `serialNumber` string,
  `registrationDate` bigint,
  `lastUpdateDate` bigint,
  `shareWithResearchAsOfDate` bigint,
  `shareWithPublicAsOfDate` bigint,
  `shareWithFriendsAsOfDate` bigint
)
{stedi.storage}
LOCATION '{stedi.customer_curated}';
