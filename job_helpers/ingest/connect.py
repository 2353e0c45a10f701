"""Build the storage and subject map ingest uses from resolved options and a boto3 session (clients made only when needed)."""

from __future__ import annotations

from typing import Any

from job_helpers.aws import client
from job_helpers.ingest.settings import IngestSettings
from job_helpers.ingest.subjects import ObjectSubjectStore, SsmSubjectStore, SubjectStore
from job_helpers.storage import Storage, file_url

# Local landing and archive files are readable by the owner's group only, never world-writable.
FILE_MODE, FOLDER_MODE = 0o640, 0o750
# The subject map is its owner's alone; on S3 it is always encrypted with SSE-KMS, by default with
# the AWS-managed key of the account's S3 (which KMS creates on first use).
MAP_FILE_MODE, MAP_FOLDER_MODE = 0o600, 0o700
AWS_MANAGED_S3_KEY = "alias/aws/s3"


def transfer_config(options: IngestSettings) -> Any:
    """Multipart above the threshold, in parts of the chunk size, ``max_workers`` requests at once.

    Patched EDF files are streamed, so the manager buffers their parts in memory: capping the
    buffered parts at ``max_workers`` keeps memory at about workers x chunk size, whatever the file size.
    """
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=options.multipart_threshold,
        multipart_chunksize=options.multipart_chunk,
        max_concurrency=options.max_workers,
    )
    config.max_in_memory_upload_chunks = options.max_workers
    return config


def object_storage(options: IngestSettings, session: Any) -> Storage:
    """The Storage of landing and archive: ingest's transfer sizes, SSE-KMS with the ingest key, private local files."""
    return Storage(
        session,
        transfer_config=transfer_config(options),
        kms_key_id=options.kms_key_arn,
        file_mode=FILE_MODE,
        folder_mode=FOLDER_MODE,
    )


def map_storage(session: Any, kms_key_id: str | None) -> Storage:
    """The Storage of the subject map: owner-only files locally, SSE-KMS on S3 with the given key, else aws/s3."""
    return Storage(
        session,
        kms_key_id=kms_key_id or AWS_MANAGED_S3_KEY,
        file_mode=MAP_FILE_MODE,
        folder_mode=MAP_FOLDER_MODE,
    )


def subject_store(options: IngestSettings, session: Any) -> SubjectStore:
    """The map file locally; on aws the S3 object, or the SSM parameter when config.yml says ``store: ssm``."""
    if options.map_file is None and options.map_store == "ssm":
        return SsmSubjectStore(client("ssm", session), options.ssm_parameter, options.kms_key_arn)
    url = file_url(options.map_file) if options.map_file is not None else f"s3://{options.s3_bucket}/{options.s3_key}"
    return ObjectSubjectStore(map_storage(session, options.kms_key_arn), url)
