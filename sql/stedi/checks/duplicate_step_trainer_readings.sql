-- Step-trainer readings that occur more than once (same device, same instant), per zone.
-- Expected empty: a rerun replaces its output instead of appending to it.
SELECT 'landing' AS "zone", "serialNumber", "sensorReadingTime", count(*) AS "copies"
FROM "{database}"."step_trainer_landing"
GROUP BY "serialNumber", "sensorReadingTime"
HAVING count(*) > 1
UNION ALL
SELECT 'trusted', "serialNumber", "sensorReadingTime", count(*)
FROM "{database}"."step_trainer_trusted"
GROUP BY "serialNumber", "sensorReadingTime"
HAVING count(*) > 1
