"""The de-identifying plan: a pure function of the scanned file tree, the subject codes and ``ingest.keep``.

Patient folders sit ``depth`` levels below ``src``; everything beneath one belongs to that patient.
Keys are *built*, never cleaned from source text::

    <code>/<kept folders>/<code>_<YYYYMMDD>T<HHMMSS>_<n>.<type>   EDF/BDF with a start date and time
    <code>/<kept folders>/<code>_<n>.<type>                       every other file

The time is the EDF or BDF header's recording start. ``type`` comes from the content (``edf`` or
``bdf`` when the version field says so, whatever the file is called), else the extension when
``ingest.keep.extensions`` keeps it, else ``bin``. Kept folders are the folder names below the
patient folder that ``ingest.keep.folders`` keeps; every other folder and every file name is
dropped. ``n`` numbers the subject's files of one stem and type in recording order (header
start, else a time in the file name, else last, by path), skipping keys earlier ingests used.

EDF/BDF identity fields are set to the code and annotation texts replaced (``payload``). Every
text that leaves and was not built (kept folders and extensions, header fields, kept annotation
texts, and the keys themselves) is checked for the patient's name (``names.PatientName.refusal``: a
word of it, or letters of a script it cannot be compared in); a hit refuses the whole plan
(``NameLeakError``). Source files are shown only by position
(``locator``), so no printed plan or error holds a name.

``settle`` completes a plan with each file's SHA-256 (read by ``read.prepare``): a file whose
content an earlier manifest of the subject already lists keeps that key (an earlier key scheme
too), so a re-ingest never lands a second copy, and one that an earlier archive part holds is
not archived again (``archived_by``).
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import PurePosixPath

from job_helpers.ingest import edf
from job_helpers.ingest.keep import NOTHING_KEPT, Keep
from job_helpers.ingest.manifest import Manifest, ManifestFile, archived_copies
from job_helpers.ingest.names import PatientName, subject_key, time_from_name
from job_helpers.ingest.payload import Annotations, Deidentification

UNKNOWN_TYPE = "bin"
# Files named as a recording format that must then have its header: refused when they do not.
HEADER_SUFFIXES = frozenset({".edf", ".bdf"})


class PlanError(Exception):
    """The source tree cannot be planned safely; the message shows files by position, never by name."""


class NameLeakError(PlanError):
    """A text that would leave holds a word of the patient's name; the message names the files by position."""


@dataclass(frozen=True)
class Skipped:
    """An entry below ``src`` that is not ingested, and why (a symbolic link, a special file)."""

    path: PurePosixPath = field(repr=False)
    reason: str
    locator: str = ""


@dataclass(frozen=True)
class ScannedFile:
    """One source file as found: its path below ``src``, size, modified time, EDF/BDF header if its content has one.

    ``locator`` shows where it is without its name: ``#n`` per level, the n-th entry of that folder
    in byte order (``LC_ALL=C ls -A``).
    """

    path: PurePosixPath = field(repr=False)
    size: int
    header: edf.EdfHeader | None = field(default=None, repr=False)
    header_problem: str | None = field(default=None, repr=False)
    mtime_ns: int = 0
    locator: str = ""


@dataclass(frozen=True)
class PlannedFile:
    """Where one source file goes and how its bytes change; ``sha256`` is set by ``settle``.

    ``landed_by``: the latest earlier ingest that lists this content under this key;
    ``archived_by``: the ingest whose tar part already holds it (None: this ingest's part takes it).
    """

    source: PurePosixPath = field(repr=False)
    locator: str
    key: str
    kind: str
    size: int
    mtime_ns: int
    recorded: datetime | None
    time_from: str
    deid: Deidentification | None = field(default=None, repr=False)
    header_rewritten: bool = False
    folders: tuple[str, ...] = ()
    stem: str = ""
    sha256: str = ""
    landed_by: str | None = None
    archived_by: str | None = None


@dataclass(frozen=True)
class SubjectPlan:
    code: str
    new: bool
    folders: tuple[str, ...]
    files: tuple[PlannedFile, ...]
    names: tuple[PatientName, ...] = field(default=(), compare=False, repr=False)

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
    keep: Keep = NOTHING_KEPT,
) -> Plan:
    """Plan every file of every patient; ``codes`` maps subject keys to 8-digit codes.

    Raises ``PlanError`` for headers that cannot be read or checked and ``NameLeakError`` for a
    text that would leave holding a word of the name, listing every such file by its locator.
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
    subjects, problems, leaks = [], [], []
    for key, members in by_subject.items():
        subject, found_problems, found_leaks = _subject_plan(codes[key], key in new_keys, members, names[key], keep)
        subjects.append(subject)
        problems += found_problems
        leaks += found_leaks
    if problems:
        raise PlanError(
            "files whose EDF/BDF data cannot be checked for the name (shown by position):\n  " + "\n  ".join(problems)
        )
    _refuse(leaks)
    shown_skipped = tuple(f"{entry.locator} ({entry.reason})" for entry in skipped)
    return Plan(tuple(sorted(subjects, key=lambda s: s.code)), shown_skipped)


def settle(plan: Plan, digests: Mapping[PurePosixPath, str], landed: Mapping[str, Sequence[Manifest]]) -> Plan:
    """The plan with every file's SHA-256; files whose content a subject's earlier manifest lists keep that key.

    ``landed`` holds each known subject's manifests, oldest first; a content listed twice takes
    the latest manifest's key. New files skip every key an earlier manifest used, so a changed
    file lands beside its earlier version instead of over it. A kept key whose content an earlier
    tar part holds names that part's ingest in ``archived_by``.
    """
    subjects, leaks = [], []
    for subject in plan.subjects:
        settled, found_leaks = _settled_subject(subject, digests, landed.get(subject.code, ()))
        subjects.append(settled)
        leaks += found_leaks
    _refuse(leaks)
    return replace(plan, subjects=tuple(subjects))


def _settled_subject(
    subject: SubjectPlan, digests: Mapping[PurePosixPath, str], manifests: Sequence[Manifest]
) -> tuple[SubjectPlan, list[str]]:
    """One subject of ``settle``: earlier keys kept for contents its manifests list, fresh keys numbered past every used one."""
    taken = {f.key for manifest in manifests for f in manifest.files}
    reused, leaks = _reused_keys(subject, digests, _listed_contents(manifests), archived_copies(manifests))
    used = {planned.key for planned in reused.values()}
    fresh = [replace(f, sha256=digests[f.source]) for f in _recording_order(subject.files) if f.source not in reused]
    files = list(reused.values()) + _numbered(subject.code, fresh, taken | used)
    return replace(subject, files=tuple(sorted(files, key=lambda f: f.key))), leaks


def _listed_contents(manifests: Sequence[Manifest]) -> dict[tuple[str, int], list[tuple[str, str]]]:
    """Each (SHA-256, size) the manifests list, with the (key, ingest) pairs that listed it, the latest manifest first."""
    earlier: dict[tuple[str, int], list[tuple[str, str]]] = defaultdict(list)
    for manifest in reversed(manifests):
        for listed in manifest.files:
            if (listed.key, manifest.ingest_id) not in earlier[(listed.sha256, listed.size)]:
                earlier[(listed.sha256, listed.size)].append((listed.key, manifest.ingest_id))
    return earlier


def _reused_keys(
    subject: SubjectPlan,
    digests: Mapping[PurePosixPath, str],
    earlier: Mapping[tuple[str, int], list[tuple[str, str]]],
    held: Mapping[ManifestFile, Manifest],
) -> tuple[dict[PurePosixPath, PlannedFile], list[str]]:
    """The files whose content an earlier manifest lists, each on the first of its earlier keys not yet reused,
    and the (located) files whose earlier key holds a word of the name."""
    used: set[str] = set()
    reused: dict[PurePosixPath, PlannedFile] = {}
    leaks = []
    for planned in _recording_order(subject.files):
        sha256 = digests[planned.source]
        candidates = [c for c in earlier.get((sha256, planned.size), []) if c[0] not in used]
        if not candidates:
            continue
        key, ingest = candidates[0]
        used.add(key)
        part = held.get(ManifestFile(key, sha256, planned.size))
        archived_by = part.ingest_id if part else None
        reused[planned.source] = replace(planned, key=key, sha256=sha256, landed_by=ingest, archived_by=archived_by)
        if any(name.leaks(key) for name in subject.names):
            leaks.append(
                f"{planned.locator}: in landing under a key of ingest {ingest} (written before keys were built) "
                f"that holds a word of the name; delete that object and the manifest of ingest {ingest}, then rerun"
            )
    return reused, leaks


def _refuse(leaks: list[str]) -> None:
    """Raise ``NameLeakError`` listing each file once (``leaks`` are ``<locator>: <what leaks>`` lines)."""
    by_file: dict[str, list[str]] = defaultdict(list)
    for leak in leaks:
        locator, _, what = leak.partition(": ")
        if what not in by_file[locator]:
            by_file[locator].append(what)
    if by_file:
        raise NameLeakError(
            f"refusing to upload: {len(by_file)} file(s) would carry a word of the patient's name or text the name check "
            "cannot compare with it (files shown by "
            "position, #n = n-th entry of its folder in `LC_ALL=C ls -A` order). Narrow ingest.keep in "
            "config.yml, or pass a --src without them:\n  "
            + "\n  ".join(f"{locator}: {'; '.join(whats)}" for locator, whats in sorted(by_file.items()))
        )


def _recording_order(files: Iterable[PlannedFile]) -> list[PlannedFile]:
    """By type, then recording time (undated last), then source path."""
    return sorted(
        files,
        key=lambda f: (f.kind, f.recorded is None, f.recorded or datetime.min, str(f.source).casefold(), str(f.source)),
    )


def _numbered(code: str, files: list[PlannedFile], taken: set[str]) -> list[PlannedFile]:
    """Number the files (in order) per stem and type, skipping every key in ``taken``."""
    taken = set(taken)
    last: dict[tuple[str, str], int] = defaultdict(int)
    numbered = []
    for planned in files:
        number = last[(planned.stem, planned.kind)] + 1
        while (key := str(PurePosixPath(code, *planned.folders, f"{planned.stem}_{number}.{planned.kind}"))) in taken:
            number += 1
        last[(planned.stem, planned.kind)] = number
        taken.add(key)
        numbered.append(replace(planned, key=key))
    return numbered


def _subject_plan(
    code: str, new: bool, members: list[tuple[PurePosixPath, ScannedFile]], names: list[PatientName], keep: Keep
) -> tuple[SubjectPlan, list[str], list[str]]:
    """One subject's files; and the (located) files that cannot be checked, and those that would leak the name."""

    def leaking(text: str) -> str | None:
        return next(filter(None, (name.refusal(text) for name in names)), None)

    planned, problems, leaks = [], [], []
    for folder, scanned in members:
        file, problem, found_leaks = _planned_file(folder, scanned, code, keep, leaking)
        leaks += found_leaks
        if file is None:
            problems.append(f"{scanned.locator}: {problem}")
        else:
            planned.append(file)
    files = _numbered(code, _recording_order(planned), set())
    leaks += [f"{f.locator}: its landing key {why}" for f in files if (why := leaking(f.key))]
    shown_folders = tuple(sorted({_folder_locator(scanned, folder) for folder, scanned in members}))
    subject = SubjectPlan(code, new, shown_folders, tuple(sorted(files, key=lambda f: f.key)), tuple(names))
    return subject, problems, sorted(set(leaks))


def _planned_file(
    folder: PurePosixPath, scanned: ScannedFile, code: str, keep: Keep, leaking: Callable[[str], str | None]
) -> tuple[PlannedFile | None, str | None, list[str]]:
    """One file's plan (no key yet), or None and why it cannot be checked; and the (located) texts it would leak."""
    inner = scanned.path.relative_to(folder)
    where = scanned.locator
    if scanned.header_problem:
        return None, scanned.header_problem, []
    if scanned.header is None and inner.suffix.lower() in HEADER_SUFFIXES:
        return None, "named as EDF/BDF but its content has no EDF or BDF version field", []
    folders = tuple(unicodedata.normalize("NFC", part) for part in inner.parent.parts if keep.folder(part))
    leaks = [f"{where}: a folder kept by ingest.keep.folders {why}" for part in folders if (why := leaking(part))]
    deid, rewritten = None, False
    if scanned.header is not None:
        kind = scanned.header.kind
        deid, rewritten, problem, leaked = _deidentification(scanned, code, keep, leaking)
        if problem:
            return None, problem, leaks
        leaks += [f"{where}: {leak}" for leak in leaked]
    else:
        kind = _kept_extension(inner, keep)
        if kind != UNKNOWN_TYPE and (why := leaking(kind)):
            leaks.append(f"{where}: an extension kept by ingest.keep.extensions {why}")
    recorded, time_from, stem = _recording_time(scanned, inner, code)
    file = PlannedFile(
        source=scanned.path,
        locator=where,
        key="",
        kind=kind,
        size=scanned.size,
        mtime_ns=scanned.mtime_ns,
        recorded=recorded,
        time_from=time_from,
        deid=deid,
        header_rewritten=rewritten,
        folders=folders,
        stem=stem,
    )
    return file, None, leaks


def _kept_extension(inner: PurePosixPath, keep: Keep) -> str:
    """A file's type without an EDF/BDF header: its extension if ingest.keep.extensions keeps it, else UNKNOWN_TYPE."""
    suffix = unicodedata.normalize("NFC", inner.suffix[1:]).lower()
    return suffix if suffix and keep.extension(suffix) else UNKNOWN_TYPE


def _recording_time(scanned: ScannedFile, inner: PurePosixPath, code: str) -> tuple[datetime | None, str, str]:
    """When the file was recorded and where that came from (its header, else its name, else none), and its key's stem:
    the code, with the header's start time when there is one."""
    if scanned.header is not None and scanned.header.start is not None:
        recorded = scanned.header.start
        return recorded, "header", f"{code}_{recorded:%Y%m%dT%H%M%S}"
    named = time_from_name(inner.name)
    return named, "name" if named is not None else "none", code


def _folder_locator(scanned: ScannedFile, folder: PurePosixPath) -> str:
    return "/".join(scanned.locator.split("/")[: len(folder.parts)])


def _deidentification(
    scanned: ScannedFile, code: str, keep: Keep, leaking: Callable[[str], str | None]
) -> tuple[Deidentification | None, bool, str | None, list[str]]:
    """The header with identity fields set to the code, the annotation layout, and what cannot be checked or leaks."""
    header = scanned.header
    assert header is not None
    patched = edf.with_identity(header, code)
    checked = edf.parse_header(patched) if patched is not None else header
    leaked = [f"EDF header field '{name}' {why}" for name, text in checked.text_fields() if (why := leaking(text))]
    channels = header.annotation_channels()
    found = None
    if channels:
        data = scanned.size - header.header_bytes
        records = header.records if header.records >= 0 else data // max(1, header.record_size)
        if header.record_size <= 0 or data != records * header.record_size:
            return None, False, "its data records do not fill the file exactly, so its annotations cannot all be checked", []
        found = Annotations(header.header_bytes, header.record_size, records, channels, keep.annotation, leaking)
    return Deidentification(checked.raw, found), patched is not None, None, leaked
