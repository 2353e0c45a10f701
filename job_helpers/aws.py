"""The one way the project makes boto3 clients: on first use, from a session passed in, with one retry policy."""

from __future__ import annotations

from typing import Any

# botocore retries throttling and transient errors itself, backing off with jitter; adaptive mode
# also slows the client down while AWS keeps throttling it.
RETRIES = {"mode": "adaptive", "max_attempts": 10}


def client(service: str, boto3_session: Any = None, *, max_pool_connections: int = 10) -> Any:
    """A client of ``service`` from ``boto3_session`` (the default session when None)."""
    import boto3
    from botocore.config import Config

    session = boto3_session or boto3.Session()
    return session.client(service, config=Config(retries=RETRIES, max_pool_connections=max_pool_connections))
