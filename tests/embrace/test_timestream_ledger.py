"""Timestream batch loads with a ledger: paced, never created twice, failures named (issue 19 §2).

The ledger lives on moto's S3 (and, for its own tests, in a local folder too); Timestream's
batch-load API is ``timestream_fake`` (moto implements none of it), answering a real botocore
client whose requests the suite checks against the service model; DescribeDatabase and
DescribeTable go to moto's server. Every client has its own endpoint URL: moto's DescribeEndpoints
names the real Timestream host, which no test may reach.

Before: every task was created at once, nothing was recorded (a rerun created and billed every
day again, also those that had succeeded or were still running), and ``monitor`` waited on every
task of the account, then announced success whatever the tasks' ends.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from timestream_fake import FakeBatchLoads

from job_helpers.backoff import Backoff
from job_helpers.control import cli
from job_helpers.control.commands import timestream_cmd
from job_helpers.embrace import timestream_load
from job_helpers.embrace.timestream_ledger import Attempt, Ledger, LedgerError, LoadKey
from job_helpers.embrace.timestream_load import (
    CREATE,
    FAILED_BEFORE,
    LOADED,
    RUNNING_ALREADY,
    STOPPED_RESUMABLE,
    decide,
)
from job_helpers.storage import Storage

BUCKET = "embrace-wearables"
# Rows per stream's day, per device (load_counts/<stream>/<date>.json): one load is a stream's day, all devices.
COUNTS = {
    "acc": {
        "2024-03-01": {"fc096/DEV1": 600, "fc097/DEV2": 400},
        "2024-03-02": {"fc096/DEV1": 500},
        "2024-03-03": {"fc096/DEV1": 20},
    },
    "eda": {"2024-03-01": {"fc096/DEV1": 40}, "2024-03-02": {"fc096/DEV1": 7}},
}
LEDGER = f"s3://{BUCKET}/timestream_reports/ledger/"


def prefix(stream: str, day: str) -> str:
    return f"s3://{BUCKET}/timestream_ready/{stream}/{day}/"


@pytest.fixture
def account(moto_server, monkeypatch):
    """The embrace bucket with the days' row counts, the Timestream table on moto, and the fake batch loads."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    for stream, days in COUNTS.items():
        for day, devices in days.items():
            s3.put_object(Bucket=BUCKET, Key=f"load_counts/{stream}/{day}.json", Body=json.dumps(devices))
    timestream = boto3.client("timestream-write", region_name="us-east-1", endpoint_url=moto_server)
    timestream.create_database(DatabaseName="embrace")
    timestream.create_table(DatabaseName="embrace", TableName="readings")
    fake = FakeBatchLoads()
    fake.attach(timestream)
    monkeypatch.setattr(timestream_cmd, "_client", lambda context: timestream)
    monkeypatch.setattr(timestream_load, "POLL", Backoff(0.0, 0.0))
    notices: list[str] = []
    monkeypatch.setattr(timestream_cmd, "notify_slack", lambda url, text: notices.append(text) or True)
    fake.notices = notices  # type: ignore[attr-defined]
    return fake


def run(capsys, *arguments: str) -> tuple[int, str, str]:
    """Exit status, standard output, and the ``error:`` line on standard error (after the region line), if any."""
    code = cli.main(["--profile", "aws", *arguments])
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) <= 1, errors
    return code, captured.out, errors[0] if errors else ""


def load_range(*extra: str) -> list[str]:
    return ["timestream-load", "--from", "2024-03-01", "--to", "2024-03-31", *extra]


def ledger_objects() -> dict[str, dict]:
    s3 = boto3.client("s3", region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="timestream_reports/ledger/").get("Contents", [])]
    return {key: json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()) for key in keys}


def test_a_partial_failure_is_named_recorded_and_not_loaded_again(account, capsys):
    account.outcomes[prefix("eda", "2024-03-02")] = "FAILED"
    code, out, _ = run(capsys, *load_range())
    assert code == 0 and len(account.created) == 5
    assert "follow them with `make monitor`" in out

    code, out, err = run(capsys, "monitor")
    assert code == 1, "a failed task is a failure, not the end of the loads"
    assert "embrace.readings: 4 succeeded, 1 not loaded" in out
    (eda_task,) = [t.task_id for t in account.tasks.values() if t.prefix == prefix("eda", "2024-03-02")]
    assert err.startswith(f"error: 1 batch load(s) into embrace.readings did not succeed: eda/2024-03-02 {eda_task} FAILED")
    assert "retry_failed=1" in err
    assert account.notices == [out.splitlines()[-2]] and out.splitlines()[-1] == "notice sent to Slack"
    assert "1 not loaded" in account.notices[0], "the notice says what the tasks did, not only that they are done"

    code, out, err = run(capsys, *load_range())
    assert len(account.created) == 5, "a rerun creates (and bills) nothing: four days are in, one failed"
    assert code == 1 and f"eda/2024-03-02 {eda_task} FAILED" in err
    assert out.count(": loaded (") == 4

    account.outcomes[prefix("eda", "2024-03-02")] = "SUCCEEDED"
    code, out, _ = run(capsys, *load_range("--retry-failed"))
    assert code == 0
    assert [
        request["DataSourceConfiguration"]["DataSourceS3Configuration"]["ObjectKeyPrefix"] for request in account.created[5:]
    ] == ["timestream_ready/eda/2024-03-02/"]
    code, out, _ = run(capsys, "monitor")
    assert code == 0 and "embrace.readings: 5 succeeded" in out

    objects = ledger_objects()
    assert sorted(objects) == sorted(
        f"timestream_reports/ledger/embrace/readings/{stream}/{day}.json" for stream, days in COUNTS.items() for day in days
    )
    retried = objects["timestream_reports/ledger/embrace/readings/eda/2024-03-02.json"]
    assert [task["state"] for task in retried["tasks"]] == ["FAILED", "SUCCEEDED"]
    assert retried["load"] == {
        "database": "embrace",
        "table": "readings",
        "stream": "eda",
        "day": "2024-03-02",
        "prefix": prefix("eda", "2024-03-02"),
        "rows": 7,
    }
    assert len({task["client_token"] for entry in objects.values() for task in entry["tasks"]}) == 6


def test_tasks_are_created_while_fewer_than_max_active_are_active_on_the_table(account, capsys):
    """Other teams' tasks on this table count against the table's quota; those on other tables do not."""
    account.add("FOREIGN0001", "embrace", "readings", "IN_PROGRESS")
    for number in range(5):
        account.add(f"OTHERTABLE{number}", "other", "table", "IN_PROGRESS")
    code, out, _ = run(capsys, *load_range("--max-active", "2"))
    assert code == 0 and len(account.tasks) == 6 + 5
    assert account.most_active_at_create == 1, "each task was created while only the foreign one was active"

    for wrong in ("6", "0", "two"):
        assert cli.main(["--profile", "aws", *load_range("--max-active", wrong)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1
        assert f"--max-active: '{wrong}' is not a number of tasks from 1 to 5" in err


def test_without_a_cap_of_one_the_creations_overlap_up_to_it(account, capsys):
    account.steps = 50
    code, _, _ = run(capsys, *load_range("--max-active", "3"))
    assert code == 0 and len(account.created) == 5
    assert account.most_active_at_create == 2, "three active at most: each created while two were"


def test_a_rerun_while_tasks_run_creates_no_second_task(account, capsys):
    account.steps = 1000
    assert run(capsys, *load_range())[0] == 0
    code, out, _ = run(capsys, *load_range())
    assert code == 0 and len(account.created) == 5 and out.count(": running (") == 5


def test_a_crash_between_creating_a_task_and_recording_it_sends_the_same_token_again(account, capsys, monkeypatch):
    record = Ledger.record
    crashed = []

    def crash_once(self, entry, client_token, state, task_id=None, resumable_until=None):
        if task_id and not crashed:
            crashed.append(task_id)
            raise KeyboardInterrupt
        return record(self, entry, client_token, state, task_id, resumable_until)

    monkeypatch.setattr(Ledger, "record", crash_once)
    assert run(capsys, *load_range())[0] == 130
    (first,) = ledger_objects().values()
    assert [task["state"] for task in first["tasks"]] == ["CREATING"] and first["tasks"][0]["task_id"] is None

    code, out, _ = run(capsys, *load_range())
    assert code == 0
    assert len(account.tasks) == 5, "the task created before the crash was found again by its token, not made twice"
    assert len(account.created) == 6 and account.created[0]["ClientToken"] == account.created[1]["ClientToken"]
    first = next(iter(ledger_objects().values()))
    assert [task["task_id"] for task in first["tasks"]] == [crashed[0]]


def test_monitor_follows_only_the_ledgers_tasks(account, capsys):
    account.add("FOREIGN0001", "embrace", "readings", "IN_PROGRESS")
    account.add("OTHERTABLE1", "other", "table", "CREATED")
    assert run(capsys, *load_range("--streams", "eda"))[0] == 0
    code, out, _ = run(capsys, "monitor")
    assert code == 0, "the foreign tasks, still running, are not waited on"
    assert "embrace.readings: 2 succeeded" in out
    assert "FOREIGN0001" not in out and "OTHERTABLE1" not in out


def test_monitor_names_a_stopped_task_and_resumes_it_on_request(account, capsys):
    account.outcomes[prefix("acc", "2024-03-03")] = "PROGRESS_STOPPED"
    assert run(capsys, *load_range())[0] == 0
    code, _, err = run(capsys, "monitor")
    (stopped,) = [t.task_id for t in account.tasks.values() if t.status == "PROGRESS_STOPPED"]
    assert code == 1 and f"acc/2024-03-03 {stopped} PROGRESS_STOPPED" in err and "resume=1" in err

    code, out, err = run(capsys, *load_range())
    assert code == 1 and len(account.created) == 5, "a stopped task is resumed, never replaced by a second one"
    assert f"{stopped} PROGRESS_STOPPED" in err

    code, out, _ = run(capsys, "monitor", "--resume")
    assert code == 0 and "embrace.readings: 5 succeeded" in out
    assert account.calls.count("ResumeBatchLoadTask") == 1 and len(account.tasks) == 5


def test_a_dry_run_shows_the_ledger_and_prices_only_what_it_would_create(account, capsys, monkeypatch):
    assert run(capsys, *load_range("--streams", "eda"))[0] == 0
    run(capsys, "monitor")
    monkeypatch.setattr(timestream_cmd, "_client", lambda context: pytest.fail("a dry run makes no Timestream call"))
    code, out, _ = run(capsys, *load_range("--dry-run"))
    assert code == 0
    assert "3 task(s), 1,520 row(s)" in out and "2 of 5 day(s) left as the ledger records them" in out
    assert out.count("SUCCEEDED") == 2


# --- the decision per load ---------------------------------------------------------------------------


def attempt(state: str, resumable_until: datetime | None = None) -> Attempt:
    until = resumable_until.isoformat(timespec="seconds") if resumable_until else None
    return Attempt("0" * 64, None if state == "CREATING" else "TASK0001", state, "2026-01-05T00:00:00+00:00", until)


NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "latest, retry_failed, expected",
    [
        (None, False, CREATE),
        (attempt("CREATING"), False, CREATE),
        (attempt("CREATED"), True, RUNNING_ALREADY),
        (attempt("IN_PROGRESS"), True, RUNNING_ALREADY),
        (attempt("PENDING_RESUME"), True, RUNNING_ALREADY),
        (attempt("SUCCEEDED"), True, LOADED),
        (attempt("FAILED"), False, FAILED_BEFORE),
        (attempt("FAILED"), True, CREATE),
        (attempt("MISSING"), False, FAILED_BEFORE),
        (attempt("PROGRESS_STOPPED", NOW + timedelta(hours=1)), True, STOPPED_RESUMABLE),
        (attempt("PROGRESS_STOPPED"), True, STOPPED_RESUMABLE),
        (attempt("PROGRESS_STOPPED", NOW - timedelta(hours=1)), False, FAILED_BEFORE),
        (attempt("PROGRESS_STOPPED", NOW - timedelta(hours=1)), True, CREATE),
    ],
    ids=lambda value: value.state if isinstance(value, Attempt) else str(value),
)
def test_a_rerun_creates_only_for_loads_never_tried_being_created_or_failed_when_asked(latest, retry_failed, expected):
    assert decide(latest, retry_failed, NOW) == expected


# --- the ledger itself, in a local folder and on (moto) S3 ------------------------------------------------


@pytest.fixture(params=["local", "s3"])
def ledger(request, tmp_path):
    if request.param == "local":
        return Ledger(Storage(), (tmp_path / "reports" / "ledger").as_uri() + "/")
    storage = request.getfixturevalue("s3_storage")
    return Ledger(storage, "s3://lake/timestream_reports/ledger/")


KEY = LoadKey("embrace", "readings", "eda", "2024-03-02")


def test_two_commands_never_both_begin_a_task_for_one_load(ledger):
    entry = ledger.begin(KEY, prefix("eda", "2024-03-02"), 7, None)
    assert [(a.state, a.task_id) for a in entry.attempts] == [("CREATING", None)]
    assert entry.latest.client_token == KEY.client_token(0) and len(KEY.client_token(0)) == 64
    with pytest.raises(
        LedgerError, match=r"eda/2024-03-02\.json: a task being created \(no id recorded\) was recorded by another"
    ):
        ledger.begin(KEY, prefix("eda", "2024-03-02"), 7, None)
    entry = ledger.record(entry, entry.latest.client_token, "FAILED", task_id="TASK0001")
    again = ledger.begin(KEY, prefix("eda", "2024-03-02"), 7, entry.latest)
    assert [(a.task_id, a.state) for a in again.attempts] == [("TASK0001", "FAILED"), (None, "CREATING")]
    assert again.latest.client_token == KEY.client_token(1) != KEY.client_token(0)
    assert ledger.read(KEY) == again


def test_a_begin_that_meets_a_concurrent_begin_gives_up_and_a_state_change_is_applied_again(ledger, monkeypatch):
    storage = ledger.storage
    write_if = storage.write_if
    other = Ledger(storage, ledger.root)
    race: list[str] = []

    def racing(url, data, version):
        if race and race[0] == "begin":
            race.pop()
            other.begin(KEY, prefix("eda", "2024-03-02"), 7, None)
        elif race and race[0] == "record":
            race.pop()
            current = other.read(KEY)
            other.record(current, current.latest.client_token, "IN_PROGRESS")
        return write_if(url, data, version)

    monkeypatch.setattr(storage, "write_if", racing)
    race.append("begin")
    with pytest.raises(LedgerError, match="was recorded by another command"):
        ledger.begin(KEY, prefix("eda", "2024-03-02"), 7, None)
    entry = ledger.read(KEY)
    entry = ledger.record(entry, entry.latest.client_token, "CREATED", task_id="TASK0001")
    race.append("record")
    entry = ledger.record(entry, entry.latest.client_token, "SUCCEEDED")
    assert [(a.task_id, a.state) for a in ledger.read(KEY).attempts] == [("TASK0001", "SUCCEEDED")]


def test_a_ledger_object_that_is_not_one_is_named(ledger):
    url = ledger.url(KEY)
    ledger.storage.write_bytes(url, b'{"load": {"database": "embrace"}}')
    with pytest.raises(LedgerError, match=rf"^{url}: not a batch-load ledger object \(KeyError: 'table'\); restore it"):
        ledger.read(KEY)
    with pytest.raises(LedgerError, match=rf"^{url}: not a batch-load ledger object"):
        ledger.entries("embrace", "readings")


def test_a_task_timestream_no_longer_knows_counts_as_failed(account, capsys):
    assert run(capsys, *load_range("--streams", "eda"))[0] == 0
    forgotten = account.tasks.pop(next(iter(account.tasks)))
    code, out, err = run(capsys, "monitor")
    assert code == 1 and f"eda/2024-03-01 {forgotten.task_id} MISSING" in err
    code, _, err = run(capsys, *load_range("--streams", "eda"))
    assert code == 1 and f"{forgotten.task_id} MISSING" in err and len(account.created) == 2
    assert run(capsys, *load_range("--streams", "eda", "--retry-failed"))[0] == 0
    assert len(account.created) == 3 and account.created[-1]["ClientToken"] != account.created[0]["ClientToken"]


def test_monitor_with_an_empty_ledger_says_so(account, capsys):
    account.add("FOREIGN0001", "embrace", "readings", "IN_PROGRESS")
    code, out, err = run(capsys, "monitor")
    assert (code, err) == (0, "") and "the ledger records no batch load into embrace.readings" in out


def test_a_loaded_day_another_export_adds_readings_to_is_named_and_not_loaded_again(account, capsys, caplog):
    """embrace_dedupe recomputes a device-day from every export holding it: a later export's readings change the
    day's count (here a device only it holds, and one more reading of a device the first held), not a second load."""
    assert run(capsys, *load_range("--streams", "eda"))[0] == 0
    assert run(capsys, "monitor")[0] == 0
    s3 = boto3.client("s3", region_name="us-east-1")
    recomputed = {"fc096/DEV1": 41, "fc099/DEV9": 3}
    s3.put_object(Bucket=BUCKET, Key="load_counts/eda/2024-03-01.json", Body=json.dumps(recomputed))
    code, out, _ = run(capsys, *load_range("--streams", "eda", "--dry-run"))
    assert code == 0 and "44 (40 loaded)" in out and "0 task(s), 0 row(s)" in out
    code = cli.main(["--profile", "aws", *load_range("--streams", "eda")])
    assert code == 0 and len(account.created) == 2
    # A logged warning; the CLI shows it on standard error (output.show_log_warnings_as_text).
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert any(f"{prefix('eda', '2024-03-01')}: task TASK0001 loaded 40 rows; its files now hold 44" in w for w in warnings)
    assert not any("2024-03-02" in w for w in warnings), "a day whose count is as loaded is not named"
