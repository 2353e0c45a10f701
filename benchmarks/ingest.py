"""Ingest throughput against moto's S3 server behind a latency proxy, compared with a sequential upload.

Generates patient folders (a few large EDF files and many small text and video files), then, at each
latency (0 ms and 20 ms, about S3's time to first byte), each in a fresh child process so peak
memory is measured per run:
  sequential  one file after another, one request at a time (boto3 with threads off)
  ingest      the real ingest: hash, parallel (multipart) upload to landing, tar + DEEP_ARCHIVE copy;
              then one recording added to one patient and the same folder ingested again, which
              archives a tar part of that recording alone (before parts: every subject's files again)
Both talk to moto's server (its own process) through a proxy on 127.0.0.1 that holds the first bytes
of every response for the latency: the wait on the network that parallel transfers hide and that
one moto process on a small machine cannot show by itself. Throughput is source bytes per second.
Target: at 20 ms, ingest's landing phase at least 3x the sequential upload, with peak memory
bounded (far below the largest file). Human lines first, one JSON object last.

    .venv/bin/python benchmarks/ingest.py [--size-mb 256] [--workers 8] [--latency-ms 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from job_helpers.ingest.sample_data import build_header  # noqa: E402

MB = 1024 * 1024
LARGE_FILES = 4
LARGE_SHARE = 0.5
SMALL_FILE = 256 * 1024
PATIENTS = ("Smith_John", "maria LOPEZ", "Van Der Berg, Anna", "OKAFOR Chidi")


def generate(root: Path, size: int) -> tuple[int, int, int]:
    """Write the source tree; returns (files, bytes, largest file bytes)."""
    block = os.urandom(MB)
    large = int(size * LARGE_SHARE / LARGE_FILES)
    small_count = int(size * (1 - LARGE_SHARE) / SMALL_FILE)
    files = total = 0
    start = datetime(2024, 3, 1, 8, 0, 0)
    for index in range(LARGE_FILES):
        name = PATIENTS[index % len(PATIENTS)]
        folder = root / name / "EEG"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{name}_{index}.edf", "wb") as handle:
            header = build_header(name.replace(" ", "_"), "EEG", start + timedelta(hours=index), 1, 1, 1, 8)
            handle.write(header)
            written = len(header)
            while written < large:
                chunk = block[: large - written]
                handle.write(chunk)
                written += len(chunk)
        files, total = files + 1, total + large
    for index in range(small_count):
        name = PATIENTS[index % len(PATIENTS)]
        folder = root / name / ("video" if index % 3 else "reports")
        folder.mkdir(parents=True, exist_ok=True)
        when = (start + timedelta(minutes=index)).strftime("%Y%m%dT%H%M%S")
        suffix = "mp4" if index % 3 else "txt"
        offset = (index * 4096) % (MB - SMALL_FILE)
        (folder / f"{name}_{when}.{suffix}").write_bytes(block[offset : offset + SMALL_FILE])
        files, total = files + 1, total + SMALL_FILE
    return files, total, large


def _client(endpoint: str):
    import boto3
    from botocore.config import Config

    return boto3.Session(region_name="us-east-1").client(
        "s3", endpoint_url=endpoint, config=Config(max_pool_connections=64, retries={"mode": "standard"})
    )


def sequential(endpoint: str, src: str, out: multiprocessing.Queue) -> None:
    from boto3.s3.transfer import TransferConfig

    client = _client(endpoint)
    config = TransferConfig(use_threads=False, multipart_threshold=64 * MB, multipart_chunksize=8 * MB)
    started = time.perf_counter()
    for path in sorted(Path(src).rglob("*")):
        if path.is_file():
            client.upload_file(str(path), "sequential", path.relative_to(src).as_posix(), Config=config)
    out.put({"seconds": time.perf_counter() - started, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def ingest_run(endpoint: str, src: str, workers: int, out: multiprocessing.Queue) -> None:
    from boto3.s3.transfer import TransferConfig

    from job_helpers.ingest.connect import map_storage
    from job_helpers.ingest.read import find_manifests, prepare
    from job_helpers.ingest.subjects import ObjectSubjectStore
    from job_helpers.ingest.write import Targets, ingest, save_codes
    from job_helpers.storage import Storage

    marks: dict[str, float] = {}

    class Phases:
        def start(self, phase: str, files: int, size: int) -> None:
            marks[phase] = time.perf_counter()

        def advance(self, size: int) -> None:
            pass

        def file_done(self) -> None:
            pass

    config = TransferConfig(multipart_threshold=64 * MB, multipart_chunksize=8 * MB, max_concurrency=workers)
    config.max_in_memory_upload_chunks = workers
    storage = Storage(s3_client=_client(endpoint), transfer_config=config)
    targets = Targets("eeg", "s3://landing/eeg/", "s3://archive/", "DEEP_ARCHIVE")
    added = Path(src, PATIENTS[0], "EEG", "added.edf")

    def archived() -> int:
        return sum(o.size for o in storage.list("s3://archive/") if o.url.endswith(".tar"))

    def history(code: str) -> list:
        return find_manifests(storage, "s3://archive/", "eeg", code)

    def ingest_once(subjects: ObjectSubjectStore, phases: Phases) -> None:
        plan, new = prepare(Path(src), 1, subjects, history=history, workers=workers)
        save_codes(subjects, new)
        ingest(plan, Path(src), targets, storage, workers, phases)

    with tempfile.TemporaryDirectory() as secrets_dir:
        subjects = ObjectSubjectStore(map_storage(None, None), Path(secrets_dir, "map.json").as_uri())
        started = time.perf_counter()
        ingest_once(subjects, Phases())
        ended = time.perf_counter()
        landing_seconds = marks["archive"] - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        first_archive = archived()
        added.write_bytes(build_header(PATIENTS[0].replace(" ", "_"), "EEG", datetime(2024, 4, 1, 8), 1, 1, 1, 8) + b"\0" * 16)
        try:
            again = time.perf_counter()
            ingest_once(subjects, Phases())
            again_ended = time.perf_counter()
        finally:
            added.unlink()
    out.put(
        {
            "seconds": ended - started,
            "landing_seconds": landing_seconds,
            "peak_rss_mb": peak_mb,
            "reingest_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "archive_bytes": first_archive,
            "reingest_seconds": again_ended - again,
            "reingest_archive_bytes": archived() - first_archive,
        }
    )
    storage.close()


def in_child(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    if process.exitcode:
        raise SystemExit(f"{target.__name__} failed with exit status {process.exitcode}")
    return result


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far; moto's server serves on at most one core."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LatencyProxy:
    """A TCP proxy on 127.0.0.1 that holds the first bytes of each answer for ``delay`` seconds.

    An answer starts when the server sends after the client did; so every response (and every
    ``100 Continue``) waits once, whatever its size, as it would on a network with that latency.
    Connections wait independently, so parallel requests overlap their waits. Runs in a thread.
    """

    def __init__(self, upstream_port: int, delay: float) -> None:
        self.upstream_port, self.delay = upstream_port, delay
        self.port = free_port()
        self.requests = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        self._ready.wait(10)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._loop.close()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        sent = asyncio.Event()

        async def to_server() -> None:
            while data := await client_reader.read(256 * 1024):
                sent.set()
                upstream_writer.write(data)
                await upstream_writer.drain()
            upstream_writer.close()

        async def to_client() -> None:
            while data := await upstream_reader.read(256 * 1024):
                if sent.is_set():
                    sent.clear()
                    self.requests += 1
                    await asyncio.sleep(self.delay)
                client_writer.write(data)
                await client_writer.drain()
            client_writer.close()

        try:
            await asyncio.gather(to_server(), to_client())
        except (ConnectionError, OSError):
            pass
        finally:
            client_writer.close()
            upstream_writer.close()


def start_moto() -> tuple[subprocess.Popen, int]:
    import requests

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for attempt in range(100):
        try:
            requests.get(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
            return server, port
        except requests.ConnectionError:
            time.sleep(0.05 * (attempt + 1))
    server.terminate()
    raise SystemExit("moto server did not start")


def measure(moto_port: int, server: subprocess.Popen, src: Path, size: int, workers: int, latency_ms: int) -> dict:
    """Sequential upload, then the ingest, both through a proxy adding ``latency_ms`` to every answer."""
    import requests

    with LatencyProxy(moto_port, latency_ms / 1000) as endpoint:
        requests.post(f"http://127.0.0.1:{moto_port}/moto-api/reset", timeout=60)
        client = _client(endpoint)
        client.create_bucket(Bucket="sequential")
        moto_before = cpu_seconds(server.pid)
        seq = in_child(sequential, endpoint, str(src))
        moto_share = (cpu_seconds(server.pid) - moto_before) / seq["seconds"]
        requests.post(f"http://127.0.0.1:{moto_port}/moto-api/reset", timeout=60)
        for bucket in ("landing", "archive"):
            client.create_bucket(Bucket=bucket)
        run = in_child(ingest_run, endpoint, str(src), workers)
    seq_rate, landing_rate = size / MB / seq["seconds"], size / MB / run["landing_seconds"]
    print(
        f"{latency_ms} ms per answer: sequential upload {seq['seconds']:.1f}s ({seq_rate:.1f} MB/s, "
        f"peak {seq['peak_rss_mb']:.0f} MB, moto busy {moto_share:.0%} of a core); ingest landing phase "
        f"{run['landing_seconds']:.1f}s ({landing_rate:.1f} MB/s, {landing_rate / seq_rate:.1f}x sequential); "
        f"whole ingest with tar and archive copy {run['seconds']:.1f}s, peak {run['peak_rss_mb']:.0f} MB; "
        f"re-ingest with one recording added {run['reingest_seconds']:.1f}s (peak {run['reingest_peak_rss_mb']:.0f} MB), "
        f"archiving {run['reingest_archive_bytes']:,} bytes (the first ingest: {run['archive_bytes']:,})"
    )
    return {
        "latency_ms": latency_ms,
        "sequential_s": round(seq["seconds"], 2),
        "sequential_mb_s": round(seq_rate, 1),
        "ingest_landing_s": round(run["landing_seconds"], 2),
        "ingest_landing_mb_s": round(landing_rate, 1),
        "ingest_total_s": round(run["seconds"], 2),
        "speedup_landing": round(landing_rate / seq_rate, 2),
        "peak_rss_mb_sequential": round(seq["peak_rss_mb"]),
        "peak_rss_mb_ingest": round(run["peak_rss_mb"]),
        "archive_bytes": run["archive_bytes"],
        "reingest_s": round(run["reingest_seconds"], 2),
        "reingest_archive_bytes": run["reingest_archive_bytes"],
        "peak_rss_mb_reingest": round(run["reingest_peak_rss_mb"]),
        "moto_core_share_sequential": round(moto_share, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=256, help="generated source size (the issue's: 2048)")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--latency-ms", type=int, default=20, help="latency compared with no latency (default 20)")
    args = parser.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    server, moto_port = start_moto()
    try:
        with tempfile.TemporaryDirectory(prefix="ingest-bench-") as scratch:
            src = Path(scratch, "src")
            files, size, largest = generate(src, args.size_mb * MB)
            print(
                f"generated {files} files, {size / MB:.0f} MB (largest {largest / MB:.0f} MB); "
                f"{args.workers} workers; moto behind a proxy on 127.0.0.1"
            )
            runs = [measure(moto_port, server, src, size, args.workers, latency) for latency in (0, args.latency_ms)]
    finally:
        server.terminate()
        server.wait()
    slow = runs[-1]
    print(
        f"target: ingest landing >= 3x sequential at {args.latency_ms} ms: "
        f"{'met' if slow['speedup_landing'] >= 3 else 'not met'} ({slow['speedup_landing']:.1f}x), "
        f"peak memory {slow['peak_rss_mb_ingest']} MB with files of {largest / MB:.0f} MB"
    )
    result = {
        "benchmark": "ingest",
        "files": files,
        "size_mb": round(size / MB),
        "largest_file_mb": round(largest / MB),
        "workers": args.workers,
        "runs": runs,
        "target_speedup": 3.0,
        "target_met": slow["speedup_landing"] >= 3.0,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
