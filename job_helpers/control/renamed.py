"""The project's jobs from before ``project.prefix`` or its tag changed: which are still in reach, and saying why.

A job keeps the name it was created with (``<name_prefix>-<batch>[-<from>-<to>]``), and the
project finds its jobs by the project tag, never by name. So after the prefix changed, the
earlier jobs are still the project's: status, retry and cleanup reach them and name them with
the prefix they carry. After the tag's value changed (it defaults to the prefix) they are not:
cleanup counts the jobs named as this tool names them without the project's tag, and a batch
asked for by id that carries another value of the tag says which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from job_helpers.control.plan import BATCH_TAG, JOB_TAG, prefix_and_batch
from job_helpers.control.runs import Backend, BatchStatus


def earlier_prefix(name: str, tags: Mapping[str, str], name_prefixes: Mapping[str, str]) -> str | None:
    """Why a project job is named with another prefix than its job's now (``name_prefixes``: job key → prefix), or None."""
    key, batch, parts = tags.get(JOB_TAG, ""), tags.get(BATCH_TAG), prefix_and_batch(name)
    if key not in name_prefixes or parts is None or parts[1] != batch or parts[0] == name_prefixes[key]:
        return None
    return f"named with an earlier prefix, {parts[0]}: jobs.{key}.name_prefix (from project.prefix) is now {name_prefixes[key]}"


def batch_notes(found: BatchStatus, name_prefixes: Mapping[str, str]) -> list[str]:
    """One line per earlier prefix the batch's jobs carry."""
    notes = {
        note
        for name, key in found.job_of.items()
        if (note := earlier_prefix(name, {JOB_TAG: key, BATCH_TAG: found.batch}, name_prefixes))
    }
    return [f"note: batch {found.batch}'s jobs are {note}; found by their tags" for note in sorted(notes)]


def missing_batch(backend: Backend, project_tags: Mapping[str, str], batch: str) -> str:
    """Why no project job carries ``batch``: a wrong id, or its jobs carry another value of the project's tag."""
    jobs = backend.tagged_jobs({BATCH_TAG: batch})
    other = sorted(
        {f"{key}={tags.get(key)}" for tags in jobs.values() for key, value in project_tags.items() if tags.get(key) != value}
    )
    if not other:
        return f"no project job carries batch {batch!r}: check the id, or omit --batch for the latest batch"
    return (
        f"no project job carries batch {batch!r}; its jobs carry {', '.join(other)} instead: if the project's tag "
        "changed since (project.tag.value, which defaults to project.prefix), pass --set project.tag.value=<that value>"
    )


def untagged_lookalikes(backend: Backend, project_jobs: Sequence[str]) -> dict[str, int]:
    """By name prefix, how many jobs named as this tool names them carry no project tag: cleanup leaves them alone."""
    found: dict[str, int] = {}
    for name in sorted(backend.all_jobs() - set(project_jobs)):
        parts = prefix_and_batch(name)
        if parts is not None:
            found[parts[0]] = found.get(parts[0], 0) + 1
    return found


def lookalikes_line(lookalikes: Mapping[str, int], project_tags: Mapping[str, str]) -> str:
    tag = ", ".join(f"{key}={value}" for key, value in project_tags.items())
    groups = ", ".join(f"{prefix}-… ({count})" for prefix, count in lookalikes.items())
    return (
        f"Left alone: {sum(lookalikes.values())} job(s) named as this tool names jobs but without the project's tag "
        f"{tag}: {groups}. If they are this project's from before project.tag.value changed (it defaults to "
        "project.prefix), run cleanup with --set project.tag.value=<their tag's value>"
    )
