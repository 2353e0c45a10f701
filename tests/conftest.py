"""Fixtures shared by the whole suite: one SparkSession, one moto server, AWS settings that never reach AWS."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import boto3
import botocore.loaders
import botocore.session
import pytest

from job_helpers.storage import Storage
from tests.support.aws_requests import Recorder

AWS_REQUESTS = Recorder()
pytest_plugins = ["tests.support.groups"]  # the slow groups as markers, and the fast loop's check


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _no_job_log_on_stdout() -> Iterator[None]:
    """A job run in-process (here or in a module's fixture) adds its stdout log handler to the root logger;
    each test starts without it, so what a command prints on stdout is its data alone."""
    from job_helpers.runtime import StdoutLogHandler

    root = logging.getLogger()
    level = root.level
    for handler in [h for h in root.handlers if isinstance(h, StdoutLogHandler)]:
        root.removeHandler(handler)
    yield
    for handler in [h for h in root.handlers if isinstance(h, StdoutLogHandler)]:
        root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may use real credentials, whatever the developer's shell holds."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture(autouse=True)
def no_terminal_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest-xdist's workers say the terminal is 80 columns; commands here and their subprocesses print as piped."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


@pytest.fixture(scope="session", autouse=True)
def _validate_every_client() -> Iterator[Recorder]:
    """Every botocore client made in this process checks its requests against the service model."""
    create_client = botocore.session.Session.create_client

    def create_validated_client(self, *args, **kwargs):
        client = create_client(self, *args, **kwargs)
        client.meta.events.register_last("before-parameter-build", AWS_REQUESTS.on_call)
        return client

    botocore.session.Session.create_client = create_validated_client
    yield AWS_REQUESTS
    botocore.session.Session.create_client = create_client
    if os.environ.get("AWS_REQUESTS_LOG"):
        lines = [f"{origin} {service}:{operation}" for service, operation, origin in AWS_REQUESTS.calls]
        Path(os.environ["AWS_REQUESTS_LOG"]).write_text("\n".join(sorted(lines)) + "\n", encoding="utf-8")


class _SearchPaths(list):
    """A shared loader's search paths: boto3 appends its own data folder once per session, kept once here."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


@pytest.fixture(scope="session", autouse=True)
def _one_botocore_loader() -> Iterator[None]:
    """Every botocore session in this process reads the service models through one loader.

    Each new session otherwise parses its service's model and the endpoint rules again (about 0.1 s of
    JSON per client): a test that makes a Storage or a command's clients paid it every time. The models
    are read-only data, so a shared loader changes no request.
    """
    create_loader = botocore.session.create_loader
    loaders: dict[str | None, botocore.loaders.Loader] = {}

    def shared_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
        if search_path_string not in loaders:
            loader = create_loader(search_path_string)
            loader._search_paths = _SearchPaths(loader.search_paths)
            loaders[search_path_string] = loader
        return loaders[search_path_string]

    botocore.session.create_loader = shared_loader
    yield
    botocore.session.create_loader = create_loader


@pytest.fixture(autouse=True)
def aws_requests_follow_the_model(_validate_every_client: Recorder) -> Iterator[Recorder]:
    """Fails the test when a request it made breaks the model (length, pattern, enum, …)."""
    _validate_every_client.reset()
    yield _validate_every_client
    found = _validate_every_client.reset()
    if found:
        pytest.fail("AWS requests the real service would refuse:\n  " + "\n  ".join(sorted(set(found))), pytrace=False)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server on a free local port, shared by the session; tests reset it as they need."""
    from moto import backends
    from moto.server import ThreadedMotoServer

    # The server lists moto's package folder under its one lock on every request to find the service;
    # the folder does not change while the suite runs.
    modules = tuple(backends.list_of_moto_modules())
    list_of_moto_modules, backends.list_of_moto_modules = backends.list_of_moto_modules, lambda: modules
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
    backends.list_of_moto_modules = list_of_moto_modules


@pytest.fixture
def moto_server(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[str]:
    """The moto server, emptied, with ``AWS_ENDPOINT_URL`` pointing every boto3 client at it."""
    import requests

    from tests.support.groups import require

    require(request.node, "moto", "uses moto's server")

    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    yield moto_endpoint


@pytest.fixture
def s3_storage(moto_server: str) -> Storage:
    """Storage on moto's S3 with a bucket named ``lake``."""
    session = boto3.Session(region_name="us-east-1")
    session.client("s3").create_bucket(Bucket="lake")
    return Storage(boto3_session=session)


@pytest.fixture(scope="session")
def tasks():
    """The local task runner the jobs get (``runtime.local_tasks``): its worker processes serve the whole session."""
    from job_helpers.runtime import local_tasks

    return local_tasks()


@pytest.fixture(scope="session")
def spark():
    """The suite's one SparkSession, started as the local runtime starts it."""
    from job_helpers.runtime import local_spark

    session = local_spark("job-helpers-tests")
    yield session
    session.stop()
