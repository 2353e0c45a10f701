"""publish.py on file:// and moto's S3: runs killed after every number of moves and deletes, then rerun."""

from __future__ import annotations

import pytest

from job_helpers import publish as publishing
from job_helpers.publish import PublishError, ShrinkGuard, ShrinkRefused, new_run_id, publish, staging_url
from job_helpers.storage import Storage

OLD = {
    "dt=1/part-a.parquet": "old 1a",
    "dt=1/part-b.parquet": "old 1b",
    "dt=2/part-00000.parquet": "old 2",
    "dt=3/part-c.parquet": "old 3",
    "dt=9/part-z.parquet": "not owned",
}
OWNED = ["dt=1/", "dt=2/", "dt=3/"]
SCOPE = "2024-03-01_2024-03-03"


class Killed(Exception):
    """The process died here."""


class DyingStorage:
    """A Storage that dies after ``budget`` object operations: each move, each key deleted."""

    def __init__(self, inner: Storage, budget: int) -> None:
        self.inner, self.budget, self.spent = inner, budget, 0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def _spend(self) -> None:
        if self.spent == self.budget:
            raise Killed(f"killed after {self.spent} operation(s)")
        self.spent += 1

    def move(self, source: str, target: str) -> None:
        self._spend()
        self.inner.move(source, target)

    def delete_many(self, urls) -> None:
        for url in urls:
            self._spend()
            self.inner.delete_many([url])


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path):
    if request.param == "local":
        return Storage(), tmp_path.as_uri() + "/table/"
    return request.getfixturevalue("s3_storage"), "s3://lake/table/"


def new_files(run_id: str) -> dict[str, str]:
    """What a run produces: Spark-like random names in dt=1, a fixed name in dt=2, nothing for dt=3."""
    return {f"dt=1/part-{run_id}.parquet": "new 1", "dt=2/part-00000.parquet": "new 2"}


def stage(storage: Storage, table: str, run_id: str, files: dict[str, str]) -> dict[str, set[str]]:
    staged: dict[str, set[str]] = {}
    for path, text in files.items():
        storage.write_text(staging_url(table, run_id) + path, text)
        folder, _, name = path.rpartition("/")
        staged.setdefault(folder + "/", set()).add(name)
    return staged


def contents(storage: Storage, table: str) -> dict[str, str]:
    return {o.url[len(table) :]: storage.read_text(o.url) for o in storage.list(table)}


def published(storage: Storage, table: str) -> dict[str, str]:
    return {path: text for path, text in contents(storage, table).items() if not path.startswith("_staging/")}


def test_a_publish_killed_after_any_operation_is_repaired_by_the_rerun(lake):
    storage, table = lake
    for budget in range(6):  # two moves and three deletes; 5 lets it finish
        for path, text in OLD.items():
            storage.write_text(table + path, text)
        killed = new_run_id(SCOPE)
        files = new_files(killed)
        staged = stage(storage, table, killed, files)
        try:
            publish(DyingStorage(storage, budget), table, killed, staged, OWNED)
        except Killed:
            pass
        seen = published(storage, table)
        for partition in ("dt=1/", "dt=2/"):
            old = {p: t for p, t in OLD.items() if p.startswith(partition)}
            new = {p: t for p, t in files.items() if p.startswith(partition)}
            assert old.items() <= seen.items() or new.items() <= seen.items(), (budget, partition, seen)
        assert seen["dt=9/part-z.parquet"] == "not owned"

        rerun = new_run_id(SCOPE)
        expected = {**new_files(rerun), "dt=9/part-z.parquet": "not owned"}
        publish(storage, table, rerun, stage(storage, table, rerun, new_files(rerun)), OWNED)
        assert contents(storage, table) == expected, budget
        for path in list(contents(storage, table)):
            storage.delete(table + path)


def test_staging_of_another_scope_is_kept_until_it_is_a_week_old(lake, monkeypatch):
    storage, table = lake
    other = new_run_id("2024-03-04_2024-03-04")
    stage(storage, table, other, {"dt=4/part-00000.parquet": "running elsewhere"})
    run = new_run_id(SCOPE)
    publish(storage, table, run, stage(storage, table, run, new_files(run)), OWNED)
    assert contents(storage, table)[f"_staging/{other}/dt=4/part-00000.parquet"] == "running elsewhere"
    monkeypatch.setattr(publishing, "ABANDONED_AFTER_S", -1)
    again = new_run_id(SCOPE)
    publish(storage, table, again, stage(storage, table, again, new_files(again)), OWNED)
    assert contents(storage, table) == new_files(again)


def test_the_shrink_guard_refuses_naming_the_table_and_sizes_and_changes_nothing(lake):
    storage, table = lake
    for path, text in OLD.items():
        storage.write_text(table + path, text * 100)
    run = new_run_id(SCOPE)
    staged = stage(storage, table, run, {"dt=1/part-00000.parquet": "tiny"})
    before = published(storage, table)
    with pytest.raises(
        ShrinkRefused,
        match=r"table/: this run would replace 4 file\(s\) of 2,200 bytes under 3 owned .* with 1 file\(s\) of 4 bytes.*--allow-shrink true",
    ):
        publish(storage, table, run, staged, OWNED, shrink_guard=ShrinkGuard())
    assert published(storage, table) == before
    publish(storage, table, run, staged, OWNED, shrink_guard=ShrinkGuard(allowed=True))
    assert published(storage, table) == {"dt=1/part-00000.parquet": "tiny", "dt=9/part-z.parquet": "not owned" * 100}


def test_a_whole_table_publish_keeps_its_staging_out_and_refuses_files_it_does_not_own(lake):
    storage, table = lake
    storage.write_text(table + "part-old.json", "old")
    storage.write_text(table + "_SUCCESS", "")
    run = new_run_id("all")
    publish(storage, table, run, stage(storage, table, run, {"part-new.json": "new"}), [""])
    assert contents(storage, table) == {"part-new.json": "new"}
    run = new_run_id("all")
    staged = stage(storage, table, run, {"dt=5/part.json": "x"})
    with pytest.raises(PublishError, match="outside the partitions the run owns, e.g. dt=5/part.json"):
        publish(storage, table, run, staged, OWNED)
    with pytest.raises(PublishError, match="staged file missing"):
        publish(storage, table, run, {"dt=1/": {"absent.json"}}, OWNED)
    assert published(storage, table) == {"part-new.json": "new"}
