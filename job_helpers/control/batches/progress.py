"""Progress bars while runs are created and started, and while they run: the waiting the batch commands show."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TimeElapsedColumn

from job_helpers.control.build import Artifact
from job_helpers.control.config import JobSpec
from job_helpers.control.output import ProgressText, TextConsole
from job_helpers.control.plan import PlannedRun
from job_helpers.control.runs import ENDED_STATES, SUCCEEDED, Backend, RunStatus, StartedRun, wait_for_runs


def start_runs(
    console: TextConsole,
    backend: Backend,
    job: JobSpec,
    artifact: Artifact,
    planned: Sequence[PlannedRun],
    tags: Mapping[str, str],
) -> list[StartedRun]:
    """Create and start the planned runs with a bar that goes away when they are started."""
    columns = (SpinnerColumn(), ProgressText("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("Creating and starting jobs", total=len(planned))
        return backend.start_runs(job, artifact, planned, tags, lambda _: progress.advance(task))


def wait(console: TextConsole, backend: Backend, started: Sequence[StartedRun]) -> list[RunStatus]:
    """Follow the runs until each has ended, counting them by state."""
    columns = (SpinnerColumn(), ProgressText("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("Waiting", total=len(started))

        def update(states: list[RunStatus]) -> None:
            counts: dict[str, int] = {}
            for state in states:
                counts[state.state] = counts.get(state.state, 0) + 1
            description = ", ".join(f"{count} {state.lower()}" for state, count in sorted(counts.items()))
            progress.update(task, completed=sum(s.state in ENDED_STATES for s in states), description=description)

        return wait_for_runs(backend, started, update)


def exit_status(final: Sequence[RunStatus]) -> int:
    """0 when every run succeeded, else 1."""
    return 0 if all(run.state == SUCCEEDED for run in final) else 1
