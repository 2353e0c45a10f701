"""The cleaning rules as DataFrame -> DataFrame functions, from blocks of CSV lines to every output.

Per export, participant, device and stream, readings are grouped by timestamp once; that single
aggregate decides every rule and feeds every count:

* a timestamp whose non-missing rows all hold the same values keeps one row (perfect duplicates,
  every copy counted in ``perfect``);
* a timestamp whose non-missing rows disagree is dropped whole (``unclear``, every row counted);
* rows with a missing value are dropped (``nan``) and take no part in the duplicate decision;
* EDA ``-0.0`` is ``0.0`` before anything is compared;
* devices are part of the key, so two devices of one participant never duplicate each other.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, MapType, StringType

from job_helpers.embrace.reader import BLOCK, DEVICE

KEY = ("export", "ppt_id", "dev_id", "stream")
MISSING_TEXT = ("", "nan", "null", "na", "none")
NUMBER = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"
OFF_WRIST_MICROSIEMENS = 0.03
OFF_WRIST_SHARE = 0.9
WINDOW_MS = 10_000
EDA_HZ = 4
DEVICE_COLUMNS = {
    "Datetime (UTC)": "recorded_at",
    "Timezone (minutes)": "timezone_minutes",
    "Embrace firmware version": "firmware_version",
    "App": "app",
    "App version": "app_version",
    "Mobile OS": "mobile_os",
    "Mobile OS version": "mobile_os_version",
    "GTCS algorithm version": "gtcs_algorithm_version",
}


def _is_missing(text: Column) -> Column:
    return text.isNull() | F.lower(text).isin(*MISSING_TEXT)


def _number(text: Column) -> Column:
    """The value as a double, or null when it is not a plain decimal number (checked before the
    cast, so ANSI mode never raises and ``inf``/``NaN`` never pass)."""
    return F.when(text.rlike(NUMBER), text.cast("double"))


def parse_lines(blocks: DataFrame) -> DataFrame:
    """One row per CSV line: the reading's values, whether one is missing, and a reject reason.

    ``reason`` is null for usable lines. A line is rejected when it has the wrong number of
    fields, no whole-number timestamp, or a value that is present but not a finite number.
    """
    is_block = F.col("kind") == BLOCK
    # One pass over the blocks: device and error rows come through as a single line each, so the
    # caller can persist this one frame and never read an archive twice.
    pieces = F.when(is_block, F.split("text", "\n")).otherwise(F.array("text"))
    lines = blocks.select("kind", *KEY, "member", "first_line", F.posexplode(pieces).alias("position", "raw"))
    line = F.when(is_block, F.regexp_replace("raw", "\r$", "")).otherwise(F.col("raw"))
    acc = F.col("stream") == "acc"
    fields = F.split(line, ",", -1)
    texts = [F.trim(fields.getItem(i)) for i in range(4)]
    values = [texts[1], F.when(acc, texts[2]), F.when(acc, texts[3])]
    numbers = [_number(text) for text in values]
    bad_value = None
    for name, text, number in zip(("first", "second", "third"), values, numbers):
        check = F.when(~_is_missing(text) & number.isNull(), F.lit(f"{name} value is not a number"))
        bad_value = check if bad_value is None else F.coalesce(bad_value, check)
    timestamp = F.when(texts[0].rlike("^[0-9]{1,18}$"), texts[0].cast("long"))
    reason = (
        F.when(F.size(fields) != F.when(acc, 4).otherwise(2), F.concat(F.lit("expected "), F.when(acc, "4").otherwise("2"), F.lit(" fields")))
        .when(_is_missing(texts[0]), F.lit("no timestamp"))
        .when(timestamp.isNull(), F.lit("timestamp is not whole epoch milliseconds"))
        .otherwise(bad_value)
    )
    eda_zero = (F.col("stream") == "eda") & (numbers[0] == 0)
    return (
        lines.where(~is_block | (F.trim(line) != ""))
        .select(
            "kind",
            *KEY,
            "member",
            (F.col("first_line") + F.col("position")).alias("line"),
            F.when(~is_block | reason.isNotNull(), line).alias("record"),
            timestamp.alias("ts"),
            F.when(eda_zero, F.lit(0.0)).otherwise(numbers[0]).alias("v1"),
            numbers[1].alias("v2"),
            numbers[2].alias("v3"),
            (_is_missing(values[0]) | (acc & (_is_missing(values[1]) | _is_missing(values[2])))).alias("missing"),
            F.when(is_block, reason).alias("reason"),
        )
    )


def group_timestamps(readings: DataFrame) -> DataFrame:
    """One row per key and timestamp: copies, missing rows, and whether the copies agree."""
    present = ~F.col("missing")
    aggregates = [F.count_if(present).alias("n_ok"), F.count_if(F.col("missing")).alias("n_nan")]
    for value in ("v1", "v2", "v3"):
        aggregates += [F.min(F.when(present, F.col(value))).alias(value), F.max(F.when(present, F.col(value))).alias(f"{value}_max")]
    usable = (F.col("kind") == BLOCK) & F.col("reason").isNull()
    grouped = readings.where(usable).groupBy(*KEY, "ts").agg(*aggregates)
    agree = F.col("v1").eqNullSafe(F.col("v1_max")) & F.col("v2").eqNullSafe(F.col("v2_max")) & F.col("v3").eqNullSafe(F.col("v3_max"))
    day = F.date_from_unix_date(F.floor(F.col("ts") / 86_400_000).cast("int")).cast("string")
    kept = (F.col("n_ok") >= 1) & agree
    return grouped.select(*KEY, "ts", "n_ok", "n_nan", "v1", "v2", "v3", kept.alias("kept"), day.alias("date"))


def clean_readings(grouped: DataFrame) -> DataFrame:
    """The kept readings, with named measure columns (null where the stream has no such measure)."""
    stream = F.col("stream")
    return grouped.where("kept").select(
        "ppt_id",
        "dev_id",
        F.col("ts").alias("time_ms"),
        F.timestamp_millis("ts").alias("time"),
        F.when(stream == "acc", F.col("v1")).alias("x"),
        F.when(stream == "acc", F.col("v2")).alias("y"),
        F.when(stream == "acc", F.col("v3")).alias("z"),
        F.when(stream == "eda", F.col("v1")).alias("eda"),
        F.when(stream == "temp", F.col("v1")).alias("temp"),
        "export",
        "stream",
        "date",
    )


def duplicate_log(grouped: DataFrame) -> DataFrame:
    """Per participant, device, month and stream: rows read and how many each rule touched.

    ``total_dupes`` counts the non-missing rows that share their timestamp with another one, so
    it is always ``perfect + unclear``.
    """
    shared = F.col("n_ok") > 1
    return (
        grouped.groupBy("export", "ppt_id", "dev_id", F.substring("date", 1, 7).alias("month"), "stream")
        .agg(
            F.sum(F.col("n_ok") + F.col("n_nan")).alias("total_rows"),
            F.sum(F.when(shared, F.col("n_ok")).otherwise(0)).alias("total_dupes"),
            F.sum(F.when(shared & F.col("kept"), F.col("n_ok")).otherwise(0)).alias("perfect"),
            F.sum("n_nan").alias("nan"),
            F.sum(F.when(shared & ~F.col("kept"), F.col("n_ok")).otherwise(0)).alias("unclear"),
        )
        .select("ppt_id", "dev_id", "month", "stream", "total_rows", "total_dupes", "perfect", "nan", "unclear", "export")
    )


def wear_time(clean: DataFrame) -> DataFrame:
    """Minutes and share of each UTC day a device was worn, from its clean 4 Hz EDA readings.

    A 10-second window is off the wrist when more than 90% of its values are below 0.03 µS;
    the worn minutes are the samples left in the other windows divided by the 4 Hz rate.
    """
    windows = (
        clean.where(F.col("stream") == "eda")
        .groupBy("export", "ppt_id", "dev_id", "date", F.floor(F.col("time_ms") / WINDOW_MS).alias("window"))
        .agg(F.count(F.lit(1)).alias("samples"), F.count_if(F.col("eda") < OFF_WRIST_MICROSIEMENS).alias("low"))
        .withColumn("worn", F.col("low") <= F.col("samples") * OFF_WRIST_SHARE)
    )
    minutes = F.col("samples_worn") / (EDA_HZ * 60.0)
    return (
        windows.groupBy("export", "ppt_id", "dev_id", "date")
        .agg(
            F.sum("samples").alias("samples"),
            F.sum(F.when(F.col("worn"), F.col("samples")).otherwise(0)).alias("samples_worn"),
            F.count(F.lit(1)).alias("windows"),
            F.count_if(F.col("worn")).alias("windows_worn"),
        )
        .select(
            "ppt_id",
            "dev_id",
            F.col("date").alias("day"),
            minutes.alias("minutes_worn"),
            (minutes / (24 * 60)).alias("share_worn"),
            "samples",
            "samples_worn",
            "windows",
            "windows_worn",
            "export",
        )
    )


def devices(readings: DataFrame) -> DataFrame:
    """One row per metadata.csv record, with snake_case columns and the file it came from."""
    records = readings.where(F.col("kind") == DEVICE).select(
        "export", "ppt_id", "dev_id", "member", F.explode(F.from_json("record", ArrayType(MapType(StringType(), StringType())))).alias("fields")
    )
    columns = [F.col("fields").getItem(header).alias(name) for header, name in DEVICE_COLUMNS.items()]
    return records.select("ppt_id", "dev_id", *columns, F.col("member").alias("source_file"), "export").withColumn(
        "timezone_minutes", F.col("timezone_minutes").cast("int")
    )


def rejects(readings: DataFrame) -> DataFrame:
    """Rejected lines with their file, line number, reason and text."""
    return readings.where(F.col("reason").isNotNull()).select(
        "ppt_id", "dev_id", F.col("member").alias("file"), "line", "reason", "record", "export", "stream"
    )
