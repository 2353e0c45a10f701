import pytest

from job_helpers.storage import Storage, StorageError, join, local_path


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
