"""Conditional writes: a commit record changes only from the version its writer read."""

from __future__ import annotations

import threading

import pytest

from job_helpers.storage import Storage, WriteConflict, join


@pytest.fixture(params=["local", "s3"])
def root(request: pytest.FixtureRequest, tmp_path) -> tuple[Storage, str]:
    if request.param == "local":
        return Storage(), tmp_path.as_uri() + "/lake/"
    return request.getfixturevalue("s3_storage"), "s3://lake/"


def test_create_only_when_absent(root: tuple[Storage, str]) -> None:
    storage, base = root
    url = join(base, "index/manifest.json")
    assert storage.read_versioned(url) is None

    version = storage.write_if(url, b"first", None)

    with pytest.raises(WriteConflict, match="index/manifest.json: changed since it was read"):
        storage.write_if(url, b"second", None)
    current = storage.read_versioned(url)
    assert current is not None and (current.data, current.version) == (b"first", version)


def test_replace_only_from_the_version_read(root: tuple[Storage, str]) -> None:
    storage, base = root
    url = join(base, "index/manifest.json")
    storage.write_if(url, b"one", None)
    read_by_a = storage.read_versioned(url)
    read_by_b = storage.read_versioned(url)
    assert read_by_a is not None and read_by_b is not None

    new_version = storage.write_if(url, b"two by a", read_by_a.version)

    with pytest.raises(WriteConflict):
        storage.write_if(url, b"two by b", read_by_b.version)
    current = storage.read_versioned(url)
    assert current is not None and current.data == b"two by a" and current.version == new_version
    storage.write_if(url, b"three by b", current.version)
    assert storage.read_bytes(url) == b"three by b"


def test_replacing_a_deleted_object_is_a_conflict(root: tuple[Storage, str]) -> None:
    storage, base = root
    url = join(base, "index/manifest.json")
    version = storage.write_if(url, b"one", None)
    storage.delete(url)

    with pytest.raises(WriteConflict):
        storage.write_if(url, b"two", version)
    assert not storage.exists(url)


def test_racing_local_writers_lose_no_update(tmp_path) -> None:
    storage, url = Storage(), join(tmp_path.as_uri(), "counter.txt")
    storage.write_if(url, b"0", None)
    start = threading.Barrier(6)

    def add(times: int) -> None:
        start.wait()
        for _ in range(times):
            while True:
                current = storage.read_versioned(url)
                assert current is not None
                try:
                    storage.write_if(url, str(int(current.data) + 1).encode(), current.version)
                    break
                except WriteConflict:
                    continue

    threads = [threading.Thread(target=add, args=(40,)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert storage.read_bytes(url) == b"240"
    assert [o.url for o in storage.list(tmp_path.as_uri())] == [url]
