"""How much the job takes out of an export archive, at most: per member, per archive and per member-day.

An archive is hostile input like any other: a few megabytes of zip can hold gigabytes of one
repeated line. The limits (config.yml ``embrace.limits``, handed to the job as arguments) are
checked in the zip's central directory before anything is decompressed:

* a member larger than ``max_member_bytes`` uncompressed, or one over ``RATIO_FROM_BYTES`` whose
  uncompressed size is more than ``max_member_ratio`` times its compressed size, is refused: a
  reject of its stream with the reason, never read; the rest of the archive is read as usual;
* an archive whose selected members add up to more than ``max_archive_bytes``, or number more than
  ``max_members``, fails as a whole (its published outputs stay as they are), as an unreadable
  archive does: each member costs a task's start-up, however few rows it holds;
* a metadata.csv over ``METADATA_BYTES`` is refused (it is read whole; real ones hold a few lines).

The directory can lie, so reading does not trust it either: zipfile never returns more of a member
than its directory entry declares (a member holding more fails its CRC check, and so its archive),
and a member one of whose UTC days passes ``max_rows_per_day`` readings is refused while it streams
(see ``day_buffer``), so a task never holds more than that many rows of a member-day.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass

# Members up to one parse block are never held to the ratio: they cost at most that much to read.
RATIO_FROM_BYTES = 4 << 20
METADATA_BYTES = 1 << 20
# The least value of each limit (a ratio of 1 would refuse every deflated member over 4 MiB).
MINIMUMS = {
    "max_member_bytes": 1024,
    "max_member_ratio": 2,
    "max_archive_bytes": 1024,
    "max_rows_per_day": 1,
    "max_members": 1,
}


@dataclass(frozen=True)
class ArchiveLimits:
    """The limits of one run, as its job arguments give them."""

    max_member_bytes: int = 16 << 30
    max_member_ratio: int = 100
    max_archive_bytes: int = 1 << 40
    max_rows_per_day: int = 10_000_000
    max_members: int = 20_000

    def member_problem(self, info: zipfile.ZipInfo, metadata: bool = False) -> str | None:
        """Why the directory entry ``info`` must not be read, or None."""
        size, packed = info.file_size, info.compress_size
        if metadata and size > METADATA_BYTES:
            return f"metadata member of {size:,} bytes uncompressed, over the {METADATA_BYTES:,} bytes a metadata.csv may hold"
        if size > self.max_member_bytes:
            return f"{size:,} bytes uncompressed, over {_setting('max_member_bytes', self.max_member_bytes)}"
        if size > RATIO_FROM_BYTES and size > self.max_member_ratio * packed:
            ratio = f"{size / packed:,.0f}" if packed else "unbounded"
            return (
                f"compression ratio {ratio} ({size:,} bytes from {packed:,}), "
                f"over {_setting('max_member_ratio', self.max_member_ratio)}"
            )
        return None

    def archive_problem(self, selected_bytes: int, selected_members: int) -> str | None:
        """Why an archive whose ``selected_members`` declare ``selected_bytes`` uncompressed must not be read, or None."""
        if selected_members > self.max_members:
            return f"it holds {selected_members:,} selected members, over {_setting('max_members', self.max_members)}"
        if selected_bytes > self.max_archive_bytes:
            return (
                f"its selected members declare {selected_bytes:,} bytes uncompressed, "
                f"over {_setting('max_archive_bytes', self.max_archive_bytes)}"
            )
        return None

    def day_problem(self, day: str) -> str:
        """Why a member is refused once one of its days passes ``max_rows_per_day``."""
        return f"more than {_setting('max_rows_per_day', self.max_rows_per_day)} readings on {day}"


def _setting(name: str, value: int) -> str:
    return f"embrace.limits.{name} ({value:,}; job argument --{name.replace('_', '-')}); raise it if the export is real"


DEFAULT_LIMITS = ArchiveLimits()
