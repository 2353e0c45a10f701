"""The rename plan: a pure function of the scanned file tree and the subject codes.

Patient folders sit ``depth`` levels below ``src``; everything beneath one belongs to that patient.
Each file becomes ``<code>/<folders, name replaced>/<code>_<n>.<ext>``, where ``n`` numbers the
patient's files of one extension in recording order (EDF header start, else a time in the name,
else last, by path). Grouping folders above the patient folder are not carried into keys.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Iterable, Mapping

from job_helpers.ingest import edf
from job_helpers.ingest.names import name_matcher, replace_name, subject_key, time_from_name

REDACTED = "***"


class PlanError(Exception):
    """The source tree cannot be planned safely; the message shows paths with names redacted."""


@dataclass(frozen=True)
class ScannedFile:
    """One source file as found: its path below ``src`` and, for EDF files, the parsed header."""

    path: PurePosixPath = field(repr=False)
    size: int
    header: edf.EdfHeader | None = field(default=None, repr=False)
    header_problem: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PlannedFile:
    """Where one source file goes; ``shown`` is the source path with the patient's name redacted."""

    source: PurePosixPath = field(repr=False)
    shown: str
    key: str
    kind: str
    number: int
    size: int
    recorded: datetime | None
    time_from: str
    header_patch: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SubjectPlan:
    code: str
    new: bool
    folders: tuple[str, ...]
    files: tuple[PlannedFile, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class Plan:
    subjects: tuple[SubjectPlan, ...]

    @property
    def files(self) -> list[PlannedFile]:
        return [f for subject in self.subjects for f in subject.files]

    @property
    def size(self) -> int:
        return sum(s.size for s in self.subjects)


def patient_folders(files: Iterable[ScannedFile], depth: int) -> dict[PurePosixPath, list[ScannedFile]]:
    """Group files by their patient folder, the folder ``depth`` levels below src."""
    if depth < 1:
        raise PlanError(f"--depth {depth}: patient folders are at least 1 level below src")
    groups: dict[PurePosixPath, list[ScannedFile]] = defaultdict(list)
    above = 0
    for scanned in files:
        if len(scanned.path.parts) <= depth:
            above += 1
            continue
        groups[PurePosixPath(*scanned.path.parts[:depth])].append(scanned)
    if above:
        raise PlanError(
            f"{above} file(s) sit above the patient folders ({depth} level(s) below src); "
            "move them into a patient folder or pass the --depth at which patient folders are"
        )
    return dict(groups)


def subject_keys(folders: Iterable[PurePosixPath]) -> set[str]:
    """The subject map keys the plan needs codes for."""
    return {subject_key(folder.name) for folder in folders}


def build_plan(files: Iterable[ScannedFile], codes: Mapping[str, str], depth: int = 1,
               new_keys: Iterable[str] = ()) -> Plan:
    """Rename every file of every patient; ``codes`` maps subject keys to 8-digit codes."""
    new_keys = set(new_keys)
    by_subject: dict[str, list[tuple[PurePosixPath, ScannedFile]]] = defaultdict(list)
    matchers: dict[str, list[re.Pattern[str]]] = defaultdict(list)
    for folder, scanned in sorted(patient_folders(files, depth).items()):
        key = subject_key(folder.name)
        if key not in codes:
            raise PlanError("a patient folder has no subject code; assign codes for every subject_keys() entry first")
        matchers[key].append(name_matcher(folder.name))
        by_subject[key].extend((folder, s) for s in scanned)
    subjects = []
    for key, members in by_subject.items():
        code = codes[key]
        subjects.append(_subject_plan(code, key in new_keys, members, matchers[key]))
    return Plan(tuple(sorted(subjects, key=lambda s: s.code)))


def _subject_plan(code: str, new: bool, members: list[tuple[PurePosixPath, ScannedFile]],
                  matchers: list[re.Pattern[str]]) -> SubjectPlan:
    def rewrite(text: str) -> str:
        for matcher in matchers:
            text = replace_name(text, matcher, code)
        return text

    def redact(text: str) -> str:
        for matcher in matchers:
            text = replace_name(text, matcher, REDACTED)
        return text

    by_kind: dict[str, list[tuple[PurePosixPath, ScannedFile, datetime | None, str]]] = defaultdict(list)
    problems = []
    for folder, scanned in members:
        inner = scanned.path.relative_to(folder)
        kind = inner.suffix[1:].lower()
        if scanned.header_problem:
            problems.append(f"{redact(str(scanned.path))}: {redact(scanned.header_problem)}")
            continue
        recorded, time_from = None, "none"
        if scanned.header is not None and scanned.header.start is not None:
            recorded, time_from = scanned.header.start, "header"
        elif (named := time_from_name(inner.name)) is not None:
            recorded, time_from = named, "name"
        by_kind[kind].append((inner, scanned, recorded, time_from))
    if problems:
        raise PlanError("EDF files whose headers cannot be checked for the name:\n  " + "\n  ".join(problems))

    planned = []
    for kind, entries in sorted(by_kind.items()):
        entries.sort(key=lambda e: (e[2] is None, e[2] or datetime.min, str(e[0]).casefold(), str(e[0])))
        for number, (inner, scanned, recorded, time_from) in enumerate(entries, start=1):
            folders = [rewrite(part) for part in inner.parent.parts]
            name = f"{code}_{number}.{kind}" if kind else f"{code}_{number}"
            planned.append(
                PlannedFile(
                    source=scanned.path,
                    shown=redact(str(scanned.path)),
                    key=str(PurePosixPath(code, *folders, name)),
                    kind=kind,
                    number=number,
                    size=scanned.size,
                    recorded=recorded,
                    time_from=time_from,
                    header_patch=edf.patched(scanned.header, rewrite) if scanned.header is not None else None,
                )
            )
    shown_folders = tuple(sorted({redact(str(folder)) for folder, _ in members}))
    return SubjectPlan(code, new, shown_folders, tuple(sorted(planned, key=lambda f: f.key)))
