import json
import shutil
import zipfile
from pathlib import Path

import pytest

from job_helpers.control.build import BuildMissing, build, current_artifact
from job_helpers.storage import Storage

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def source_tree(tmp_path):
    """A copy of the package and the job scripts, so a test can change the source."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "job_helpers", root / "job_helpers", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "jobs", root / "jobs", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "job_helpers" / "__pycache__").mkdir(exist_ok=True)
    (root / "job_helpers" / "__pycache__" / "stale.cpython-311.pyc").write_bytes(b"\0")
    return root


def test_build_is_reproducible_and_holds_the_package_only(source_tree, tmp_path):
    assets = (tmp_path / "assets").as_uri() + "/"
    first = build(source_tree, tmp_path / "b1", assets, Storage())
    second = build(source_tree, tmp_path / "b2", assets, Storage())
    zip_bytes = (tmp_path / "b1" / "job_helpers.zip").read_bytes()
    assert zip_bytes == (tmp_path / "b2" / "job_helpers.zip").read_bytes()
    assert first.uploaded and not second.uploaded
    names = zipfile.ZipFile(tmp_path / "b1" / "job_helpers.zip").namelist()
    assert names == sorted(names)
    assert "job_helpers/storage.py" in names and "job_helpers/__main__.py" in names
    assert not [n for n in names if "__pycache__" in n or not n.startswith("job_helpers/")]
    manifest = json.loads((tmp_path / "b1" / "manifest.json").read_text())
    assert manifest["content_hash"] == first.artifact.content_hash
    assert "jobs/sitewise_repartition.py" in manifest["scripts"]


def test_uploads_under_a_content_prefix_so_running_jobs_keep_their_code(source_tree, tmp_path):
    assets = (tmp_path / "assets").as_uri() + "/"
    storage = Storage()
    old = build(source_tree, tmp_path / "build", assets, storage).artifact
    (source_tree / "job_helpers" / "storage.py").write_text("# changed\n", encoding="utf-8")
    new = build(source_tree, tmp_path / "build", assets, storage).artifact
    assert old.base_url != new.base_url
    assert storage.exists(old.zip_url) and storage.exists(new.zip_url)
    assert storage.read_bytes(new.zip_url) == (tmp_path / "build" / "job_helpers.zip").read_bytes()
    assert current_artifact(tmp_path / "build", assets, storage) == new


def test_uploads_to_s3(source_tree, tmp_path, s3_storage):
    result = build(source_tree, tmp_path / "build", "s3://lake/glue/", s3_storage)
    keys = {o.url for o in s3_storage.list("s3://lake/glue/")}
    assert result.artifact.zip_url in keys and result.artifact.manifest_url in keys
    assert result.artifact.script_url("jobs/sitewise_repartition.py") in keys
    assert build(source_tree, tmp_path / "build", "s3://lake/glue/", s3_storage).uploaded is False


def test_missing_build_names_the_fix(tmp_path):
    with pytest.raises(BuildMissing, match="run `make build` first"):
        current_artifact(tmp_path / "build", (tmp_path / "assets").as_uri() + "/", Storage())
