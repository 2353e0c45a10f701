"""A job's command line as ``execute`` gives it, built from ``config.yml`` rather than written out by hand.

The job's default arguments are config.yml's for the local profile, resolved by the control plane's
own ``load_settings``; a test's values (its folders, a smaller limit, a value the job must refuse)
win over them as a run's arguments win over its job's, and must name an argument the job declares
there, so a misspelt one fails the test. A data set the test does not name resolves under a lake
root that is not a folder, so a job that reaches for it fails rather than writing into the checkout.
"""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path

from job_helpers.control.config import Settings, load_settings
from job_helpers.control.plan import FROM_ARGUMENT, TO_ARGUMENT

REPO = Path(__file__).resolve().parents[2]
NO_LAKE = "/dev/null/lake"


@functools.cache
def _local_settings() -> Settings:
    """config.yml for the local profile, read once: the suite never changes the repository's config.yml."""
    return load_settings(REPO / "config.yml", "local", environ={"LAKE_ROOT": NO_LAKE})


def job_argv(job: str, first: date | str | None = None, last: date | str | None = None, **arguments: str) -> list[str]:
    """``job``'s argv: its script, ``--JOB_NAME`` (the job's key), its config.yml arguments with ``arguments``
    over them (``max_workers="3"`` sets ``--max-workers``), then ``--from-date first --to-date last`` if given
    (as given: a test of the job's own date checks passes bad ones)."""
    spec = _local_settings().job(job)
    given = {f"--{name.replace('_', '-')}": value for name, value in arguments.items()}
    unknown = sorted(set(given) - set(spec.arguments))
    if unknown:
        raise KeyError(f"{job} declares no {', '.join(unknown)} in config.yml; it has {', '.join(spec.arguments)}")
    dates = {FROM_ARGUMENT: str(first), TO_ARGUMENT: str(last)} if first is not None or last is not None else {}
    resolved = {**spec.arguments, **given, **dates}
    return [str(REPO / spec.script), "--JOB_NAME", spec.key, *(part for pair in resolved.items() for part in pair)]
