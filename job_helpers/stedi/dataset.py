"""The STEDI lakehouse data set, as the control plane sees it (see job_helpers/dataset.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from job_helpers.dataset import DataSet, PolicyContext, RolePolicy, SampleData, SampleOption, SampleRequest
from job_helpers.stedi import settings
from job_helpers.stedi.settings import StediSettings

if TYPE_CHECKING:
    from job_helpers.storage import Storage

JSON_SERDE_STORAGE = (
    "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'\n"
    "STORED AS\n"
    "  INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'\n"
    "  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'"
)
STORAGE_CLAUSES = {"parquet": "STORED AS PARQUET", "json": JSON_SERDE_STORAGE}
TRUSTED_AND_CURATED = ("customer_trusted", "accelerometer_trusted", "customer_curated", "step_trainer_trusted")


def sql_values(section: StediSettings | None) -> dict[str, str]:
    """The table shapes the DDL takes from ``stedi:``.

    The trusted and curated tables are stored as ``stedi.output_format`` says, and the curated ones
    carry a pseudonym or the raw identifiers as ``stedi.pseudonymise`` says.
    """
    pseudonymised = section.pseudonymise if section else True
    output_format = section.output_format if section else "parquet"
    return {
        "stedi.storage": STORAGE_CLAUSES[output_format],
        "stedi.customer_identity_columns": "`customerPseudonym` string"
        if pseudonymised
        else "`customerName` string,\n  `email` string,\n  `phone` string,\n  `birthDay` string",
        "stedi.reading_owner_column": "`customerPseudonym` string" if pseudonymised else "`user` string",
    }


def policy_values(context: PolicyContext) -> Mapping[str, str]:
    """The pseudonym key's secret, which the curated jobs read."""
    secret = context.section.pseudonym_secret if context.section else ""
    return {"stedi.pseudonym_secret_arn": f"arn:aws:secretsmanager:{context.region}:{context.account}:secret:{secret}-*"}


def _published(table: str) -> tuple[str, str]:
    return (f"{{stedi.{table}.objects_arn}}", f"{{stedi.{table}.staging_arn}}")


def sample(storage: Storage, datasets: Mapping[str, str], request: SampleRequest) -> str:
    """``make sample-data dataset=stedi``: the three landing tables (their dates are fixed, whatever ``start`` says)."""
    from job_helpers.stedi.sample_data import write_stedi_landing  # imported when called: listing data sets loads no writer

    urls = {name: datasets[f"stedi.{name}_landing"] for name in ("customer", "accelerometer", "step_trainer")}
    written = write_stedi_landing(storage, urls, request.options["customers"], request.seed)
    return "\n".join([f"Wrote STEDI landing data: {written}", *(f"  {name}: {url}" for name, url in urls.items())])


DATASET = DataSet(
    name="stedi",
    title="STEDI lakehouse",
    jobs=(
        "stedi_customer_trusted",
        "stedi_accelerometer_trusted",
        "stedi_customer_curated",
        "stedi_step_trainer_trusted",
        "stedi_machine_learning_curated",
    ),
    tables=(
        "customer_landing",
        "accelerometer_landing",
        "step_trainer_landing",
        "customer_trusted",
        "accelerometer_trusted",
        "customer_curated",
        "step_trainer_trusted",
        "machine_learning_curated",
    ),
    settings=settings.parse,
    sample=SampleData(sample, (SampleOption("customers", 500, "number of customers (at least 100)"),)),
    role=RolePolicy(
        reads=(
            "{stedi.customer_landing.objects_arn}",
            "{stedi.accelerometer_landing.objects_arn}",
            "{stedi.step_trainer_landing.objects_arn}",
        ),
        writes=(
            *(arn for table in (*TRUSTED_AND_CURATED, "machine_learning_curated") for arn in _published(table)),
            "{stedi.rejects.objects_arn}",
            "{stedi.reports.objects_arn}",
        ),
        statements=(
            {
                "Sid": "ReadStediPseudonymKey",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": ["{stedi.pseudonym_secret_arn}"],
            },
        ),
        values=policy_values,
    ),
    services=("s3", "secretsmanager"),
    example_buckets=("stedi-lakehouse",),
    sql_values=sql_values,
)
