"""Run parameters, a chunk run and output readers shared by the Embrace tests."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

from pyspark.sql import functions as F

from job_helpers.embrace import read, run
from job_helpers.embrace.outputs import OUTPUTS, argument
from job_helpers.embrace.parameters import Parameters
from job_helpers.storage import Storage
from tests.support.embrace_oracle import expected_union
from tests.support.job_argv import job_argv as config_job_argv

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared" / "data" / "embrace"
LOG_COUNTS = ("total_rows", "total_dupes", "perfect", "nan", "unclear", "overlap")


def chunk_params(landing: Path, lake: Path, first: date, last: date, **options) -> Parameters:
    """Run parameters with every output in its own folder under ``lake``."""
    urls = {name: (lake / name).as_uri() + "/" for name in OUTPUTS}
    return Parameters(first=first, last=last, landing=landing.as_uri() + "/", outputs=urls, **options)


def run_chunk(spark, storage: Storage, params: Parameters) -> run.ChunkResult:
    """The job's steps after its arguments: the archives of the dates, then each one cleaned and published."""
    landing = read.landing_archives(storage, params.landing, params.first, params.last)
    return run.clean_and_publish(spark, storage, landing, params)


def job_argv(landing: Path, lake: Path, first: str, last: str, **extra: str) -> list[str]:
    """The job's command line from config.yml, reading ``landing`` and writing every output in its own folder under ``lake``."""
    folders = {argument(name): (lake / name).as_uri() + "/" for name in OUTPUTS}
    return config_job_argv("embrace_dedupe", first, last, landing=landing.as_uri() + "/", **folders, **extra)


def tables(spark, lake: Path) -> dict[str, list]:
    """Every row of every output (rejects and reports aside) and every batch-load line, sorted."""
    found = {}
    for name in ("clean", "duplicate_log", "wear_time", "devices"):
        frame = spark.read.parquet(str(lake / name))
        found[name] = sorted(tuple(str(value) for value in row) for row in frame.collect())
    lines = []
    for path in sorted((lake / "timestream_ready").rglob("*.csv")):
        folder = path.parent.relative_to(lake / "timestream_ready").as_posix()
        lines += [(folder, line) for line in path.read_text().splitlines()[1:]]
    found["timestream_ready"] = sorted(lines)
    found["load_counts"] = sorted(
        (path.relative_to(lake / "load_counts").as_posix(), path.read_text()) for path in (lake / "load_counts").rglob("*.json")
    )
    return found


def assert_follows_the_rules(spark, lake: Path, archives: list[Path]) -> dict:
    """Clean rows and the duplicate log are those of the archives read together; every reading once, everywhere."""
    clean, log = expected_union(archives)
    frame = spark.read.parquet(str(lake / "clean"))
    assert Counter({r["stream"]: r["count"] for r in frame.groupBy("stream").count().collect()}) == clean
    assert frame.groupBy("ppt_id", "dev_id", "stream", "time_ms").count().where("count > 1").count() == 0
    monthly = (
        spark.read.parquet(str(lake / "duplicate_log"))
        .groupBy("ppt_id", "dev_id", "month", "stream")
        .agg(*[F.sum(name).alias(name) for name in LOG_COUNTS])
        .collect()
    )
    assert {(r["ppt_id"], r["dev_id"], r["month"], r["stream"]): tuple(r[n] for n in LOG_COUNTS) for r in monthly} == log
    lines = sum(len(p.read_text().splitlines()) - 1 for p in (lake / "timestream_ready").rglob("*.csv"))
    assert lines == sum(clean.values())
    counts = sum(sum(json.loads(p.read_text()).values()) for p in (lake / "load_counts").rglob("*.json"))
    assert counts == sum(clean.values())
    wear = spark.read.parquet(str(lake / "wear_time"))
    assert wear.groupBy("ppt_id", "dev_id", "day").count().where("count > 1").count() == 0
    return log
