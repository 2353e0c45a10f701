"""The de-identifying rename plan: a pure function of the scanned file tree and the subject codes.

Patient folders sit ``depth`` levels below ``src``; everything beneath one belongs to that patient.
Each file becomes ``<code>/<folders, name replaced>/<code>_<n>.<ext>``, where ``n`` numbers the
patient's files of one extension in recording order (EDF header start, else a time in the name,
else last, by path). Grouping folders above the patient folder are not carried into keys. Both EDF
identity fields are set to the code. A key or EDF header that still holds a word of the name after
that is refused (``NameLeakError``), so nothing of such a plan is uploaded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

from job_helpers.ingest import edf
from job_helpers.ingest.names import PatientName, subject_key, time_from_name


class PlanError(Exception):
    """The source tree cannot be planned safely; the message shows paths with names redacted."""


class NameLeakError(PlanError):
    """A key or EDF header would still hold a word of the patient's name; the message names the files, masked."""


@dataclass(frozen=True)
class Skipped:
    """An entry below ``src`` that is not ingested, and why (a symbolic link, a special file)."""

    path: PurePosixPath = field(repr=False)
    reason: str


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
    skipped: tuple[str, ...] = ()

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


def build_plan(
    files: Iterable[ScannedFile],
    codes: Mapping[str, str],
    depth: int = 1,
    new_keys: Iterable[str] = (),
    skipped: Iterable[Skipped] = (),
) -> Plan:
    """Rename every file of every patient; ``codes`` maps subject keys to 8-digit codes.

    ``skipped`` entries are carried into the plan, their paths masked, so that they are shown.
    """
    new_keys = set(new_keys)
    by_subject: dict[str, list[tuple[PurePosixPath, ScannedFile]]] = defaultdict(list)
    names: dict[str, list[PatientName]] = defaultdict(list)
    for folder, scanned in sorted(patient_folders(files, depth).items()):
        key = subject_key(folder.name)
        if key not in codes:
            raise PlanError("a patient folder has no subject code; assign codes for every subject_keys() entry first")
        names[key].append(PatientName(folder.name))
        by_subject[key].extend((folder, s) for s in scanned)
    subjects, leaks = [], []
    for key, members in by_subject.items():
        subject, leaked = _subject_plan(codes[key], key in new_keys, members, names[key])
        subjects.append(subject)
        leaks += leaked
    if leaks:
        raise NameLeakError(
            f"refusing to upload: {len(leaks)} file(s) would still carry a word of the patient's name after "
            "replacement (shown as ***). Rename them in a copy of src, or pass a --src without them:\n  "
            + "\n  ".join(sorted(leaks))
        )
    every_name = [name for found in names.values() for name in found]
    shown_skipped = tuple(
        f"{_mask(str(entry.path), _names_of(entry.path, depth) + every_name)} ({entry.reason})" for entry in skipped
    )
    return Plan(tuple(sorted(subjects, key=lambda s: s.code)), shown_skipped)


def _names_of(path: PurePosixPath, depth: int) -> list[PatientName]:
    return [PatientName(path.parts[depth - 1])] if len(path.parts) >= depth else []


def _mask(text: str, names: Iterable[PatientName]) -> str:
    for name in names:
        text = name.mask(text)
    return text


def _subject_plan(
    code: str, new: bool, members: list[tuple[PurePosixPath, ScannedFile]], names: list[PatientName]
) -> tuple[SubjectPlan, list[str]]:
    """One subject's files, and the (masked) files that would still carry a word of the name."""

    def rewrite(text: str) -> str:
        for name in names:
            text = name.replace(text, code)
        return text

    def redact(text: str) -> str:
        return _mask(text, names)

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

    planned, leaks = [], []
    for kind, entries in sorted(by_kind.items()):
        entries.sort(key=lambda e: (e[2] is None, e[2] or datetime.min, str(e[0]).casefold(), str(e[0])))
        for number, (inner, scanned, recorded, time_from) in enumerate(entries, start=1):
            folders = [rewrite(part) for part in inner.parent.parts]
            name = f"{code}_{number}.{kind}" if kind else f"{code}_{number}"
            key = str(PurePosixPath(code, *folders, name))
            patch = edf.with_identity(scanned.header, code) if scanned.header is not None else None
            header = (patch or scanned.header.raw).decode("ascii") if scanned.header is not None else ""
            if any(found.leaks(key) for found in names):
                leaks.append(f"{redact(str(scanned.path))}: landing key {redact(key)}")
            elif any(found.leaks(header) for found in names):
                leaks.append(f"{redact(str(scanned.path))}: EDF header")
            planned.append(
                PlannedFile(
                    source=scanned.path,
                    shown=redact(str(scanned.path)),
                    key=key,
                    kind=kind,
                    number=number,
                    size=scanned.size,
                    recorded=recorded,
                    time_from=time_from,
                    header_patch=patch,
                )
            )
    shown_folders = tuple(sorted({redact(str(folder)) for folder, _ in members}))
    return SubjectPlan(code, new, shown_folders, tuple(sorted(planned, key=lambda f: f.key))), leaks
