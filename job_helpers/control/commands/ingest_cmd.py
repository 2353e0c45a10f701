"""`ingest`, `restore` and `verify`: de-identified raw files into landing and deep archive, and back.

Output shows subject codes, built keys, counts and checksums only; source files are shown by
position (``#n`` per level), never by name.
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from job_helpers.backoff import DeadlinePassed
from job_helpers.control import output
from job_helpers.control.aws_errors import SETUP, credentials_expired
from job_helpers.control.config import ConfigError, refuse_examples
from job_helpers.control.context import CliContext
from job_helpers.control.failures import UsageError
from job_helpers.control.output import ProgressText
from job_helpers.ingest.connect import object_storage, subject_store
from job_helpers.ingest.manifest import Manifest
from job_helpers.ingest.names import PatientNameError
from job_helpers.ingest.read import SourceError, find_manifests, prepare
from job_helpers.ingest.restore import (
    ArchiveRestore,
    Chosen,
    PartState,
    RestoreError,
    archive_parts,
    choose_manifest,
    restore_archive,
    restore_landing,
    resume_folder,
    wait_for_archive,
)
from job_helpers.ingest.settings import IngestSettings
from job_helpers.ingest.subjects import SubjectMapError, SubjectStore
from job_helpers.ingest.transform import Plan, PlanError, PlannedFile
from job_helpers.ingest.verify import verify
from job_helpers.ingest.write import IngestResult, SubjectResult, Targets, ingest, save_codes
from job_helpers.storage import Storage


def register(subparsers: argparse._SubParsersAction) -> None:
    command = subparsers.add_parser("ingest", help="de-identify a folder of patient folders into landing and archive")
    command.add_argument("--src", required=True, type=Path, help="folder holding one folder per patient")
    command.add_argument("--dataset", required=True, help="ingest data set, e.g. eeg (see ingest.<name> in `paths`)")
    command.add_argument("--depth", type=int, help="levels below src at which patient folders sit (default: config)")
    command.add_argument("--workers", type=int, help="files hashed and uploaded at once (default: config)")
    command.add_argument("--dry-run", action="store_true", help="print the full rename plan; change nothing")
    command.set_defaults(handler=run_ingest)

    command = subparsers.add_parser("restore", help="restore one subject from landing or archive into a folder")
    command.add_argument("--subject", required=True, help="8-digit subject code")
    command.add_argument("--dataset", required=True, help="ingest data set, e.g. eeg")
    command.add_argument("--dest", required=True, type=Path, help="folder to restore into (files must not exist yet)")
    command.add_argument(
        "--from",
        dest="source",
        choices=("landing", "archive"),
        default="landing",
        help="landing (default) or archive (aws: request, then rerun until restored)",
    )
    command.add_argument("--ingest", help="ingest id to restore (default: the subject's latest)")
    command.add_argument("--wait", action="store_true", help="archive: poll with backoff until restored")
    command.add_argument("--timeout-minutes", type=float, default=2880.0, help="how long --wait polls (default 48 h)")
    command.set_defaults(handler=run_restore)

    command = subparsers.add_parser("verify", help="compare every manifest of a data set with landing and archive")
    command.add_argument("--dataset", required=True, help="ingest data set, e.g. eeg")
    command.add_argument("--json", action="store_true", help="print the counts and problems as JSON (nothing else)")
    command.set_defaults(handler=run_verify)


def _options(context: CliContext, dataset: str) -> tuple[IngestSettings, str]:
    """The ``ingest:`` settings (parsed with config.yml) and the landing URL of ``dataset``."""
    options = context.settings.section("ingest")
    if options is None:
        raise ConfigError("config.yml has no ingest: section; add one (see README, De-identified ingest)")
    return options, options.landing_url(dataset)


class _RichProgress:
    """Bytes and files per phase, updated from the upload threads."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.lock = threading.Lock()
        self.task = TaskID(0)
        self.files = self.total_files = 0

    def start(self, phase: str, files: int, size: int) -> None:
        with self.lock:
            self.files, self.total_files = 0, files
            self.task = self.progress.add_task(phase, total=size, files=f"0/{files}")

    def advance(self, size: int) -> None:
        self.progress.update(self.task, advance=size)

    def file_done(self) -> None:
        with self.lock:
            self.files += 1
            self.progress.update(self.task, files=f"{self.files}/{self.total_files}")


def _progress(context: CliContext) -> Progress:
    return Progress(
        ProgressText("{task.description:<8}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        ProgressText("{task.fields[files]} files"),
        TimeElapsedColumn(),
        console=context.console,
    )


def print_plan(context: CliContext, plan: Plan, dry_run: bool = False) -> None:
    for subject in plan.subjects:
        status = "known code" if not subject.new else ("new: code drawn at ingest" if dry_run else "new code")
        table = Table(
            title=output.text(
                f"subject {subject.code} ({status}): {len(subject.files)} file(s) from folder(s) {', '.join(subject.folders)}"
            ),
            title_justify="left",
        )
        for column in ("source (by position)", "landing key", "order from", "EDF/BDF header", "archive"):
            table.add_column(column, overflow="fold")
        for planned in subject.files:
            table.add_row(
                output.text(planned.locator), output.text(planned.key), _order(planned), _header(planned), _archive(planned)
            )
        context.console.print(table)
    if plan.skipped:
        context.console.print(output.text(f"not ingested ({len(plan.skipped)}):", "yellow"))
        for entry in plan.skipped:
            context.console.print(f"  {entry}")


def _order(planned: PlannedFile) -> str:
    return f"landed by ingest {planned.landed_by}" if planned.landed_by else planned.time_from


def _archive(planned: PlannedFile) -> str:
    return f"in the part of ingest {planned.archived_by}" if planned.archived_by else "this ingest's part"


def _header(planned: PlannedFile) -> str:
    if planned.deid is None:
        return ""
    done = ["identity set to code" if planned.header_rewritten else "identity kept (already the code)"]
    if planned.deid.annotations is not None:
        done.append(f"annotations of {len(planned.deid.annotations.channels)} signal(s) rewritten")
    return "; ".join(done)


def run_ingest(args: argparse.Namespace, context: CliContext) -> int:
    if not args.dry_run:
        refuse_examples(context.settings)
    options, landing_url = _options(context, args.dataset)
    workers = args.workers or options.max_workers
    subjects = subject_store(options, context.boto3_session)
    storage = object_storage(options, context.boto3_session)
    plan, new = _plan(args, options, subjects, storage, workers)
    print_plan(context, plan, args.dry_run)
    summary = f"{len(plan.subjects)} subject(s) ({len(new)} new), {len(plan.files)} file(s), {plan.size:,} bytes"
    if args.dry_run:
        context.console.print(f"dry run: {summary}; nothing was changed (new codes are drawn when the ingest runs)")
        return 0
    if not plan.files:
        raise UsageError(f"--src {args.src}: no files found in patient folders; nothing to ingest")
    try:
        save_codes(subjects, new)
    except SubjectMapError as error:
        raise UsageError(str(error)) from error
    targets = Targets(args.dataset, landing_url, options.archive_url, options.archive_storage_class)
    with _progress(context) as bar:
        result = ingest(plan, args.src.resolve(), targets, storage, workers, _RichProgress(bar))
    print_result(context, result)
    if _print_problems(context, result):
        return 1
    context.console.print(f"ingested {summary} into {landing_url}")
    return 0


def _plan(
    args: argparse.Namespace, options: IngestSettings, subjects: SubjectStore, storage: Storage, workers: int
) -> tuple[Plan, dict[str, str]]:
    """The files to ingest by subject and the subjects new to the map; a bad source or map is bad input."""

    def history(code: str) -> list[Manifest]:
        return find_manifests(storage, options.archive_url, args.dataset, code)

    depth = args.depth or options.depth
    try:
        return prepare(args.src.resolve(), depth, subjects, options.keep, history, workers, dry_run=args.dry_run)
    except (PlanError, SourceError, SubjectMapError, PatientNameError) as error:
        raise UsageError(str(error)) from error


def _print_problems(context: CliContext, result: IngestResult) -> bool:
    """Each file that changed while it was ingested and each archive part holding other bytes, then one error line;
    True when there was any (those subjects got no manifest)."""
    for failure in result.failures:
        context.console.print(output.text(f"  subject {failure.code}: {failure.locator} -> {failure.key}: {failure.reason}"))
    for conflict in result.conflicts:
        context.console.print(output.text(f"  {conflict}"))
    if not (result.failures or result.conflicts):
        return False
    problems = [
        f"{len(result.failures)} file(s) changed while they were ingested (rerun once the files are complete)"
        if result.failures
        else "",
        f"{len(result.conflicts)} archive part(s) found holding other bytes and left as they are" if result.conflicts else "",
    ]
    output.error("; ".join(p for p in problems if p) + ": those subjects got no manifest (other subjects are complete)")
    return True


def print_result(context: CliContext, result: IngestResult) -> None:
    table = Table(title="ingest", title_justify="left")
    for column in ("subject", "ingest id", "uploaded", "already there", "bytes uploaded", "archive part"):
        table.add_column(column, justify="right" if column in ("uploaded", "already there", "bytes uploaded") else "left")
    for subject in result.subjects:
        table.add_row(
            subject.code,
            subject.ingest_id,
            str(subject.uploaded),
            str(subject.skipped),
            f"{subject.uploaded_bytes:,}",
            _part(subject),
        )
    context.console.print(table)


def _part(subject: SubjectResult) -> str:
    if not subject.archived:
        return "none: nothing new"
    return f"{subject.archived} file(s), " + ("written" if subject.archive_uploaded else "already there")


def run_restore(args: argparse.Namespace, context: CliContext) -> int:
    if not (args.subject.isdigit() and len(args.subject) == 8):
        raise UsageError(f"--subject {args.subject!r}: give the 8-digit subject code")
    options, landing_url = _options(context, args.dataset)
    storage = object_storage(options, context.boto3_session)
    dest = args.dest.resolve()
    try:
        chosen = choose_manifest(storage, options.archive_url, args.dataset, args.subject, args.ingest)
        if args.source == "landing":
            placed = restore_landing(chosen.manifest, storage, landing_url, dest)
            context.console.print(f"restored {len(placed)} file(s) of subject {args.subject} from landing into {dest}")
            return 0
        return _restore_archive(args, context, options, chosen, storage, dest)
    except RestoreError as error:
        output.error(error)
        return 1


def _restore_archive(
    args: argparse.Namespace, context: CliContext, options: IngestSettings, chosen: Chosen, storage: Storage, dest: Path
) -> int:
    """Step (or, with ``--wait``, poll) the archive restore; credentials that expire on the way stop it resumably."""
    shown: dict[str, str] = {}

    def pending(outcome: ArchiveRestore, next_step: str) -> None:
        changed = [part for part in outcome.parts if shown.get(part.url) != part.state]
        shown.update((part.url, part.state) for part in outcome.parts)
        for part in changed:
            context.console.print(output.text(f"archive part {part.url}: {_state(part)}"))
        context.console.print(f"{_tally(outcome.parts)}; {next_step}")

    if args.wait and options.archive_storage_class:
        context.console.print(
            f"restoring {len(archive_parts(chosen, options.archive_url))} archive part(s) of subject {args.subject}, "
            f"polling for up to {args.timeout_minutes / 60:g} h: a Deep Archive restore takes up to 12 h (Standard) or "
            "48 h (Bulk), longer than SSO or assumed-role credentials last (1 to 12 h). If they expire, log in again "
            "and run the same command: it resumes where it stopped"
        )
    try:
        if args.wait:
            outcome = wait_for_archive(
                chosen,
                storage,
                options.archive_url,
                dest,
                args.timeout_minutes * 60,
                lambda found: pending(found, "polling"),
                options.restore_days,
                options.restore_tier,
            )
        else:
            outcome = restore_archive(chosen, storage, options.archive_url, dest, options.restore_days, options.restore_tier)
            if outcome.state != "restored":
                pending(outcome, "run the same command again later to continue")
                return 0
    except DeadlinePassed:
        output.error(f"timed out waiting for the archive restore; later, {_resume_hint(dest, chosen)}")
        return 1
    except Exception as error:
        if not credentials_expired(error):
            raise
        output.error(f"the AWS credentials expired while restoring ({error}); log in again and {_resume_hint(dest, chosen)}")
        return SETUP
    context.console.print(
        f"restored {len(outcome.files)} file(s) of subject {args.subject} from {len(outcome.parts)} archive part(s) "
        f"(checksums verified) into {dest}"
    )
    return 0


def _state(part: PartState) -> str:
    return {
        "requested": "restore requested",
        "in-progress": "restore in progress",
        "copied": "restored and copied",
    }[part.state]


def _tally(parts: tuple[PartState, ...]) -> str:
    counts = {state: sum(1 for part in parts if part.state == state) for state in ("copied", "in-progress", "requested")}
    return (
        f"{counts['copied']} of {len(parts)} archive part(s) copied, {counts['in-progress'] + counts['requested']} being restored"
    )


def _resume_hint(dest: Path, chosen: Chosen) -> str:
    folder = resume_folder(dest, chosen.manifest)
    copied = len(list(folder.glob("*.tar"))) if folder.is_dir() else 0
    return (
        "run the same command again: restores already requested are not requested again, and the "
        f"{copied} part(s) already copied into {folder} are not copied again"
    )


def run_verify(args: argparse.Namespace, context: CliContext) -> int:
    options, landing_url = _options(context, args.dataset)
    report = verify(args.dataset, object_storage(options, context.boto3_session), landing_url, options.archive_url)
    if args.json:
        output.json_data(
            {
                "dataset": args.dataset,
                "manifests": report.manifests,
                "objects": report.objects,
                "problems": [{"problem": p.kind, "object": p.url, "detail": p.detail} for p in report.problems],
            }
        )
        return 1 if report.problems else 0
    if report.problems:
        table = Table(title=f"{len(report.problems)} problem(s)", title_justify="left")
        for column in ("problem", "object", "detail"):
            table.add_column(column, overflow="fold")
        for problem in report.problems:
            table.add_row(problem.kind, problem.url, problem.detail)
        context.console.print(table)
    context.console.print(
        f"{report.manifests} manifest(s), {report.objects} object(s) checked, {len(report.problems)} problem(s)"
    )
    return 1 if report.problems else 0
