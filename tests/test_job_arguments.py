from datetime import date

import pytest

from job_helpers import job_arguments
from job_helpers.runtime import JobFailed


def test_dates_choices_and_numbers_are_typed():
    args = {"from_date": "2024-02-28", "to_date": "2024-03-01", "mode": "fast", "max_workers": "8"}
    assert job_arguments.day_range(args) == (date(2024, 2, 28), date(2024, 3, 1))
    assert job_arguments.choice(args, "mode", ("fast", "slow")) == "fast"
    assert job_arguments.positive_int(args, "max-workers") == 8
    assert job_arguments.switch({"allow_shrink": " True"}, "allow-shrink") is True
    assert job_arguments.switch({"allow_shrink": "false"}, "allow-shrink") is False


@pytest.mark.parametrize(
    "args, call, message",
    [
        (
            {"from_date": "2024-13-01", "to_date": "2024-01-01"},
            job_arguments.day_range,
            r"--from-date '2024-13-01' is not a date",
        ),
        ({"from_date": "2024-01-02", "to_date": "2024-01-01"}, job_arguments.day_range, r"--to-date 2024-01-01 is before"),
        ({"mode": "warp"}, lambda a: job_arguments.choice(a, "mode", ("fast",)), r"--mode 'warp' is not one of fast"),
        ({"max_workers": "0"}, lambda a: job_arguments.positive_int(a, "max-workers"), r"--max-workers '0' must be"),
        (
            {"allow_shrink": "yes"},
            lambda a: job_arguments.switch(a, "allow-shrink"),
            r"--allow-shrink 'yes' must be true or false",
        ),
    ],
)
def test_bad_values_name_the_argument(args, call, message):
    with pytest.raises(JobFailed, match=message):
        call(args)


def test_optional_values_shares_and_bounded_numbers():
    assert job_arguments.optional_day_range({}) is None
    assert job_arguments.optional_day_range({"from_date": "2024-01-01", "to_date": "2024-01-01"}) == (date(2024, 1, 1),) * 2
    with pytest.raises(JobFailed, match="--to-date needs its partner"):
        job_arguments.optional_day_range({"to_date": "2024-01-01"})
    assert job_arguments.share({"max_reject_share": "0.25"}, "max-reject-share") == 0.25
    with pytest.raises(JobFailed, match=r"--max-reject-share '1.5' must be a number from 0 to 1"):
        job_arguments.share({"max_reject_share": "1.5"}, "max-reject-share")
    with pytest.raises(JobFailed, match=r"--max-csv-bytes '10' must be a whole number of at least 1024 \(1 GB"):
        job_arguments.whole_number({"max_csv_bytes": "10"}, "max-csv-bytes", 1024, "1 GB is 1073741824")
    assert job_arguments.optional_switch({}, "allow-shrink") is False
    assert job_arguments.optional_switch({"allow_shrink": "true"}, "allow-shrink") is True


@pytest.mark.parametrize(
    "name, meant",
    [
        ("timeseries-tpye", "timeseries-type"),
        ("timeseries-typ", "timeseries-type"),
        ("timeseries-types", "timeseries-type"),
        ("Timeseries-Type", "timeseries-type"),
        ("TIMESERIES-TYPE", "timeseries-type"),
        ("timeseries_type", "timeseries-type"),
        ("-timeseries-type", "timeseries-type"),
        ("max-worker", "max-workers"),
        ("tempdir", "TempDir"),
        ("ml-join", None),
        ("x", None),
    ],
)
def test_the_closest_declared_name_is_what_a_typo_was_meant_to_be(name, meant):
    declared = ["from-date", "to-date", "timeseries-type", "series-source", "max-workers", "TempDir"]
    assert job_arguments.closest(name, declared) == meant


def test_argument_names_are_the_options_of_an_argv():
    argv = ["script.py", "--JOB_NAME", "j", "--from-date=2024-01-01", "--x", "--", "-y", "value", "--z", "--not-a-value"]
    assert job_arguments.argument_names(argv) == ["JOB_NAME", "from-date", "x", "z", "not-a-value"]


def test_undeclared_names_each_get_one_line_and_glue_s_own_pass():
    problems = job_arguments.undeclared(["from-date", "TempDir", "JOB_RUN_ID", "fromdate", "zzz"], {"from-date", "to-date"})
    assert problems == [
        "--fromdate: the job takes no such argument; did you mean --from-date?",
        "--zzz: the job takes no such argument; it takes --from-date, --to-date",
    ]


@pytest.mark.parametrize("given", ["²", "３", "٣", "1" * 5000])
def test_a_whole_number_is_ascii_digits_and_a_foreign_or_endless_one_is_refused_by_name(given):
    """``isdigit()`` took superscripts (then int() crashed) and other scripts' digits; 5,000 digits crashed int()."""
    with pytest.raises(JobFailed, match="--max-csv-bytes .* must be a whole number of at least 1"):
        job_arguments.whole_number({"max_csv_bytes": given}, "max-csv-bytes", 1)


@pytest.mark.parametrize(
    "given", ["０.５", "0.0_1", "0.٥", " 0.5", "0.5\n", "nan", "inf", "1e400", "0x1", "-0", "+0.5", "½", "0,5", "1.0000001"]
)
def test_a_share_is_ascii_decimal_text_and_anything_else_is_refused_by_name(given):
    """float() took other scripts' digits (０.５), underscores (0.0_1) and spaces, as whole numbers no longer do."""
    with pytest.raises(JobFailed, match="^--max-row-loss .* must be a number from 0 to 1 in ASCII digits, e.g. 0.01 for 1%$"):
        job_arguments.share({"max_row_loss": given}, "max-row-loss")


@pytest.mark.parametrize("given, share", [("0", 0.0), ("1", 1.0), (".5", 0.5), ("1.", 1.0), ("1e-05", 1e-05), ("2.5E-3", 0.0025)])
def test_a_share_as_config_writes_it_is_read(given, share):
    """config.yml's shares reach the jobs as Python writes floats: 1e-05 for 0.00001."""
    assert job_arguments.share({"max_row_loss": given}, "max-row-loss") == share
    assert job_arguments.share({"max_row_loss": repr(share)}, "max-row-loss") == share
