"""Each STEDI transform on small hand-made DataFrames, expected rows written out."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import threading
from datetime import date

import pytest
from pyspark.sql import functions as F

from job_helpers.control.ddl import Statement
from job_helpers.control.local_sql import translate_query
from job_helpers.control.local_tables import Folder, local_table
from job_helpers.control.table_definition import from_ddl
from job_helpers.job_failed import JobFailed
from job_helpers.stedi import observed, read
from job_helpers.stedi import transform as t
from job_helpers.stedi.pseudonym import PseudonymKeyError, pseudonym_table, pseudonymise, resolve_key
from job_helpers.stedi.schemas import (
    ACCELEROMETER_KEYS,
    ACCELEROMETER_LANDING,
    CUSTOMER_KEYS,
    CUSTOMER_LANDING,
    CUSTOMER_TRUSTED,
    STEP_TRAINER_KEYS,
    STEP_TRAINER_LANDING,
)
from job_helpers.stedi.write import publish_table
from job_helpers.storage import Storage

DAY = 1655510400000  # 2022-06-18T00:00:00Z


def customers(spark, rows):
    return spark.createDataFrame(rows, CUSTOMER_LANDING)


def customer(name, email, serial, consent, updated=1):
    return (name, email, "8015551212", "1399-01-01", serial, 1, updated, consent, None, None)


def test_landing_parsing_keeps_good_lines_and_rejects_bad_ones(small_shuffles):
    lines = small_shuffles.createDataFrame(
        [
            ('{"user":"a@x","timestamp":5,"x":1.0,"y":0.0,"z":-1.0}', "f1"),
            ("   ", "f1"),
            ("\t \t", "f1"),
            ("\f\v\r", "f1"),
            ('{"user":"a@x","timestamp":', "f2"),
            ('{"user":"a@x","timestamp":"soon"}', "f2"),
            ('{"x":1.0}', "f3"),
            ('{"user":"b@x","timestamp":6}', "f3"),
        ],
        "value string, source_file string",
    )
    classified = t.classify_landing(lines, ACCELEROMETER_LANDING, ACCELEROMETER_KEYS)
    kept_text = {(r.reason is None, r.value is not None, r.source_file is not None) for r in classified.collect()}
    assert kept_text == {(True, False, False), (False, True, True)}  # a record's raw line and file are not kept
    records, rejects = t.split_landing(classified, ACCELEROMETER_LANDING)
    assert sorted(map(tuple, records.collect())) == [("a@x", 5, 1.0, 0.0, -1.0), ("b@x", 6, None, None, None)]
    assert sorted((r.source_file, r.reason) for r in rejects.collect()) == [
        ("f2", "malformed JSON"),
        ("f2", "malformed JSON"),
        ("f3", "missing key field: user, timestamp"),
    ]


def test_hostile_landing_files_keep_every_rejects_line_and_file_and_count_every_line(small_shuffles, tmp_path):
    """Through ``read.landing``, as a job reads: CRLF endings, a BOM, JSON that is no object, a key null or absent,
    a wrong type, nested and extra fields, a raw NUL, 100,000-character lines, a file of rejects only."""
    long_user = "\u00e9" * 100_000 + "@x"
    files = {
        "crlf.json": (
            "\r\n",
            [
                "\ufeff" + f'{{"user":"a@x","timestamp":{DAY},"x":1.0}}',
                "   ",
                "[]",
                "null",
                '"text"',
                "5",
                f'{{"user":null,"timestamp":{DAY}}}',
                f'{{"timestamp":{DAY}}}',
                '{"user":"b@x","timestamp":"soon"}',
                f'{{"user":"c@x","timestamp":{DAY + 1},"extra":{{"n":[1,{{"m":null}}]}}}}',
                f'{{"user":"d@x","timestamp":{DAY + 86_400_000}}}',
            ],
        ),
        "rejects-only.json": ("\n", ["{", '{"x":1.0}', f'{{"user":"n\u0000ul@x","timestamp":{DAY}}}']),
        "long.json": ("\n", [f'{{"user":"{long_user}","timestamp":{DAY}}}', '{"user":"' + "\u00fc" * 100_000 + '","timestamp":']),
    }
    folder = tmp_path / "landing"
    folder.mkdir()
    for name, (ending, lines) in files.items():
        (folder / name).write_bytes((ending.join(lines) + ending).encode("utf-8"))
    landing = read.landing(
        small_shuffles, folder.as_uri() + "/", ACCELEROMETER_LANDING, ACCELEROMETER_KEYS, (date(2022, 6, 18),) * 2, "timestamp"
    )
    records = sorted((r.user, r.timestamp, r.x) for r in landing.records.collect())  # the action that counts
    assert records == [("a@x", DAY, 1.0), ("c@x", DAY + 1, None), (long_user, DAY, None)]
    assert (landing.lines, landing.kept) == (15, 3)  # d@x is a record of another day: neither kept nor rejected
    assert landing.rejected == {"malformed JSON": 8, "missing key field: user": 2, "missing key field: user, timestamp": 1}
    rejects = sorted((r.source_file.rsplit("/", 1)[1], r.reason, r.record) for r in landing.rejects.collect())
    landing.release()
    reasons = {
        f'{{"user":null,"timestamp":{DAY}}}': "missing key field: user",
        f'{{"timestamp":{DAY}}}': "missing key field: user",
        '{"x":1.0}': "missing key field: user, timestamp",
    }
    is_record = ("a@x", "c@x", "d@x", long_user)
    expected = [
        (name, reasons.get(line, "malformed JSON"), line)
        for name, (_, lines) in files.items()
        for line in lines
        if line.strip() and not any(f'"user":"{user}"' in line for user in is_record)
    ]
    assert rejects == sorted(expected)  # each reject's whole raw line (without its CR) and its own file


def test_customer_trusted_keeps_consenting_customers(small_shuffles):
    frame = customers(small_shuffles, [customer("A", "a@x", "s1", 10), customer("B", "b@x", "s2", None)])
    assert [r.email for r in t.customer_trusted(frame).collect()] == ["a@x"]


def test_accelerometer_trusted_keeps_readings_of_trusted_customers_with_dates(small_shuffles):
    trusted = customers(small_shuffles, [customer("A", "a@x", "s1", 10)])
    readings = small_shuffles.createDataFrame(
        [("a@x", DAY + 1000, 1.0, 0.0, 0.0), ("z@x", DAY, 0.0, 0.0, 0.0), ("a@x", DAY - 1, 0.0, 1.0, 0.0)], ACCELEROMETER_LANDING
    )
    rows = sorted((r.user, r.timestamp, r.reading_date) for r in t.accelerometer_trusted(readings, trusted).collect())
    assert rows == [("a@x", DAY - 1, date(2022, 6, 17)), ("a@x", DAY + 1000, date(2022, 6, 18))]


def test_customer_curated_is_one_row_per_customer_with_readings(small_shuffles):
    trusted = customers(
        small_shuffles,
        [customer("A old", "a@x", "s1", 10, 1), customer("A new", "a@x", "s1", 10, 2), customer("B", "b@x", "s2", 10)],
    )
    readings = small_shuffles.createDataFrame([("a@x",), ("a@x",)], "user string")
    assert [(r.customerName, r.email) for r in t.customer_curated(trusted, readings).collect()] == [("A new", "a@x")]


def test_step_trainer_trusted_keeps_devices_of_curated_customers(small_shuffles):
    curated = customers(small_shuffles, [customer("A", "a@x", "s1", 10)])
    readings = small_shuffles.createDataFrame([(DAY, "s1", 230), (DAY, "s9", 240)], STEP_TRAINER_LANDING)
    rows = [(r.serialNumber, r.distanceFromObject, r.reading_date) for r in t.step_trainer_trusted(readings, curated).collect()]
    assert rows == [("s1", 230, date(2022, 6, 18))]


def test_machine_learning_joins_same_instant_of_the_same_customer(small_shuffles):
    curated = customers(small_shuffles, [customer("A", "a@x", "s1", 10), customer("B", "b@x", "s2", 10)])
    step = t.step_trainer_trusted(
        small_shuffles.createDataFrame([(DAY, "s1", 230), (DAY + 5, "s1", 231)], STEP_TRAINER_LANDING), curated
    )
    accel = t.accelerometer_trusted(
        small_shuffles.createDataFrame(
            [("a@x", DAY, 1.0, 0.0, 0.0), ("b@x", DAY, 0.0, 1.0, 0.0), ("a@x", DAY + 7, 0.0, 0.0, 1.0)], ACCELEROMETER_LANDING
        ),
        curated,
    )
    owners = curated.selectExpr("serialNumber", "email AS user")
    rows = [
        (r.sensorReadingTime, r.serialNumber, r.user, r.timestamp, r.x)
        for r in t.machine_learning_curated(step, accel, owners, "user").collect()
    ]
    assert rows == [(DAY, "s1", "a@x", DAY, 1.0)]


def test_pseudonymise_replaces_email_and_drops_identifiers(small_shuffles):
    key = b"k" * 32
    frame = customers(small_shuffles, [customer("A", "a@x", "s1", 10)])
    row = pseudonymise(small_shuffles, frame, "email", key).collect()[0].asDict()
    assert row["customerPseudonym"] == hmac.new(key, b"a@x", hashlib.sha256).hexdigest()
    assert not {"customerName", "email", "phone", "birthDay"} & row.keys()


def test_the_pseudonym_table_holds_each_value_once_however_it_is_written(small_shuffles):
    key = b"k" * 32
    values = ["a@x", "a@x", 'q"uote\\@x', "line\nbreak@x", "\u00fcn\u00ef@x", "", "tab\t@x", "{}", "null"]
    table = pseudonym_table(small_shuffles, values, key, "_key")
    rows = [(r["_key"], r["customerPseudonym"]) for r in table.collect()]
    assert sorted(rows) == sorted((v, hmac.new(key, v.encode(), hashlib.sha256).hexdigest()) for v in set(values))
    assert pseudonym_table(small_shuffles, [], key, "_key").collect() == []


def test_hostile_emails_find_their_pseudonyms_through_the_table(small_shuffles):
    """Spark's own strings and the table's, parsed from JSON escapes, must be equal for the join: surrogate pairs,
    line and paragraph separators, NUL, escapes written as text, values that are JSON themselves."""
    key = b"k" * 32
    emails = ['q"@x', "b\\s@x", "t\t@x", "n\nl@x", "\u2028\u2029@x", "nul\u0000@x", "\U0001f600@x", "\\u0000@x"]
    emails += ["{}", "null", "[1]", '"', "", " ", " Pad@X ", "pad@x", "e\u0301@x", "\ufeff@x", "\x7f\x1f@x"]
    frame = small_shuffles.createDataFrame([(email,) for email in [*emails, None]], "email string")
    rows = pseudonymise(small_shuffles, frame, "email", key, values_from=frame).collect()
    assert sorted(r.customerPseudonym for r in rows) == sorted(
        hmac.new(key, email.strip(" ").lower().encode(), hashlib.sha256).hexdigest() for email in emails
    )  # every row but the one without an email, none failed as missing from the table


def test_a_table_whose_first_run_failed_is_not_read_as_an_empty_one(small_shuffles, tmp_path):
    table = tmp_path / "customer" / "trusted"
    (table / "_staging").mkdir(parents=True)  # what a failed first run leaves locally
    with pytest.raises(JobFailed, match=r"trusted/: no table there yet; run stedi_customer_trusted first"):
        read.read_table(small_shuffles, Storage(), table.as_uri() + "/", "parquet", CUSTOMER_TRUSTED, "stedi_customer_trusted")
    publish_table(small_shuffles.createDataFrame([], CUSTOMER_TRUSTED), Storage(), table.as_uri() + "/", "parquet")
    assert read.read_table(small_shuffles, Storage(), table.as_uri() + "/", "parquet", CUSTOMER_TRUSTED, "x").count() == 0


def test_key_comes_from_environment_then_a_private_generated_file(tmp_path):
    source = (tmp_path / "secrets" / "pseudonym.key").as_uri()
    assert resolve_key(source, environ={"PSEUDONYM_KEY": "e" * 20}) == b"e" * 20
    first = resolve_key(source, environ={})
    path = tmp_path / "secrets" / "pseudonym.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and len(first) == 64
    assert resolve_key(source, environ={}) == first
    with pytest.raises(PseudonymKeyError, match="shorter than 16 bytes"):
        resolve_key(source, environ={"PSEUDONYM_KEY": "short"})


def test_missing_secret_is_a_clear_error(moto_server):
    import boto3

    with pytest.raises(PseudonymKeyError, match="no secret 'stedi/key'.*create-secret"):
        resolve_key("secretsmanager:stedi/key", environ={}, secrets_client=lambda: boto3.client("secretsmanager"))
    client = boto3.client("secretsmanager")
    client.create_secret(Name="stedi/key", SecretString="s" * 24)
    assert resolve_key("secretsmanager:stedi/key", environ={}, secrets_client=lambda: client) == b"s" * 24


def test_publish_replaces_the_table_or_only_the_dates_of_a_range(small_shuffles, tmp_path):
    url = (tmp_path / "zone" / "table").as_uri() + "/"
    frame = small_shuffles.createDataFrame([(1, date(2022, 6, 17)), (2, date(2022, 6, 18))], "v int, reading_date date")
    publish_table(frame, Storage(), url, "parquet", partitioned=True)
    publish_table(frame, Storage(), url, "parquet", partitioned=True)
    assert sorted(r.v for r in small_shuffles.read.parquet(url).collect()) == [1, 2]
    update = small_shuffles.createDataFrame([(3, date(2022, 6, 18))], "v int, reading_date date")
    publish_table(update, Storage(), url, "parquet", partitioned=True, first=date(2022, 6, 18), last=date(2022, 6, 18))
    assert sorted(r.v for r in small_shuffles.read.parquet(url).collect()) == [1, 3]
    assert sorted(p.name for p in (tmp_path / "zone").iterdir()) == ["table"]
    assert [p.name for p in (tmp_path / "zone" / "table" / "_staging").iterdir()] == []


def test_athena_sql_is_translated_for_the_local_engine():
    sql = """SELECT "user", from_unixtime("timestamp" / 1000), approx_distinct(x), date_diff('day', a, b) FROM t WHERE s = 'say "hi" from_unixtime('"""
    assert translate_query(sql) == (
        """SELECT "user", CAST(TO_TIMESTAMP("timestamp" / 1000) AS TIMESTAMP), APPROX_COUNT_DISTINCT(x), DATE_DIFF('DAY', a, b) """
        """FROM t WHERE s = 'say "hi" from_unixtime('"""
    )
    statement = Statement(
        "sql/x.sql",
        "CREATE EXTERNAL TABLE IF NOT EXISTS `db`.`t` (\n  `a` string\n)\nPARTITIONED BY (`reading_date` string)\n"
        "STORED AS PARQUET\nLOCATION 'file:///l/t/'\nTBLPROPERTIES ('projection.enabled'='true', "
        "'storage.location.template'='file:///l/t/reading_date=${reading_date}/')",
    )
    local = local_table(statement.source, statement.sql, from_ddl(statement.sql))
    assert (local.database, local.name, local.kind) == ("db", "t", "parquet")
    assert local.folders == (Folder("reading_date=", "reading_date", ""),)


def test_an_email_key_strips_ascii_whitespace_at_its_ends_only_and_a_blank_line_is_ascii_whitespace(small_shuffles):
    """Inside an email whitespace is kept; NBSP is no whitespace here (Python's ``strip`` would take it);
    only whitespace is the empty key, null stays null. A line of NBSP is a malformed reject, not a blank."""
    emails = {
        "\f\v Ana@X.com \t\r\n": "ana@x.com",
        " an a@x \t": "an a@x",
        "a\t\n@x": "a\t\n@x",
        "\u00a0ana@x\u00a0": "\u00a0ana@x\u00a0",
        " \t\n\r\f\v": "",
        None: None,
    }
    frame = small_shuffles.createDataFrame([(email,) for email in emails], "email string")
    keys = {r.email: r.key for r in frame.select("email", t.email_key("email").alias("key")).collect()}
    assert keys == emails
    lines = small_shuffles.createDataFrame(
        [("\u00a0", "f1"), ("\v\f\t \r", "f1"), (None, "f1"), ('\t{"user":"a@x","timestamp":5}\r', "f2")],
        "value string, source_file string",
    )
    classified = t.classify_landing(lines, ACCELEROMETER_LANDING, ACCELEROMETER_KEYS)
    rows = [(r.source_file, r.reason, r.r.user if r.reason is None else r.value) for r in classified.collect()]
    assert sorted(rows, key=repr) == [("f1", "malformed JSON", "\u00a0"), (None, None, "a@x")]


def test_a_text_key_that_is_empty_or_whitespace_is_missing_and_other_values_are_kept(small_shuffles):
    """Each landing's text keys (email, serialNumber, user): blank is missing, as null is; NBSP is no
    whitespace here, so it is a value; a number key of 0 is a value."""
    customer_lines = [
        '{"email":"","serialNumber":"s1","shareWithResearchAsOfDate":1}',
        '{"email":" \\t\\r\\n\\f\\u000b","serialNumber":"s2"}',
        '{"email":"a@x","serialNumber":"   "}',
        '{"email":"\\t","serialNumber":""}',
        '{"email":"\\u00a0","serialNumber":"s3"}',
        '{"email":" b@x ","serialNumber":" s4"}',
    ]
    step_lines = ['{"sensorReadingTime":0,"serialNumber":"s1"}', '{"sensorReadingTime":5,"serialNumber":"\\n"}']
    accel_lines = ['{"user":"","timestamp":0}', '{"user":" ","timestamp":null}', '{"user":"a@x","timestamp":0}']

    def reasons(lines, schema, keys):
        frame = small_shuffles.createDataFrame([(line, "f") for line in lines], "value string, source_file string")
        return [r.reason for r in t.classify_landing(frame, schema, keys).collect()]

    assert reasons(customer_lines, CUSTOMER_LANDING, CUSTOMER_KEYS) == [
        "missing key field: email",
        "missing key field: email",
        "missing key field: serialNumber",
        "missing key field: email, serialNumber",
        None,
        None,
    ]
    assert reasons(step_lines, STEP_TRAINER_LANDING, STEP_TRAINER_KEYS) == [None, "missing key field: serialNumber"]
    assert reasons(accel_lines, ACCELEROMETER_LANDING, ACCELEROMETER_KEYS) == [
        "missing key field: user",
        "missing key field: user, timestamp",
        None,
    ]
    assert set(reasons(customer_lines, CUSTOMER_LANDING, CUSTOMER_KEYS)) - {None} <= set(t.reject_reasons(CUSTOMER_KEYS))


def test_a_line_is_a_record_only_when_it_holds_one_json_object_and_nothing_after_it(small_shuffles):
    """Spark's parser reads a line's first value and never looks further: records written back to back (a
    stream without delimiters) kept the first and lost the others unseen; text after an object was ignored."""
    malformed = [
        '{"user":"a@x","timestamp":1}{"user":"b@x","timestamp":2}',
        '{"user":"a@x","timestamp":1} {"user":"b@x","timestamp":2}',
        '{"user":"a@x","timestamp":1},{"user":"b@x","timestamp":2}',
        '{"user":"a@x","timestamp":1} and more',
        '{"user":"a@x","timestamp":1}]',
        '{"user":"a@x","timestamp":1}}',
        '{"user":"a@x","timestamp":1},',
        '{"user":"a@x","timestamp":1}0',
        '{"user":"a@x","timestamp":1} null',
        '{"user":"a@x","timestamp":1} // a comment',
    ]
    records = [
        '{"user":"a@x","timestamp":1}',
        ' \t{"user":"a}{b@x","timestamp":2}\r',
        '{"user":"[c@x],0]","timestamp":3} ',
        '{"user":"d@x","timestamp":4,"x":null,"extra":[{"y":"}{"}]}',
    ]
    frame = small_shuffles.createDataFrame([(line, "f") for line in malformed + records], "value string, source_file string")
    kept, rejects = t.split_landing(t.classify_landing(frame, ACCELEROMETER_LANDING, ACCELEROMETER_KEYS), ACCELEROMETER_LANDING)
    assert sorted((r.record, r.reason) for r in rejects.collect()) == sorted((line, "malformed JSON") for line in malformed)
    assert sorted(r.user for r in kept.collect()) == ["[c@x],0]", "a@x", "a}{b@x", "d@x"]


def test_a_line_whose_text_after_its_object_closes_the_probing_array_is_still_malformed(small_shuffles):
    """A value followed by ``,<value>]`` makes ``[line,0]`` an array of two that ends inside the line, so what
    follows was never read: the line kept its first record and lost the rest unseen (found by comparing the
    job with Python's json.loads on fuzzed lines)."""
    malformed = [
        '{"user":"a@x","timestamp":1},0] {"user":"b@x","timestamp":2}',
        '{"user":"a@x","timestamp":1},0]',
        '{"user":"a@x","timestamp":1},0]]',
        '{"user":"a@x","timestamp":1},[0]] and more',
        '{"user":"a@x","timestamp":1},"b"],[1',
        '{"user":"a@x","timestamp":1}, {"user":"b@x","timestamp":2}]',
        '{"user":"a@x","timestamp":1}],[{"user":"b@x","timestamp":2}',
    ]
    records = ['{"user":"],0]","timestamp":3}', ' {"user":"}","timestamp":4,"extra":[0,[1]]}\t']
    frame = small_shuffles.createDataFrame([(line, "f") for line in malformed + records], "value string, source_file string")
    kept, rejects = t.split_landing(t.classify_landing(frame, ACCELEROMETER_LANDING, ACCELEROMETER_KEYS), ACCELEROMETER_LANDING)
    assert sorted((r.record, r.reason) for r in rejects.collect()) == sorted((line, "malformed JSON") for line in malformed)
    assert sorted(r.user for r in kept.collect()) == ["],0]", "}"]


def test_emails_are_keys_whatever_their_case_and_surrounding_whitespace(small_shuffles):
    key = b"k" * 32
    trusted = customers(
        small_shuffles,
        [
            customer("A old", "Ana@X.com", "s1", 10, 1),
            customer("A new", "\t ana@x.COM\r\n", "s1", 10, 2),
            customer("B", "b@x", "s2", 10),
        ],
    )
    readings = small_shuffles.createDataFrame(
        [("ANA@X.COM\t", DAY, 1.0, 0.0, 0.0), ("ana@x.com", DAY + 1, 0.0, 1.0, 0.0), ("nobody@x", DAY, 0.0, 0.0, 1.0)],
        ACCELEROMETER_LANDING,
    )
    accel = t.accelerometer_trusted(readings, trusted)
    assert sorted(r.user for r in accel.collect()) == ["ANA@X.COM\t", "ana@x.com"]
    curated = t.customer_curated(trusted, accel)
    assert [(r.customerName, r.email) for r in curated.collect()] == [("A new", "\t ana@x.COM\r\n")]
    expected = hmac.new(key, b"ana@x.com", hashlib.sha256).hexdigest()
    assert [r.customerPseudonym for r in pseudonymise(small_shuffles, curated, "email", key).collect()] == [expected]
    # The keys collected from the trusted table the curated rows were filtered from: the same rows, none added.
    from_trusted = pseudonymise(small_shuffles, curated, "email", key, values_from=trusted).collect()
    assert [(r.lastUpdateDate, r.customerPseudonym) for r in from_trusted] == [(2, expected)]
    # A values_from that lacks a row's email fails the action, naming the column, not the email: no row is left out.
    lacking = trusted.where(F.col("customerName") == "B")
    with pytest.raises(Exception, match="email: a row's value is not among the values pseudonymised") as failure:
        pseudonymise(small_shuffles, curated, "email", key, values_from=lacking).collect()
    assert "ana@x" not in str(failure.value).lower()
    assert {r.customerPseudonym for r in pseudonymise(small_shuffles, accel, "user", key).collect()} == {expected}
    step = t.step_trainer_trusted(
        small_shuffles.createDataFrame([(DAY, "s1", 230), (DAY + 1, "s1", 231)], STEP_TRAINER_LANDING), curated
    )
    owners = curated.selectExpr("serialNumber", "email AS user")
    ml = t.machine_learning_curated(step, accel, owners, "user")
    assert sorted((r.sensorReadingTime, r.user) for r in ml.collect()) == [(DAY, "ANA@X.COM\t"), (DAY + 1, "ana@x.com")]


def test_counts_are_observed_by_the_action_and_taken_by_an_aggregate_where_spark_left_them_out(small_shuffles):
    threads = set(threading.enumerate())
    rows = small_shuffles.createDataFrame([(1,), (2,), (3,)], "v int")
    seen = observed.Counts(rows, odd=F.col("v") % 2 == 1, every=observed.every_row())
    assert seen.frame.where("v > 1").count() == 2
    assert observed.observed(rows, seen._observation)  # the action's metrics, nothing aggregated
    assert seen.as_dict() == {"odd": 2, "every": 3}
    # Joined with a side Spark knows is empty (when planning, or once it ran, as adaptive execution on Glue
    # does), or under a filter it knows is false, the observed rows are never read: that is known as soon
    # as the action ended (no metrics came), and an aggregate takes the counts.
    planned_empty, found_empty = rows.where(F.lit(False)), small_shuffles.createDataFrame([], "v int")
    prunes = [
        (lambda frame: frame.join(planned_empty, "v", "left_semi"), "false"),
        (lambda frame: frame.join(found_empty, "v", "left_semi"), "true"),
        (lambda frame: frame.where(F.lit(False)), "false"),
    ]
    adaptive = small_shuffles.conf.get("spark.sql.adaptive.enabled")
    for prune, adaptive_execution in prunes:
        small_shuffles.conf.set("spark.sql.adaptive.enabled", adaptive_execution)
        try:
            pruned = observed.Counts(rows, odd=F.col("v") % 2 == 1, every=observed.every_row())
            assert prune(pruned.frame).collect() == []
            assert not observed.observed(rows, pruned._observation)
            assert (pruned["odd"], pruned["every"]) == (2, 3)
        finally:
            small_shuffles.conf.set("spark.sql.adaptive.enabled", adaptive)
    # Counts read before any action ran are aggregated too.
    unread = observed.Counts(rows, every=observed.every_row())
    assert unread["every"] == 3
    # Nothing is left waiting for metrics that never come (a reader thread blocked on Observation.get).
    assert set(threading.enumerate()) <= threads
