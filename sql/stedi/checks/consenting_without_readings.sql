-- Consenting (trusted) customers with no trusted accelerometer reading: they are left out of the
-- curated zone on purpose; a sudden rise points at a broken accelerometer upload.
SELECT c."email", c."serialNumber", from_unixtime(c."shareWithResearchAsOfDate" / 1000) AS "consented_at"
FROM "{database}"."customer_trusted" c
WHERE NOT EXISTS (SELECT 1 FROM "{database}"."accelerometer_trusted" a WHERE a."user" = c."email")
ORDER BY c."email"
