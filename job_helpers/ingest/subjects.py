"""The subject map: patient (subject key) to random 8-digit code, kept where only the operator can read it.

Codes are drawn with ``secrets`` so they carry nothing about the patient or the order of arrival,
and are checked against every code already given so two patients never share one. The map itself
is never logged, printed or written next to the data: locally a mode-600 JSON file, on aws an S3
object encrypted with SSE-KMS in a versioned bucket (or, for up to about 250 subjects, an SSM
SecureString parameter). Every store refuses to write new codes over a map that changed since it
was read.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from job_helpers.ingest.names import PatientNameError, subject_key
from job_helpers.storage import Storage, WriteConflict, local_path, split_s3

log = logging.getLogger(__name__)

CODE_LOW, CODE_HIGH = 10_000_000, 99_999_999
CODE = re.compile(r"[0-9]{8}")
SSM_STANDARD_LIMIT, SSM_ADVANCED_LIMIT = 4096, 8192


class SubjectMapError(Exception):
    """The subject map cannot be read or written safely; the message says where and how to fix it."""


def draw_code() -> int:
    return CODE_LOW + secrets.randbelow(CODE_HIGH - CODE_LOW + 1)


def known_codes(stored: Mapping[str, str], keys: Iterable[str]) -> dict[str, str]:
    """The code of each of ``keys`` (subject keys) that the map holds, its entries compared as subject keys too.

    Entries written before names were normalised (an NFD folder from macOS, a title, an
    apostrophe, an umlaut) still find their patient. One patient under two codes is refused,
    naming the codes: the operator keeps one entry.
    """
    wanted = set(keys)
    found: dict[str, set[str]] = {}
    for entry, code in stored.items():
        try:
            key = subject_key(entry)
        except PatientNameError:
            continue
        if key in wanted:
            found.setdefault(key, set()).add(code)
    doubled = sorted(sorted(codes) for codes in found.values() if len(codes) > 1)
    if doubled:
        raise SubjectMapError(
            "the subject map gives one patient of this ingest several codes ("
            + "; ".join(", ".join(codes) for codes in doubled)
            + "): their entries spell one name differently (written before names were compared after "
            "normalisation). Keep one entry per patient in the map, then rerun; the other code's data stays under it"
        )
    return {key: codes.pop() for key, codes in found.items()}


def assign_codes(keys: Iterable[str], existing: Mapping[str, str], draw: Callable[[], int] = draw_code) -> dict[str, str]:
    """Codes for the keys the map ``existing`` does not hold (``known_codes``): new, distinct, never one already given."""
    taken = set(existing.values())
    known = known_codes(existing, keys)
    new: dict[str, str] = {}
    for key in sorted(set(keys) - set(known)):
        for _ in range(1000):
            code = f"{draw():08d}"
            if code not in taken and len(code) == 8:
                break
        else:
            raise SubjectMapError("could not draw an unused 8-digit code in 1000 tries; the map is nearly full")
        taken.add(code)
        new[key] = code
    return new


def placeholder_codes(keys: Iterable[str], existing: Mapping[str, str]) -> dict[str, str]:
    """Stand-ins (``<new-1>``, ``<new-2>``…) for the keys the map ``existing`` does not hold, for a dry run."""
    known = known_codes(existing, keys)
    return {key: f"<new-{n}>" for n, key in enumerate(sorted(set(keys) - set(known)), start=1)}


def _decode(text: str, where: str) -> dict[str, str]:
    try:
        document = json.loads(text)
        subjects = document["subjects"]
    except (ValueError, KeyError, TypeError) as error:
        raise SubjectMapError(f"{where}: not a subject map (expected JSON with a 'subjects' object)") from error
    if not isinstance(subjects, dict):
        raise SubjectMapError(f"{where}: not a subject map (expected JSON with a 'subjects' object)")
    # A code is the subject's folder and file names: blank, it put the files at the dataset's root; "../x" outside it.
    odd = [code for code in subjects.values() if not (isinstance(code, str) and CODE.fullmatch(code))]
    if odd:
        raise SubjectMapError(
            f"{where}: {len(odd)} subject code(s) not of 8 digits (not shown: the map is never printed); "
            "restore the map from its backup, or give those entries their 8-digit codes"
        )
    if len(set(subjects.values())) != len(subjects):
        raise SubjectMapError(f"{where}: two subjects share a code; restore the map from its backup")
    return dict(subjects)


def _encode(subjects: Mapping[str, str]) -> str:
    return json.dumps({"version": 1, "subjects": dict(sorted(subjects.items()))}, indent=1)


class SubjectMapConflict(SubjectMapError):
    """The map changed between reading it and writing new codes: another ingest ran at the same time."""


class SubjectStore(Protocol):
    def load(self) -> dict[str, str]: ...

    def add(self, new: Mapping[str, str]) -> None: ...


class _GuardedStore:
    """``load`` remembers which version of the map it read; ``add`` writes that version plus the new codes,
    and only if the stored map is still that version, so two ingests never overwrite each other's codes."""

    where = ""

    def __init__(self) -> None:
        self._subjects: dict[str, str] | None = None
        self._version: Any = None

    def _read(self) -> tuple[str | None, Any]:
        raise NotImplementedError

    def _write(self, text: str, version: Any) -> Any:
        """Write ``text`` if the stored map is ``version`` (None: absent); return the new version."""
        raise NotImplementedError

    def load(self) -> dict[str, str]:
        text, self._version = self._read()
        self._subjects = _decode(text, self.where) if text is not None else {}
        return dict(self._subjects)

    def add(self, new: Mapping[str, str]) -> None:
        if not new:
            return
        if self._subjects is None:
            self.load()
        assert self._subjects is not None
        taken = set(self._subjects.values())
        if set(new) & set(self._subjects) or set(new.values()) & taken:
            raise SubjectMapConflict(
                f"{self.where}: a new subject or code is already in the map; "
                "run the ingest again to plan with the map as it is now"
            )
        merged = {**self._subjects, **new}
        self._version = self._write(_encode(merged), self._version)
        self._subjects = merged
        log.info("subject map saved to %s: %d subject(s)", self.where, len(merged))

    def _conflict(self) -> SubjectMapConflict:
        return SubjectMapConflict(
            f"{self.where} changed since this ingest read it (another ingest at the same "
            "time?); nothing was uploaded: run the ingest again"
        )


class ObjectSubjectStore(_GuardedStore):
    """The map as one object in ``storage``, replaced only if unchanged since read (``Storage.write_if``).

    The Storage decides how it is kept (``connect.map_storage``: a mode-600 file in a mode-700 folder
    locally, SSE-KMS on S3); the store refuses a local map readable by others and, on S3, a bucket
    without versioning, so any earlier map can be recovered. It has no size limit.
    """

    def __init__(self, storage: Storage, url: str) -> None:
        super().__init__()
        self.storage, self.url = storage, url
        self.local = urlparse(url).scheme == "file"
        self.where = str(local_path(url)) if self.local else url
        self._bucket_checked = False

    def _read(self) -> tuple[str | None, Any]:
        if self.local:
            self._refuse_shared_file(local_path(self.url))
        elif not self._bucket_checked:
            self._refuse_unversioned_bucket(split_s3(self.url)[0])
            self._bucket_checked = True
        found = self.storage.read_versioned(self.url)
        return (found.data.decode("utf-8"), found.version) if found else (None, None)

    def _write(self, text: str, version: Any) -> Any:
        try:
            return self.storage.write_if(self.url, text.encode("utf-8"), version)
        except WriteConflict as error:
            raise self._conflict() from error

    @staticmethod
    def _refuse_shared_file(path: Path) -> None:
        if path.exists() and path.stat().st_mode & 0o077:
            raise SubjectMapError(f"{path}: the subject map is readable by others; run chmod 600 {path}")

    def _refuse_unversioned_bucket(self, bucket: str) -> None:
        status = self.storage.s3.get_bucket_versioning(Bucket=bucket).get("Status")
        if status != "Enabled":
            raise SubjectMapError(
                f"{self.where}: bucket {bucket} has versioning {(status or 'never enabled').lower()}; the subject "
                "map needs a versioned bucket so that any earlier map can be recovered. Run: aws s3api "
                f"put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled"
            )


class SsmSubjectStore(_GuardedStore):
    """An SSM SecureString parameter, for small maps only: a parameter holds at most 8 KB (advanced tier),
    about 250 subjects, and the map is refused beyond. Its version is checked before writing, which
    narrows but does not close the window in which two ingests could both write; the object store closes it."""

    def __init__(self, ssm: Any, name: str, kms_key_id: str | None = None) -> None:
        super().__init__()
        self.ssm, self.name, self.kms_key_id = ssm, name, kms_key_id
        self.where = f"SSM parameter {name}"

    def _read(self) -> tuple[str | None, Any]:
        try:
            parameter = self.ssm.get_parameter(Name=self.name, WithDecryption=True)["Parameter"]
        except self.ssm.exceptions.ParameterNotFound:
            return None, None
        return parameter["Value"], parameter["Version"]

    def _write(self, text: str, version: Any) -> Any:
        size = len(text.encode("utf-8"))
        if size > SSM_ADVANCED_LIMIT:
            raise SubjectMapError(
                f"{self.where}: the subject map would be {size:,} bytes ({len(json.loads(text)['subjects']):,} subjects); an SSM "
                f"parameter holds at most 8 KB ({SSM_ADVANCED_LIMIT:,} bytes, advanced tier). Nothing was uploaded. "
                "Keep the map in S3: set ingest.subject_map.store: s3 in config.yml and copy this parameter's "
                "value to the s3_object first (see README, De-identified ingest)"
            )
        if self._read()[1] != version:
            raise self._conflict()
        extra = {"KeyId": self.kms_key_id} if self.kms_key_id else {}
        tier = "Standard" if size <= SSM_STANDARD_LIMIT else "Advanced"
        response = self.ssm.put_parameter(
            Name=self.name, Value=text, Type="SecureString", Overwrite=version is not None, Tier=tier, **extra
        )
        return response["Version"]
