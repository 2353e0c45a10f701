import hashlib

import boto3
import pytest

from job_helpers.ingest.restore import request_restore
from job_helpers.storage import ObjectInfo, Storage, StorageError, join, local_path


@pytest.fixture(params=["local", "s3"])
def root(request, tmp_path):
    if request.param == "local":
        return Storage(), tmp_path.as_uri() + "/lake/"
    return request.getfixturevalue("s3_storage"), "s3://lake/"


def test_listing_returns_urls_in_the_form_they_were_written(root):
    storage, base = root
    written = [join(base, "raw/startYear=2024/a b.avro"), join(base, "raw/startYear=2024/c.avro")]
    for url in written:
        storage.write_bytes(url, b"x")
    assert [o.url for o in storage.list(join(base, "raw/"))] == written
    assert [o.size for o in storage.list(base)] == [1, 1]


def test_writes_replace_whole_objects_and_missing_reads_name_the_url(root):
    storage, base = root
    url = join(base, "index/manifest.json")
    storage.write_text(url, "first")
    storage.write_text(url, "second")
    assert storage.read_text(url) == "second"
    assert storage.exists(url) and not storage.exists(join(base, "nothing"))
    storage.delete(url)
    with pytest.raises(StorageError, match="manifest.json: no such object"):
        storage.read_bytes(url)


def test_write_with_publishes_what_the_writer_put_in_a_file_and_move_renames(root):
    storage, base = root
    staged, final = join(base, "_staging/run/part-1.csv"), join(base, "table/part-1.csv")
    storage.write_with(staged, lambda path: path.write_text("time,value\n1,2\n"))
    storage.write_text(final, "old")
    storage.move(staged, final)
    assert storage.read_text(final) == "time,value\n1,2\n"
    assert not storage.exists(staged)
    assert [o.url for o in storage.list(base)] == [final]


def test_a_failed_local_write_leaves_neither_a_partial_file_nor_a_temporary(tmp_path):
    storage = Storage()
    target = tmp_path / "out" / "data.avro"
    source = tmp_path / "missing.avro"
    with pytest.raises(FileNotFoundError):
        storage.upload(source, target.as_uri())
    assert list((tmp_path / "out").iterdir()) == []


def test_s3_keys_keep_characters_that_urls_treat_specially(s3_storage):
    url = "s3://lake/raw/run #3?final.json"
    s3_storage.write_text(url, "x")
    assert [o.url for o in s3_storage.list("s3://lake/raw/")] == [url]
    assert s3_storage.read_text(url) == "x"


def test_delete_many_removes_every_named_object_and_ignores_missing_ones(root):
    storage, base = root
    urls = [join(base, f"t/dt=1/part-{n}.parquet") for n in range(3)]
    keep = join(base, "t/dt=2/part-0.parquet")
    for url in [*urls, keep]:
        storage.write_text(url, "x")
    storage.delete_many([*urls, join(base, "t/dt=1/never-written")])
    assert [o.url for o in storage.list(base)] == [keep]


def test_delete_many_sends_a_thousand_keys_per_s3_call(s3_storage):
    keys = [f"t/part-{n:04d}" for n in range(1001)]
    for key in keys:
        s3_storage.s3.put_object(Bucket="lake", Key=key, Body=b"x")
    calls = []
    s3_storage.s3.meta.events.register(
        "provide-client-params.s3.DeleteObjects", lambda params, **_: calls.append(len(params["Delete"]["Objects"]))
    )
    s3_storage.delete_many(f"s3://lake/{key}" for key in keys)
    assert calls == [1000, 1]
    assert list(s3_storage.list("s3://lake/")) == []


def test_a_prefix_without_slash_lists_and_deletes_names_that_start_with_it(root):
    storage, base = root
    aside = [join(base, "customer/.trash-trusted-1/a.parquet"), join(base, "customer/.trash-trusted-2/b/c.parquet")]
    kept = [join(base, "customer/trusted/a.parquet"), join(base, "customer/.trash-other-1/a.parquet")]
    for url in [*aside, *kept]:
        storage.write_text(url, "x")
    assert [o.url for o in storage.list(join(base, "customer/.trash-trusted-"))] == aside
    assert storage.delete_prefix(join(base, "customer/.trash-trusted-")) == 2
    assert [o.url for o in storage.list(base)] == sorted(kept)
    if base.startswith("file://"):
        assert sorted(p.name for p in local_path(join(base, "customer/")).iterdir()) == [".trash-other-1", "trusted"]


def test_delete_prefix_of_a_folder_removes_it_whole(root):
    storage, base = root
    storage.write_text(join(base, "t/_staging/run-1/dt=1/hour=2/part.parquet"), "x")
    storage.write_text(join(base, "t/_staging/run-2/part.parquet"), "x")
    assert storage.delete_prefix(join(base, "t/_staging/run-1/")) == 1
    assert [o.url for o in storage.list(base)] == [join(base, "t/_staging/run-2/part.parquet")]
    if base.startswith("file://"):
        assert [p.name for p in local_path(join(base, "t/_staging/")).iterdir()] == ["run-2"]


def test_head_says_size_checksum_and_storage_class_or_none(root):
    storage, base = root
    url = join(base, "landing/a.bin")
    assert storage.head(url) is None
    storage.write_bytes(url, b"payload")
    found = storage.head(url)
    assert found == ObjectInfo(7, hashlib.sha256(b"payload").hexdigest())
    assert not found.archived and found.restore_state == "available"


def test_upload_from_a_file_or_a_stream_with_checksum_and_progress(root, tmp_path):
    storage, base = root
    source = tmp_path / "source.bin"
    source.write_bytes(b"x" * 3_000_000)
    sent = []
    storage.upload(source, join(base, "a/file.bin"), sha256="f" * 64, on_bytes=sent.append)
    assert sum(sent) == 3_000_000
    with open(source, "rb") as stream:
        storage.upload(stream, join(base, "a/stream.bin"), sha256="f" * 64)
    for name in ("file.bin", "stream.bin"):
        found = storage.head(join(base, "a", name))
        assert found is not None and found.size == 3_000_000
        # Locally the checksum is the file's; on S3 the one the writer recorded.
        expected = hashlib.sha256(source.read_bytes()).hexdigest() if base.startswith("file:") else "f" * 64
        assert found.sha256 == expected
    target = tmp_path / "back.bin"
    storage.download(join(base, "a/stream.bin"), target)
    assert target.read_bytes() == source.read_bytes()


def test_local_files_and_folders_get_the_storage_modes(tmp_path):
    storage = Storage(file_mode=0o640, folder_mode=0o750)
    source = tmp_path / "source.bin"
    source.write_bytes(b"x")
    base = tmp_path.as_uri() + "/lake/"
    storage.upload(source, join(base, "d/e/one.bin"))
    storage.write_bytes(join(base, "d/two.json"), b"{}")
    assert (tmp_path / "lake").stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "lake/d/e").stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "lake/d/e/one.bin").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "lake/d/two.json").stat().st_mode & 0o777 == 0o640


def test_s3_uploads_carry_storage_class_and_kms_and_archived_objects_are_restored(s3_storage, tmp_path):
    kms_key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    storage = Storage(s3_client=s3_storage.s3, kms_key_id=kms_key)
    source = tmp_path / "archive.tar"
    source.write_bytes(b"tar")
    url = "s3://lake/archive/one.tar"
    storage.upload(source, url, sha256="a" * 64, storage_class="DEEP_ARCHIVE")
    storage.write_bytes("s3://lake/archive/one.json", b"{}")
    for key in ("archive/one.tar", "archive/one.json"):
        head = storage.s3.head_object(Bucket="lake", Key=key)
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == kms_key
    found = storage.head(url)
    assert found is not None and found.archived and found.restore_state == "none" and found.sha256 == "a" * 64
    request_restore(storage, url, 1, "Bulk")
    assert storage.head(url).restore_state in ("in-progress", "available")
    storage.close()


def test_open_gives_a_seekable_file_that_reads_only_what_is_asked(root):
    storage, base = root
    data = bytes(range(256)) * 64
    storage.write_bytes(base + "archive.zip", data)
    with storage.open(base + "archive.zip") as handle:
        handle.seek(-10, 2)
        assert handle.read() == data[-10:]
        handle.seek(300)
        assert handle.read(5) == data[300:305]
    with pytest.raises(StorageError, match="missing.zip: no such object"):
        storage.open(base + "missing.zip")


def test_a_local_listing_skips_a_file_another_process_deletes_while_it_is_read(tmp_path):
    """As an S3 listing does: two runs at once delete each other's markers while listing them."""
    from job_helpers import storage as storage_module

    folder = tmp_path / "_open"
    folder.mkdir()
    (folder / "a.json").write_text("{}")
    (folder / "b.json").write_text("{}")
    listing = storage_module._local_objects(folder.as_uri() + "/")
    first = next(listing)
    other = "b.json" if first.url.endswith("a.json") else "a.json"
    (folder / other).unlink()
    assert list(listing) == []
