"""Helpers of the ingest tests: generated patient folders: mixed-case names, times in names and EDF headers, nested folders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from job_helpers.ingest.connect import map_storage
from job_helpers.ingest.keep import NOTHING_KEPT, Keep
from job_helpers.ingest.read import find_manifests, prepare
from job_helpers.ingest.sample_data import build_header
from job_helpers.ingest.subjects import ObjectSubjectStore
from job_helpers.ingest.write import Targets, ingest, save_codes
from job_helpers.storage import Storage

# folder name -> how the name is spelled in that patient's files.
PATIENTS = {
    "Smith_John": ("SMITH_JOHN", "john smith", "JohnSmith"),
    "maria LOPEZ": ("Lopez-Maria", "MARIA_lopez", "marialopez"),
    "Van Der Berg, Anna": ("anna_van_der_berg", "VANDERBERG ANNA", "Van-Der-Berg_Anna"),
}
# Words that identify a patient: none may appear anywhere the tests look.
SENSITIVE = ("smith", "john", "lopez", "maria", "berg", "anna")


def write_edf(
    path: Path,
    patient: str,
    recording: str,
    start: datetime,
    records: int = 4,
    duration_s: int = 1,
    signals: int = 2,
    samples_per_record: int = 64,
) -> None:
    """Write a small, valid EDF file with a deterministic 16-bit signal."""
    header = build_header(patient, recording, start, records, duration_s, signals, samples_per_record)
    sample = bytes((i * 37 + 11) % 256 for i in range(2 * samples_per_record))
    with open(path, "wb") as handle:
        handle.write(header)
        for _ in range(records * signals):
            handle.write(sample)


def tal(onset: str, *texts: str, duration: str | None = None) -> bytes:
    """One time-stamped annotation list: ``+onset[\x15duration]\x14text\x14…\x00``."""
    stamp = onset + (f"\x15{duration}" if duration is not None else "")
    return (stamp + "\x14" + "".join(f"{text}\x14" for text in texts) + "\x00").encode("utf-8")


def write_edf_plus(
    path: Path,
    start: datetime,
    areas: Sequence[Sequence[bytes]],
    *,
    patient: str = "MCH-0234567 F 02-MAY-1951 Smith_John",
    recording: str = "Startdate 02-MAR-2024 EEG-1234 Dr_Weiss Nihon",
    kind: str = "edf",
    reserved: str = "EDF+C",
    eeg_labels: Sequence[str] = ("EEG Fp1-Ref", "EEG Cz-Ref"),
    area_samples: int = 60,
    transducer: str = "AgAgCl electrode",
) -> None:
    """An EDF+/BDF+ recording: EEG signals, then one annotation signal per entry of ``areas[record]``.

    ``areas[r][c]`` holds the TALs of annotation signal ``c`` in data record ``r`` (zero-padded).
    """
    channels = len(areas[0])
    label = "BDF Annotations" if kind == "bdf" else "EDF Annotations"
    labels = [*eeg_labels, *[label] * channels]
    samples = [32] * len(eeg_labels) + [area_samples] * channels
    header = build_header(
        patient,
        recording,
        start,
        len(areas),
        1,
        len(labels),
        32,
        labels=labels,
        samples=samples,
        reserved=reserved,
        kind=kind,
        transducer=transducer,
    )
    width = 3 if kind == "bdf" else 2
    with open(path, "wb") as handle:
        handle.write(header)
        for record, texts in enumerate(areas):
            for signal in range(len(eeg_labels)):
                handle.write(bytes((record * 7 + signal * 13 + i) % 256 for i in range(32 * width)))
            for area in texts:
                assert len(area) <= area_samples * width, "TALs longer than the annotation signal"
                handle.write(area.ljust(area_samples * width, b"\0"))


def make_patient(folder: Path, spellings: tuple[str, str, str], day: int, large: int = 0) -> None:
    """One patient's recordings, out of order on disk, in nested folders."""
    a, b, c = spellings
    eeg = folder / "EEG"
    session = eeg / f"{b} session 2"
    video, reports = folder / "video", folder / f"reports {c}"
    for path in (eeg, session, video, reports):
        path.mkdir(parents=True)
    # EDF order comes from the header, not the name: "first" was recorded after "second".
    write_edf(
        eeg / f"{a}_first.edf", f"X F 01-JAN-1970 {a}", f"Startdate 0{day}-MAR-2024 EEG {b}", datetime(2024, 3, day, 14, 0, 0)
    )
    write_edf(eeg / f"{c}_second.EDF", f"{c}", "routine EEG", datetime(2024, 3, day, 9, 30, 0))
    write_edf(
        session / f"{b}_2024-03-0{day}_1000.edf",
        f"patient {b}",
        f"recorded for {a}",
        datetime(2024, 3, day + 1, 10, 0, 0),
        records=8 + large,
    )
    (video / f"{a}_20240301T101500.mp4").write_bytes(b"late video " * 100)
    (video / f"{b.lower()}_20240301T081500.mp4").write_bytes(b"early video " * 100)
    (reports / f"{c}-report-2024-03-01.txt").write_text("report text\n")
    (reports / "notes.txt").write_text("undated notes\n")


def make_src(root: Path) -> Path:
    for day, (folder, spellings) in enumerate(PATIENTS.items(), start=1):
        make_patient(root / folder, spellings, day)
    return root


def tree_digest(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file below root with its mode and content, to prove a run left it untouched."""
    return {str(p.relative_to(root)): (p.stat().st_mode, p.read_bytes()) for p in sorted(root.rglob("*")) if p.is_file()}


def assert_no_names(text: str, where: str) -> None:
    lowered = text.casefold()
    for word in SENSITIVE:
        assert word not in lowered, f"{word!r} found in {where}"


def run_ingest(src: Path, lake: tuple[Storage, str, str], map_file: Path, keep: Keep = NOTHING_KEPT):
    """The ingest command's steps on a lake (see the ``lake`` fixture): plan, save codes, ingest; returns (plan, result)."""
    storage, landing, archive_url = lake
    subjects = ObjectSubjectStore(map_storage(None, None), map_file.as_uri())
    plan, new = prepare(src, 1, subjects, keep, lambda code: find_manifests(storage, archive_url, "eeg", code), workers=2)
    save_codes(subjects, new)
    return plan, ingest(plan, src, Targets("eeg", landing, archive_url, None), storage, workers=2)
