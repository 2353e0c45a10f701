"""Patient names in file names: the map key, the case-insensitive matcher, and recording times in names.

A patient folder's name is split into words on spaces, ``_``, ``-``, ``.`` and ``,``. Its subject key
(the subject map's lookup key) is the sorted, case-folded words, so ``Smith_John`` and ``john smith``
are one patient. The matcher finds the words in any order with any of those separators or none
between them, inside longer names too (``EEG_SMITHJOHN_2024...``).
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime

SEPARATORS = r"[\s_.,-]"
MAX_PERMUTED_WORDS = 4


class PatientNameError(Exception):
    """A patient folder's name cannot serve as a name to replace."""


def words(name: str) -> list[str]:
    return [word for word in re.split(f"{SEPARATORS}+", name) if word]


def subject_key(folder_name: str) -> str:
    """The subject map's key for a patient folder: sorted, case-folded words."""
    found = words(folder_name)
    if not found:
        raise PatientNameError("a patient folder name has no letters or digits; rename the folder")
    return " ".join(sorted(word.casefold() for word in found))


def name_matcher(folder_name: str) -> re.Pattern[str]:
    """A case-insensitive pattern for the patient's name, words in any order, any or no separators."""
    found = words(folder_name)
    if not found:
        raise PatientNameError("a patient folder name has no letters or digits; rename the folder")
    if len(found) <= MAX_PERMUTED_WORDS:
        orders = set(itertools.permutations(found))
    else:
        orders = {tuple(found), tuple(reversed(found))}
    joiner = f"{SEPARATORS}*"
    alternatives = sorted((joiner.join(map(re.escape, order)) for order in orders), key=len, reverse=True)
    return re.compile("|".join(alternatives), re.IGNORECASE)


def replace_name(text: str, matcher: re.Pattern[str], code: str) -> str:
    return matcher.sub(code, text)


# 2024-03-01T09-30-00, 2024-03-01_093000, 20240301_0930, 20240301, 2024.03.01 ... (seconds optional).
_TIMESTAMP = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d\d)[-_.]?(?P<m>\d\d)[-_.]?(?P<d>\d\d)"
    r"(?:[T_ -]?(?P<H>\d\d)[-_.:hH]?(?P<M>\d\d)(?:[-_.:mM]?(?P<S>\d\d))?)?(?!\d)"
)


def time_from_name(name: str) -> datetime | None:
    """The first valid date (and time, if given) written in a file name, or None."""
    for match in _TIMESTAMP.finditer(name):
        parts = match.groupdict()
        try:
            return datetime(
                int(parts["y"]), int(parts["m"]), int(parts["d"]),
                int(parts["H"] or 0), int(parts["M"] or 0), int(parts["S"] or 0),
            )
        except ValueError:
            continue
    return None
