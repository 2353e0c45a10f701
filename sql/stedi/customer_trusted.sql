-- Customers who consented to research use, written by stedi_customer_trusted.
CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`customer_trusted` (
  `customerName` string,
  `email` string,
  `phone` string,
  `birthDay` string,
  `serialNumber` string,
  `registrationDate` bigint,
  `lastUpdateDate` bigint,
  `shareWithResearchAsOfDate` bigint,
  `shareWithPublicAsOfDate` bigint,
  `shareWithFriendsAsOfDate` bigint
)
{stedi.storage}
LOCATION '{stedi.customer_trusted}';
