"""The STEDI jobs' arguments turned into plain values, a bad one failing with a line that names it."""

from __future__ import annotations

from datetime import date

import pytest

from job_helpers.runtime import JobFailed
from job_helpers.stedi import parameters

COMMON = {"output_format": "parquet", "report": "file:///lake/reports/job/", "allow_shrink": "false"}


def test_a_ranged_run_is_scoped_to_its_dates_and_a_whole_run_to_all():
    ranged = parameters.from_args({**COMMON, "from_date": "2022-06-18", "to_date": "2022-06-19"}, ranged=True)
    assert ranged.days == (date(2022, 6, 18), date(2022, 6, 19)) and ranged.scope == "2022-06-18_2022-06-19"
    whole = parameters.from_args(COMMON, ranged=True)
    assert (whole.first, whole.last, whole.scope, whole.allow_shrink) == (None, None, "all", False)


def test_bad_arguments_name_themselves():
    with pytest.raises(JobFailed, match="--to-date: this job always recomputes its whole table"):
        parameters.from_args({**COMMON, "to_date": "2022-06-18"}, ranged=False)
    with pytest.raises(JobFailed, match="--from-date needs its partner"):
        parameters.from_args({**COMMON, "from_date": "2022-06-18"}, ranged=True)
    with pytest.raises(JobFailed, match="--output-format 'csv' is not one of parquet, json"):
        parameters.from_args({**COMMON, "output_format": "csv"}, ranged=False)
    with pytest.raises(JobFailed, match="--ml-join 'any'"):
        parameters.ml_join({"ml_join": "any"})


def test_the_key_source_is_only_looked_at_when_pseudonymising():
    source = "secretsmanager:glue-etl/stedi/pseudonym-key"
    assert parameters.pseudonym_key_source({"pseudonymise": "true", "pseudonym_key": source}) == source
    assert parameters.pseudonym_key_source({"pseudonymise": "false", "pseudonym_key": source}) is None


LOCATIONS = {
    name: f"file:///lake/{name}/"
    for name in (
        "customer_landing",
        "customer_trusted",
        "customer_curated",
        "accelerometer_landing",
        "accelerometer_trusted",
        "step_trainer_landing",
        "step_trainer_trusted",
        "machine_learning_curated",
        "rejects",
    )
}
EVERY = {
    **COMMON,
    **LOCATIONS,
    "max_reject_share": "0.01",
    "pseudonymise": "true",
    "pseudonym_key": "file:///keys/stedi",
    "ml_join": "time-only",
}
JOBS = (
    parameters.CustomerTrusted,
    parameters.AccelerometerTrusted,
    parameters.CustomerCurated,
    parameters.StepTrainerTrusted,
    parameters.MachineLearningCurated,
)


@pytest.mark.parametrize("job", JOBS, ids=lambda job: job.__name__)
def test_each_job_turns_the_names_it_declares_into_typed_values(job):
    """Built from its declared names alone (tests/test_job_shape.py checks it reads no other)."""
    params = job.from_args({key.replace("-", "_"): EVERY[key.replace("-", "_")] for key in job.OPTIONS})
    located = {name: getattr(params, name) for name in LOCATIONS if hasattr(params, name)}
    assert located == {name: LOCATIONS[name] for name in located} and len(located) >= 3
    assert (params.output_format, params.report_folder, params.scope) == ("parquet", COMMON["report"], "all")


def test_the_jobs_typed_values_and_their_bad_ones():
    assert parameters.CustomerTrusted.from_args(EVERY).max_reject_share == 0.01
    ranged = parameters.StepTrainerTrusted.from_args({**EVERY, "from_date": "2022-06-18", "to_date": "2022-06-18"})
    assert ranged.days == (date(2022, 6, 18), date(2022, 6, 18)) and ranged.max_reject_share == 0.01
    ml = parameters.MachineLearningCurated.from_args(EVERY)
    assert (ml.ml_join, ml.pseudonym_key_source) == ("time-only", "file:///keys/stedi")
    assert parameters.CustomerCurated.from_args({**EVERY, "pseudonymise": "false"}).pseudonym_key_source is None
    with pytest.raises(JobFailed, match="--from-date: this job always recomputes its whole table"):
        parameters.CustomerCurated.from_args({**EVERY, "from_date": "2022-06-18", "to_date": "2022-06-18"})
    with pytest.raises(JobFailed, match="--max-reject-share '2' must be a number from 0 to 1"):
        parameters.AccelerometerTrusted.from_args({**EVERY, "max_reject_share": "2"})
    with pytest.raises(JobFailed, match="--pseudonymise 'yes' must be true or false"):
        parameters.MachineLearningCurated.from_args({**EVERY, "pseudonymise": "yes"})
