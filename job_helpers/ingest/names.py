"""Patient names in file names and EDF headers: the map key, replacement, the leak check, and times in names.

A patient folder's name is split into words on spaces, ``_``, ``-``, ``.`` and ``,``. Its subject key
(the subject map's lookup key) is the sorted, case-folded words, so ``Smith_John`` and ``john smith``
are one patient.

Names are compared after folding (``fold``): lower case, German umlauts and ß written out (ä→ae,
ö→oe, ü→ue, ß→ss), every other character transliterated to ASCII (é→e, ø→o, ł→l); and in a name
word an ``e`` after a, o or u may be there or not, so Müller, Mueller, MULLER and Muller are one
word. ``PatientName.replace`` replaces:

* the whole name: every word, in any order, with separators or none between them, anywhere, also
  inside longer names (``EEG_SMITHJOHN_2024``); likewise its name words alone, without numbers
  and particles (``Van Der Berg, Anna 1985`` → ``Berg Anna``);
* each word of two letters or more on its own, between non-letters (the surname alone, ``Smith``),
  with initials of the other words next to it (``Smith_J``, ``J.Smith``, ``SMITHJ``). A single
  letter is never replaced on its own, nor a particle (van, der, de…) outside the whole name.

``PatientName.leaks`` is the check made after replacement, which refuses the upload: a word of four
letters or more anywhere, even inside another word (``drsmith``), or a word of three letters
standing on its own. Two-letter words are replaced when they stand alone but never refused, as they
turn up inside too many ordinary words.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime

from anyascii import anyascii

SEPARATORS = r"[\s_.,-]"
MAX_PERMUTED_WORDS = 4
REDACTED = "***"
GERMAN = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}
PARTICLES = frozenset("al bin da das de del della den der di do dos du el ibn la le lo st ten ter van vom von zu zum zur".split())
_JOIN = f"{SEPARATORS}*"
_NOT_LETTER_BEFORE, _NOT_LETTER_AFTER = "(?<![a-z])", "(?![a-z])"


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


def fold(text: str) -> tuple[str, list[int]]:
    """``text`` lower-cased and in ASCII, with the index in ``text`` of every character it gave."""
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for lower in char.lower():
            ascii_text = GERMAN.get(lower) or anyascii(lower).lower()
            folded.append(ascii_text)
            origin.extend([index] * len(ascii_text))
    return "".join(folded), origin


def _core(word: str) -> str:
    """A folded word with the ``e`` written after a, o, u dropped: mueller -> muller."""
    return re.sub(r"([aou])e", r"\1", word)


def _word_pattern(core: str) -> str:
    return "".join(re.escape(char) + ("e?" if char in "aou" else "") for char in core)


def _orders(found: list[str]) -> list[tuple[str, ...]]:
    """Every order of a few words; first-to-last and last-to-first of more."""
    if len(found) <= MAX_PERMUTED_WORDS:
        return list(itertools.permutations(found))
    return [tuple(found), tuple(reversed(found))]


def _alternation(patterns: list[str]) -> str:
    return "|".join(sorted(set(patterns), key=len, reverse=True))


class PatientName:
    """One patient folder's name, ready to be replaced in, checked for and masked in any text."""

    def __init__(self, folder_name: str) -> None:
        found = words(folder_name)
        if not found:
            raise PatientNameError("a patient folder name has no letters or digits; rename the folder")
        cores = [_core(fold(word)[0]) for word in found]
        names = [core for core in cores if core.isalpha() and core not in PARTICLES]
        wholes = [cores] + ([names] if len(names) > 1 and names != cores else [])
        whole = _alternation([_JOIN.join(map(_word_pattern, order)) for found_words in wholes for order in _orders(found_words)])
        if len(cores) == 1:
            whole = f"{_NOT_LETTER_BEFORE}(?:{whole}){_NOT_LETTER_AFTER}"
        alone = []
        for index, core in enumerate(names):
            if len(core) < 2:
                continue
            initials = "".join(sorted({other[0] for j, other in enumerate(names) if j != index}))
            around = len(names) - 1
            pattern = _word_pattern(core)
            if initials:
                pattern = f"(?:[{initials}]{_JOIN}){{0,{around}}}{pattern}(?:{_JOIN}[{initials}]){{0,{around}}}"
            alone.append(f"{_NOT_LETTER_BEFORE}{pattern}{_NOT_LETTER_AFTER}")
        self._replace = re.compile(f"{whole}|{_alternation(alone)}" if alone else whole)
        leaking = [_word_pattern(core) for core in names if len(core) >= 4]
        leaking += [f"{_NOT_LETTER_BEFORE}{_word_pattern(core)}{_NOT_LETTER_AFTER}" for core in names if len(core) == 3]
        self._leaks = re.compile(_alternation(leaking)) if leaking else None
        inside = [_word_pattern(core) for core in names if len(core) >= 3]
        self._inside = re.compile(_alternation(inside)) if inside else None

    def replace(self, text: str, code: str) -> str:
        """``text`` with every occurrence of the name (see the module's rules) replaced by ``code``."""
        return _substitute(text, self._replace, code)

    def leaks(self, text: str) -> bool:
        """True when ``text`` still holds a word of the name that the upload must refuse."""
        return self._leaks is not None and self._leaks.search(fold(text)[0]) is not None

    def mask(self, text: str) -> str:
        """For display only: the name replaced by ***, and any name word of 3+ letters inside other words too."""
        text = self.replace(text, REDACTED)
        return _substitute(text, self._inside, REDACTED) if self._inside is not None else text


def _substitute(text: str, pattern: re.Pattern[str], replacement: str) -> str:
    """Replace the matches of ``pattern`` in ``fold(text)`` by ``replacement`` in ``text`` itself."""
    folded, origin = fold(text)
    pieces, done = [], 0
    for match in pattern.finditer(folded):
        if match.end() == match.start() or origin[match.start()] < done:
            continue
        start, end = origin[match.start()], origin[match.end() - 1] + 1
        pieces += [text[done:start], replacement]
        done = end
    return "".join(pieces) + text[done:]


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
                int(parts["y"]),
                int(parts["m"]),
                int(parts["d"]),
                int(parts["H"] or 0),
                int(parts["M"] or 0),
                int(parts["S"] or 0),
            )
        except ValueError:
            continue
    return None
