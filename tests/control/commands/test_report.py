"""make report: one self-contained HTML page per batch, opened in headless Chromium."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from job_helpers.control.report import render
from tests.support.browser import chromium


def run(state: str, start: str, end: str | None, error: str | None = None) -> dict:
    return {
        "run_id": f"jr_{start}",
        "state": state,
        "started_on": start,
        "completed_on": end,
        "duration_seconds": 60.0,
        "dpu_hours": 0.1,
        "execution_class": "STANDARD",
        "error": error,
        "log": f"/logs/{start}.log",
    }


def test_every_text_from_a_run_is_escaped():
    hostile = "<script>alert('x')</script> & <b>bold</b>"
    summary = {
        "batch": "B<1>",
        "jobs": ["fake"],
        "counts": {"FAILED": 1},
        "dpu_hours": 0.1,
        "price_usd": 0.04,
        "unpriced_dpu_hours": 0.0,
        "estimate": False,
        "rates_usd_per_dpu_hour": {"region": "<us-east-1>", "STANDARD": 0.44, "FLEX": 0.29},
        "chunks": [
            {
                "job_name": "job<&>",
                "job": "fake",
                "from": "2022-01-01",
                "to": "2022-01-01",
                "state": "FAILED",
                "attempts": 1,
                "duration_seconds": 60.0,
                "dpu_hours": 0.1,
                "price_usd": 0.04,
                "error": hostile,
                "log": "<log>",
                "runs": [run("FAILED", "2022-01-01T00:00:00+00:00", "2022-01-01T00:01:00+00:00", hostile)],
            }
        ],
    }
    page = render(summary, datetime(2022, 1, 2, tzinfo=UTC))
    assert "<script" not in page and "<b>" not in page and "B<1>" not in page and "<us-east-1>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert not re.search(r"(src|href)=|https?://|@import|url\(", page), "the page fetches nothing"


@pytest.mark.subprocess
def test_report_of_a_retried_batch_shows_every_chunk_attempt_and_failure_in_chromium(built, capsys, tmp_path):
    out = built.lake_root / "scratch" / "out"
    out.mkdir(parents=True)
    (out / "fail-2022-01-02").write_text("")
    (out / "fail-2022-01-03").write_text("")
    assert built.cli("execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-04", "--wait") == 1
    capsys.readouterr()
    (out / "fail-2022-01-02").unlink()
    assert built.cli("retry", "--wait") == 1
    capsys.readouterr()

    assert built.cli("report") == 0
    page = Path(capsys.readouterr().out.strip())
    assert page.parent == built.build_dir / "reports" and page.name.startswith("batch-") and page.suffix == ".html"
    assert not list(page.parent.glob(".*partial"))

    dom = chromium("--dump-dom", page.as_uri(), profile=tmp_path / "chromium")
    for day in ("2022-01-01", "2022-01-02", "2022-01-03", "2022-01-04"):
        assert day in dom
    assert dom.count("<rect") == 6 + 4, "one bar per attempt (4 chunks, 2 retried) and one DPU bar per chunk"
    assert dom.count("failed on purpose") == 3, "the first 2022-01-02 attempt and both of 2022-01-03"
    assert "1 FAILED, 3 SUCCEEDED" in dom and "DPU-hours" in dom
    assert dom.count("10 → 10") == 3, "the records of the 3 succeeded chunks"

    screenshot = tmp_path / "report.png"
    chromium(f"--screenshot={screenshot}", "--window-size=1000,800", page.as_uri(), profile=tmp_path / "chromium")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
