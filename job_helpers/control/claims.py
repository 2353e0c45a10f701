"""One restart per failed run, however many ``retry`` commands run at once, on however many machines.

Glue's StartJobRun takes no idempotency token, so two operators retrying the same batch would
both start every failed chunk. Before it starts a chunk again, ``retry`` claims the chunk's failed
run with an object written only if none exists yet (S3 ``If-None-Match: *``; a folder lock on
``file://``): ``<glue_assets>retry-claims/<job name>/<failed run id>.json``. Whoever writes it
first starts the new run and records its id there; the other finds the claim and leaves the chunk.
A claim whose start failed is released (marked, never deleted), so a later retry may take it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

from job_helpers.storage import Storage, WriteConflict, join

log = logging.getLogger(__name__)

CLAIMS_FOLDER = "retry-claims/"


@dataclass(frozen=True)
class Claim:
    """A claim this command holds: where it is, its version and what it says."""

    url: str
    version: str
    body: dict


class ClaimTaken(Exception):
    """Another retry claimed the run first; the message says who and what it started."""


def this_holder() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"


class RetryClaims:
    """Claims on failed runs, kept under ``prefix`` (the assets location's ``retry-claims/``)."""

    def __init__(self, storage: Storage, glue_assets_url: str, holder: str | None = None) -> None:
        self.storage = storage
        self.prefix = join(glue_assets_url, CLAIMS_FOLDER)
        self.holder = holder or this_holder()

    def url(self, job_name: str, failed_run_id: str) -> str:
        return join(self.prefix, f"{job_name}/{failed_run_id}.json")

    def claim(self, job_name: str, failed_run_id: str) -> Claim:
        """Claim the failed run for this command, or raise ClaimTaken naming who has it."""
        url = self.url(job_name, failed_run_id)
        body = {"holder": self.holder, "claimed_at": datetime.now(UTC).isoformat(), "run_id": None, "released": False}
        data = json.dumps(body).encode()
        try:
            return Claim(url, self.storage.write_if(url, data, None), body)
        except WriteConflict:
            pass
        current = self.storage.read_versioned(url)
        found = _body(current.data) if current is not None else {}
        if current is None or not found.get("released"):
            raise ClaimTaken(_who(url, found))
        try:
            return Claim(url, self.storage.write_if(url, data, current.version), body)
        except WriteConflict:
            latest = self.storage.read_versioned(url)
            raise ClaimTaken(_who(url, _body(latest.data) if latest is not None else {})) from None

    def started(self, claim: Claim, run_id: str) -> None:
        """Record the run the claim started (for the other retries' messages; the run is started either way)."""
        body = {**claim.body, "run_id": run_id}
        try:
            self.storage.write_if(claim.url, json.dumps(body).encode(), claim.version)
        except Exception as error:  # noqa: BLE001 - the run has started; only the note of it is missing
            log.warning("%s: could not record run %s in the claim: %s", claim.url, run_id, error)

    def release(self, claim: Claim) -> None:
        """Give the claim back after the start failed, so that a later retry can take it."""
        body = {**claim.body, "released": True}
        try:
            self.storage.write_if(claim.url, json.dumps(body).encode(), claim.version)
        except Exception as error:  # noqa: BLE001 - the start already failed; say how to free the chunk
            log.warning("%s: could not release the claim (%s); delete it to retry this chunk", claim.url, error)


def _body(data: bytes) -> dict:
    try:
        found = json.loads(data)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _who(url: str, body: dict) -> str:
    holder = body.get("holder") or "another retry"
    if body.get("run_id"):
        return f"retried by {holder}: run {body['run_id']}"
    return (
        f"claimed by {holder} at {body.get('claimed_at') or 'an unknown time'}, which has started no run yet; "
        f"if that retry was stopped before it could, delete {url} and retry again"
    )
