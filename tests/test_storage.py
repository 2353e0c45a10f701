import pytest

from job_helpers.storage import Storage, StorageError, join


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
