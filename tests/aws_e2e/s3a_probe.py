"""What the jobs ask of S3A, done once through a local Spark with the installed jars: run as its own
process (``python s3a_probe.py <bucket>``) with the environment the local runner gives a job.

It writes a table big enough for multipart uploads (Spark's commit renames, a copy then a delete
on S3), lists and reads it back, deletes a folder, and prints what it saw as one JSON line.
"""

from __future__ import annotations

import json
import sys

from job_helpers.runtime import local_spark

ROWS = 60_000
# S3A's smallest part: files above it go up in parts.
PART_BYTES = 5 * 1024 * 1024


def main(bucket: str) -> None:
    spark = local_spark("s3a-probe")
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    hadoop.set("fs.s3a.multipart.size", str(PART_BYTES))
    hadoop.set("fs.s3a.multipart.threshold", str(PART_BYTES))
    table = f"s3://{bucket}/probe/table/"
    rows = spark.range(ROWS).selectExpr("id", "sha2(cast(id as string), 512) || sha2(cast(-id as string), 512) as noise")
    rows.coalesce(1).write.mode("overwrite").parquet(table)
    read = spark.read.parquet(table).count()
    scratch = f"s3://{bucket}/probe/scratch/"
    spark.range(3).write.mode("overwrite").json(scratch)
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(scratch)
    filesystem = path.getFileSystem(hadoop)
    listed = [str(status.getPath()) for status in filesystem.listStatus(path)]
    deleted = filesystem.delete(path, True)
    print(json.dumps({"read": read, "listed": listed, "deleted": bool(deleted), "scratch_left": filesystem.exists(path)}))
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1])
