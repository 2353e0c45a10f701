import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from job_helpers.control.build import BuildMissing, UploadMismatch, build, current_artifact, differing, uploads
from job_helpers.control.cli import main
from job_helpers.storage import Storage, local_path
from tests.support.project_imports import reachable

REPO = Path(__file__).resolve().parents[2]


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


@pytest.mark.subprocess
def test_the_zip_holds_what_every_job_imports_and_no_control_plane(tmp_path):
    """Glue imported nothing of the 5k-line control plane it was shipped; a job must still find all it needs in the zip.

    Statically, each job script's reach (every import, lazy ones included) is in the zip; then a Python
    whose only copy of job_helpers is the zip imports each module a job reaches, from the zip.
    """
    build(REPO, tmp_path / "build", (tmp_path / "assets").as_uri() + "/", Storage())
    package = tmp_path / "build" / "job_helpers.zip"
    names = set(zipfile.ZipFile(package).namelist())
    assert sorted(name for name in names if name.startswith("job_helpers/control")) == []
    reached: set[str] = set()
    for script in sorted((REPO / "jobs").glob("*.py")):
        files, _ = reachable(script)
        needed = {path.relative_to(REPO).as_posix() for path in files if path != script.resolve()}
        assert needed and sorted(needed - names) == [], f"{script.name} imports modules the zip lacks"
        reached |= needed
    modules = sorted(name.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for name in reached)
    check = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    module = importlib.import_module(name)\n"
        "    assert module.__file__.startswith(sys.path[0]), (name, module.__file__)\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    completed = subprocess.run(
        [sys.executable, "-P", "-c", f"import sys; sys.path.insert(0, {str(package)!r})\n" + check, *modules],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr


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


def test_a_swapped_object_on_s3_is_found_uploaded_again_and_refused_by_execute(source_tree, tmp_path, s3_storage):
    """The swapped zip ran silently and build said "Unchanged": the name was checked, never the bytes.

    The swap even carries the right ``x-amz-meta-sha256``: the check uses the SHA-256 S3 itself verified.
    """
    build_dir = tmp_path / "build"
    artifact = build(source_tree, build_dir, "s3://lake/glue/", s3_storage).artifact
    built = (build_dir / "job_helpers.zip").read_bytes()
    bucket, key = "lake", artifact.zip_url.removeprefix("s3://lake/")
    forged = {"sha256": hashlib.sha256(built).hexdigest()}
    s3_storage.s3.put_object(Bucket=bucket, Key=key, Body=b"PK evil", Metadata=forged, ChecksumAlgorithm="SHA256")
    with pytest.raises(BuildMissing, match=r"job_helpers.zip differ\(s\) from the build in .*: run `make build`"):
        current_artifact(build_dir, "s3://lake/glue/", s3_storage)

    again = build(source_tree, build_dir, "s3://lake/glue/", s3_storage)
    assert again.uploaded and again.replaced == (artifact.zip_url,)
    assert s3_storage.read_bytes(artifact.zip_url) == built
    assert current_artifact(build_dir, "s3://lake/glue/", s3_storage) == artifact
    unchanged = build(source_tree, build_dir, "s3://lake/glue/", s3_storage)
    assert (unchanged.uploaded, unchanged.replaced) == (False, ())


def test_an_object_uploaded_without_a_checksum_or_deleted_is_uploaded_again(source_tree, tmp_path, s3_storage):
    build_dir = tmp_path / "build"
    artifact = build(source_tree, build_dir, "s3://lake/glue/", s3_storage).artifact
    script = artifact.script_url("jobs/sitewise_repartition.py")
    s3_storage.s3.put_object(
        Bucket="lake", Key=script.removeprefix("s3://lake/"), Body=(build_dir / "jobs/sitewise_repartition.py").read_bytes()
    )
    s3_storage.delete(artifact.zip_url)
    again = build(source_tree, build_dir, "s3://lake/glue/", s3_storage)
    assert set(again.replaced) == {artifact.zip_url, script}
    assert differing(s3_storage, uploads(artifact, build_dir)) == []


def test_a_swapped_file_in_a_local_assets_folder_is_uploaded_again(source_tree, tmp_path):
    assets = (tmp_path / "assets").as_uri() + "/"
    artifact = build(source_tree, tmp_path / "build", assets, Storage()).artifact
    local_path(artifact.manifest_url).write_text("{}", encoding="utf-8")
    again = build(source_tree, tmp_path / "build", assets, Storage())
    assert again.replaced == (artifact.manifest_url,)
    assert json.loads(local_path(artifact.manifest_url).read_text())["content_hash"] == artifact.content_hash


def test_an_upload_that_still_differs_fails_naming_the_object(source_tree, tmp_path):
    class Tampered(Storage):
        """Something else rewrites the zip as soon as it is written."""

        def write_bytes(self, url: str, data: bytes) -> None:
            super().write_bytes(url, b"PK other" if url.endswith("job_helpers.zip") else data)

    assets = (tmp_path / "assets").as_uri() + "/"
    with pytest.raises(UploadMismatch, match=r"job_helpers.zip still differ\(s\) from .* after uploading"):
        build(source_tree, tmp_path / "build", assets, Tampered())


def test_make_build_says_what_it_uploaded_again(source_tree, tmp_path, s3_storage, capsys):
    shutil.copy(REPO / "config.yml", source_tree / "config.yml")
    s3_storage.s3.create_bucket(Bucket="glue-etl-assets")
    command = ["--config", str(source_tree / "config.yml"), "--profile", "aws", "build"]
    assert main(command) == 0
    assert "every object's checksum matches the build" in capsys.readouterr().out
    zip_url = next(o.url for o in s3_storage.list("s3://glue-etl-assets/glue/builds/") if o.url.endswith("job_helpers.zip"))
    s3_storage.write_bytes(zip_url, b"PK evil")
    assert main(command) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith(
        "AWS region us-east-1 (AWS_DEFAULT_REGION)\nwarning: 1 object(s) under s3://glue-etl-assets/glue/builds/"
    )
    assert "were uploaded again: job_helpers.zip" in captured.err
    assert main(command) == 0
    assert "Unchanged: already uploaded" in capsys.readouterr().out
