"""The de-identified ingest, as the control plane sees it (see job_helpers/dataset.py).

It is a command (``make ingest``, ``restore``, ``verify``), not a Glue job: no jobs, no tables, no
job-role access; the operator policy's ingest statements use its values.
"""

from __future__ import annotations

from collections.abc import Mapping

from job_helpers.dataset import DataSet, PolicyContext, RolePolicy
from job_helpers.ingest import settings


def policy_values(context: PolicyContext) -> Mapping[str, str]:
    """The subject map's SSM parameter and S3 bucket (``ingest.subject_map``)."""
    ingest = context.section
    parameter = "/" + (ingest.ssm_parameter if ingest else "").lstrip("/")
    return {
        "ingest.subject_map_parameter_arn": f"arn:aws:ssm:{context.region}:{context.account}:parameter{parameter}",
        "ingest.subject_map_bucket_arn": f"arn:aws:s3:::{(ingest.s3_bucket if ingest else '') or '*'}",
    }


DATASET = DataSet(
    name="ingest",
    title="De-identified ingest",
    settings=settings.parse,
    role=RolePolicy(values=policy_values),
    services=("s3", "ssm"),
    example_buckets=("clinical-ingest-landing", "clinical-ingest-archive"),
)
