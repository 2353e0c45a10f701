"""The job's arguments: every output is one, and a bad value fails the run naming its argument."""

from __future__ import annotations

from datetime import date

import pytest

from job_helpers.embrace import parameters
from job_helpers.embrace.limits import ArchiveLimits
from job_helpers.embrace.outputs import OUTPUTS
from job_helpers.embrace.transform import DayCounts
from job_helpers.runtime import JobFailed

ARGS = {
    "from_date": "2024-03-01",
    "to_date": "2024-03-31",
    "landing": "s3://b/landing/",
    **{name: f"s3://b/{name}/" for name in OUTPUTS},
    "streams": "eda,acc",
    "participants": "FC096",
    "participant_regex": ".*",
    "max_csv_bytes": "1073741824",
    "max_member_bytes": "1048576",
    "max_member_ratio": "50",
    "max_archive_bytes": "2048",
    "max_rows_per_day": "7",
    "max_members": "9",
}


def test_every_output_is_an_option_and_a_location_of_the_parameters():
    assert {name.replace("-", "_") for name in parameters.OPTIONS} >= set(OUTPUTS)
    params = parameters.from_args(ARGS)
    assert params.outputs == {name: f"s3://b/{name}/" for name in OUTPUTS}
    assert (params.first, params.last, params.scope) == (date(2024, 3, 1), date(2024, 3, 31), "2024-03-01_2024-03-31")
    assert params.selection.streams == ("acc", "eda") and params.selection.participants == {"fc096"}
    assert params.allow_shrink is False
    assert params.limits == ArchiveLimits(
        max_member_bytes=1 << 20, max_member_ratio=50, max_archive_bytes=2048, max_rows_per_day=7, max_members=9
    )
    assert parameters.from_args({**ARGS, "allow_shrink": "TRUE"}).allow_shrink is True


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("max_csv_bytes", "1023", r"--max-csv-bytes '1023' must be a whole number of at least 1024 \(1 GB is 1073741824\)"),
        ("max_csv_bytes", "1e9", r"--max-csv-bytes '1e9'"),
        ("streams", "eda,gps", r"--streams: gps unknown"),
        ("participant_regex", "fc(", r"--participant-regex 'fc\(' is not a regular expression"),
        ("allow_shrink", "maybe", r"--allow-shrink 'maybe' must be true or false"),
        ("to_date", "2024-02-01", r"--to-date 2024-02-01 is before --from-date 2024-03-01"),
        ("max_member_ratio", "1", r"--max-member-ratio '1' must be a whole number of at least 2"),
        ("max_member_bytes", "-5", r"--max-member-bytes '-5' must be a whole number of at least 1024"),
        ("max_rows_per_day", "0", r"--max-rows-per-day '0' must be a whole number of at least 1"),
        ("max_members", "0", r"--max-members '0' must be a whole number of at least 1"),
    ],
)
def test_a_bad_argument_fails_the_run_naming_it(name, value, message):
    with pytest.raises(JobFailed, match=message):
        parameters.from_args({**ARGS, name: value})


def test_day_counts_add_up_by_name():
    total = DayCounts(total_rows=5, total_dupes=2, perfect=2, clean=4) + DayCounts(total_rows=3, nan=1, clean=2, overlap=3)
    assert total == DayCounts(total_rows=8, total_dupes=2, perfect=2, nan=1, unclear=0, clean=6, overlap=3)
    assert total.duplicates() == {"total_rows": 8, "total_dupes": 2, "perfect": 2, "nan": 1, "unclear": 0, "overlap": 3}
