"""The STEDI pipeline on the shared starter data, then on the same data scaled ×10, with per-job seconds.

Targets on two cores: the shared data end to end (Spark start included) under 60 s; ×10 under 4×
that. Without ../shared beside the repository it runs on generated landing data of the same number
of customers (956) and says so. The scaled copy gives each customer nine twins (own email and device) with the same readings,
so the shape (consent share, readings per customer, join rate) stays the same. Human lines first,
one JSON object last.

    JAVA_HOME=... .venv/bin/python benchmarks/stedi_pipeline.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

STARTED = time.perf_counter()
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from job_helpers.control.config import load_settings, pipeline_spec  # noqa: E402
from job_helpers.control.pipeline import LocalRunner, run_jobs, table_counts  # noqa: E402
from job_helpers.runtime import local_spark  # noqa: E402
from job_helpers.stedi.sample_data import write_stedi_landing  # noqa: E402
from job_helpers.storage import Storage  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "stedi"
LANDINGS = ("customer", "accelerometer", "step_trainer")
SCALE = 10
SHARED_CUSTOMERS = 956


def scaled_copy(source: Path, target: Path, factor: int) -> None:
    """Write each landing line ``factor`` times, twin k's email and serial number suffixed with k."""
    for name in LANDINGS:
        out = target / "stedi-lakehouse" / name / "landing"
        out.mkdir(parents=True)
        for path in sorted((source / name / "landing").glob("*.json")):
            lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            with open(out / path.name, "w") as handle:
                for twin in range(factor):
                    for record in lines:
                        copy = dict(record)
                        for field in ("email", "user"):
                            if twin and copy.get(field):
                                copy[field] = f"twin{twin}.{copy[field]}"
                        if twin and copy.get("serialNumber"):
                            copy["serialNumber"] = f"{copy['serialNumber']}-{twin}"
                        handle.write(json.dumps(copy) + "\n")


def run(lake: Path, key_file: Path) -> dict:
    settings = load_settings(
        REPO / "config.yml", "local", [f"stedi.pseudonym_key_file={key_file}"], environ={"LAKE_ROOT": str(lake)}
    )
    spec = pipeline_spec(settings, "stedi")
    result = run_jobs(settings, spec, LocalRunner(REPO), Storage())
    if not result.succeeded:
        raise SystemExit(f"pipeline failed: {[(o.job, o.state, o.error) for o in result.outcomes]}")
    return {
        "seconds": round(result.seconds, 2),
        "jobs": {o.job: round(o.seconds, 2) for o in result.outcomes},
        "rows": table_counts(settings.datasets, spec.tables, result.outcomes),
    }


def landing_source(root: Path) -> tuple[Path, str]:
    """The shared starter data if it is beside the repository, else generated data of its size."""
    if SHARED.is_dir():
        return SHARED, "shared"
    print(f"{SHARED} is absent: running on generated landing data of {SHARED_CUSTOMERS} customers instead")
    generated = root / "generated"
    urls = {name: (generated / name / "landing").as_uri() + "/" for name in LANDINGS}
    write_stedi_landing(Storage(), urls, customers=SHARED_CUSTOMERS, seed=1)
    return generated, "generated"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="stedi-bench-") as scratch:
        root = Path(scratch)
        source, data = landing_source(root)
        key = root / "pseudonym.key"
        shared_lake = root / "shared"
        for name in LANDINGS:
            folder = shared_lake / "stedi-lakehouse" / name
            folder.mkdir(parents=True)
            (folder / "landing").symlink_to(source / name / "landing", target_is_directory=True)
        local_spark("stedi-benchmark")
        spark_ready = time.perf_counter() - STARTED
        shared = run(shared_lake, key)
        end_to_end = time.perf_counter() - STARTED
        print(f"{data} data: Spark ready in {spark_ready:.1f}s, pipeline {shared['seconds']:.1f}s, end to end {end_to_end:.1f}s")
        for job, seconds in shared["jobs"].items():
            print(f"  {job:<34} {seconds:6.1f}s")
        scaled_copy(source, root / "scaled", SCALE)
        scaled = run(root / "scaled", key)
        print(f"x{SCALE} data: pipeline {scaled['seconds']:.1f}s ({scaled['seconds'] / end_to_end:.2f}x the shared end to end)")
        for job, seconds in scaled["jobs"].items():
            print(f"  {job:<34} {seconds:6.1f}s")
        print(f"rows shared: {shared['rows']}")
        print(f"rows x{SCALE}: {scaled['rows']}")
    print(
        json.dumps(
            {
                "benchmark": "stedi_pipeline",
                "data": data,
                "spark_start_s": round(spark_ready, 2),
                "shared_end_to_end_s": round(end_to_end, 2),
                "shared_pipeline_s": shared["seconds"],
                "shared_jobs_s": shared["jobs"],
                "scaled_factor": SCALE,
                "scaled_pipeline_s": scaled["seconds"],
                "scaled_jobs_s": scaled["jobs"],
                "scaled_over_shared": round(scaled["seconds"] / end_to_end, 2),
                "targets_met": end_to_end < 60 and scaled["seconds"] < 4 * end_to_end,
            }
        )
    )


if __name__ == "__main__":
    main()
