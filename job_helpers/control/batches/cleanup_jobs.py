"""``cleanup``: delete the project's jobs whose latest run has ended, saying what became of each."""

from __future__ import annotations

from dataclasses import dataclass

from job_helpers.control.backends import make_backend
from job_helpers.control.batches import view
from job_helpers.control.batches.lookup import name_prefixes
from job_helpers.control.cleanup import SKIPPED, CleanupResult, cleanup
from job_helpers.control.context import CliContext
from job_helpers.control.renamed import lookalikes_line, untagged_lookalikes


@dataclass(frozen=True)
class CleanupRequest:
    """``cleanup``'s options as given."""

    dry_run: bool = False
    include_never_run: bool = False
    runner: str | None = None
    json: bool = False


def cleanup_jobs(context: CliContext, request: CleanupRequest) -> int:
    console = context.messages if request.json else context.console

    def report(result: CleanupResult) -> None:
        why = [result.reason] if result.action == SKIPPED else []
        why += [result.note] if result.note else []
        reason = f" ({'; '.join(why)})" if why else ""
        console.print(f"{result.action} - Name: {result.job_name}{reason}", markup=False, soft_wrap=True)

    backend = make_backend(context, request.runner)
    results = cleanup(
        backend,
        context.settings.tags,
        dry_run=request.dry_run,
        include_never_run=request.include_never_run,
        name_prefixes=name_prefixes(context.settings),
        on_result=report,
    )
    skipped = sum(result.action == SKIPPED for result in results)
    removed = len(results) - skipped
    verb = "would remove" if request.dry_run else "removed"
    console.print(f"{len(results)} project job(s): {removed} {verb}, {skipped} skipped", soft_wrap=True)
    lookalikes = untagged_lookalikes(backend, [result.job_name for result in results])
    if lookalikes:
        console.print(lookalikes_line(lookalikes, context.settings.tags), markup=False, soft_wrap=True)
    if request.json:
        rows = [{"job_name": r.job_name, "action": r.action, "reason": r.reason, "note": r.note} for r in results]
        view.print_json(
            {"dry_run": request.dry_run, "removed": removed, "skipped": skipped, "jobs": rows, "untagged_lookalikes": lookalikes}
        )
    return 0
