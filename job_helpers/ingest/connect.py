"""Build the storage and subject map ingest uses from resolved options and a boto3 session (clients made only when needed)."""

from __future__ import annotations

from typing import Any

from job_helpers.aws import client
from job_helpers.ingest.settings import IngestSettings
from job_helpers.ingest.subjects import FileSubjectStore, S3SubjectStore, SsmSubjectStore, SubjectStore
from job_helpers.storage import Storage

# Local landing and archive files are readable by the owner's group only, never world-writable.
FILE_MODE, FOLDER_MODE = 0o640, 0o750


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


def subject_store(options: IngestSettings, session: Any) -> SubjectStore:
    if options.map_file is not None:
        return FileSubjectStore(options.map_file)
    if options.map_store == "s3":
        return S3SubjectStore(client("s3", session), options.s3_bucket, options.s3_key, options.kms_key_arn)
    return SsmSubjectStore(client("ssm", session), options.ssm_parameter, options.kms_key_arn)
