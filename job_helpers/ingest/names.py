"""Patient names: the subject map's key, the leak check over every text that leaves, and times in names.

Nothing here produces a landing key: keys are built from codes, times and numbers (``transform``).
The name is only *looked for*, in the few texts that may leave because ``config.yml`` keeps them
(folder names, extensions, EDF+ annotation texts) and in EDF header fields.

Names and texts are compared after folding (``fold``): Unicode NFKC (so NFC and NFD copies of a
folder, from macOS and Linux, are one name), case folded, German umlauts and ß written out (ä→ae,
ö→oe, ü→ue, ß→ss), Greek ου as ou, every other character transliterated to ASCII with
``anyascii`` (é→e, ø→o, Иванов→ivanov, 王伟→wangwei), every apostrophe (' ’ ʼ ‘ ` ´) one.

A patient folder's name is split into words on anything that is not a letter, a digit or an
apostrophe; a run of CJK ideographs or Hangul syllables is its first character (the family name)
and the rest. Titles (Dr, Prof, Mme, Herr…) are not name words.

* ``subject_key``: the sorted name words, apostrophes dropped: ``Müller_Jürgen`` (NFC or NFD),
  ``MUELLER juergen``, ``Dr. Müller, Jürgen`` are one subject; ``O'Brien`` ≡ ``O’Brien`` ≡ ``OBrien``.
* ``PatientName.leaks``: a name word of four letters or more anywhere, even inside another word
  (``drsmith``), with an ``e`` after a, o or u optional (Müller ≡ Mueller ≡ Muller); a word of three
  letters standing alone or glued to a title or an initial (``Lee_2``, ``DrLee``, ``JLee``); a word
  of two letters after a title (``Dr Li``, ``MrsNg``); the whole name, words in any order, with or
  without separators (``LeeLi``). Apostrophe words count whole and by their parts of three letters
  or more (``O'Brien``: ``obrien``, ``o brien``, ``brien``). Particles (van, de…) count only inside
  the whole name, single letters never.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from datetime import datetime

from anyascii import anyascii
from confusable_homoglyphs import categories

MAX_PERMUTED_WORDS = 4
GERMAN = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}
APOSTROPHES = "'’ʼ‘`´′ʻ"
PARTICLES = frozenset("al bin da das de del della den der di do dos du el ibn la le lo st ten ter van vom von zu zum zur".split())
TITLES = frozenset("dr drs dott prof mr mrs ms miss mx mme mlle herr frau hr fr sig sr sra srta sir dame rev jr md phd".split())
_TITLE = "(?:" + "|".join(sorted(TITLES, key=len, reverse=True)) + ")"
_GAP = "[^a-z]*"
_BEFORE, _AFTER = "(?<![a-z])", "(?![a-z])"
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
_GREEK_OU = re.compile("ου", re.IGNORECASE)
_CJK = frozenset({"HAN", "HIRAGANA", "KATAKANA", "BOPOMOFO", "HANGUL"})
_NO_SCRIPT = frozenset({"COMMON", "INHERITED"})
LEAK = "holds a word of the name"


class PatientNameError(Exception):
    """A patient folder's name cannot serve as a name to look for."""


def fold(text: str) -> str:
    """``text`` for comparison: NFKC, case folded, umlauts written out, transliterated to ASCII, one apostrophe."""
    text = _GREEK_OU.sub("ou", unicodedata.normalize("NFKC", text)).casefold()
    return "".join("'" if char in APOSTROPHES else GERMAN.get(char) or anyascii(char).lower() for char in text)


def _split_scripts(text: str) -> str:
    """A run of CJK ideographs or Hangul syllables as two words: its first character and the rest (王小明 → 王 小明)."""
    out, run = [], []
    for char in unicodedata.normalize("NFKC", text) + " ":
        if unicodedata.name(char, "").startswith(("CJK UNIFIED IDEOGRAPH", "HANGUL SYLLABLE")):
            run.append(char)
            continue
        if run:
            out.append(f" {run[0]} {''.join(run[1:])} ")
            run = []
        out.append(char)
    return "".join(out)


def name_words(name: str) -> list[str]:
    """The folded words of a name, titles left out; apostrophes kept inside words (``o'brien``)."""
    found = [word.strip("'") for word in _WORD.findall(fold(_split_scripts(name)))]
    return [word for word in found if word and word.replace("'", "") not in TITLES]


def subject_key(name: str) -> str:
    """The subject map's key for a patient folder (or an older map key): sorted folded words, apostrophes dropped."""
    found = [word.replace("'", "") for word in name_words(name)]
    if not found:
        raise PatientNameError("a patient folder name has no letters or digits; rename the folder")
    return " ".join(sorted(found))


def _core(word: str) -> str:
    """A folded word with the ``e`` written after a, o, u dropped: mueller -> muller."""
    return re.sub(r"([aou])e", r"\1", word)


def _word_pattern(word: str) -> str:
    """The pattern of a folded word: ``e`` after a, o, u optional; any non-letters between any two letters."""
    letters = _core(word.replace("'", ""))
    return _GAP.join(re.escape(char) + (f"(?:{_GAP}e)?" if char in "aou" else "") for char in letters)


def _scripts(word: str) -> frozenset[str]:
    """The scripts of a word's letters (Unicode Scripts.txt), the CJK ones as one."""
    found = {categories.alias(char) for char in word} - _NO_SCRIPT
    return frozenset("CJK" if script in _CJK else script for script in found)


def _shown(script: str) -> str:
    return script if script == "CJK" else script.title()


def _script_words(text: str) -> list[str]:
    """The runs of letters and marks of NFKC ``text``: what a reader sees as words."""
    normal = unicodedata.normalize("NFKC", text)
    return "".join(c if unicodedata.category(c)[0] in "LM" else " " for c in normal).split()


def _orders(found: list[str]) -> list[tuple[str, ...]]:
    """Every order of a few words; first-to-last and last-to-first of more."""
    if len(found) <= MAX_PERMUTED_WORDS:
        return list(itertools.permutations(found))
    return [tuple(found), tuple(reversed(found))]


def _alternation(patterns: list[str]) -> str:
    return "|".join(sorted(set(patterns), key=len, reverse=True))


def _one_word_pattern(word: str, initials: str) -> str | None:
    """A name word to look for on its own: anywhere at four letters or more, standing alone or glued to a
    title or an initial at three, after a title at two; never at one."""
    size, pattern = len(word.replace("'", "")), _word_pattern(word)
    if size >= 4:
        return pattern
    if size == 3:
        return f"{_BEFORE}(?:{_TITLE}|[{initials}])?{pattern}[{initials}]?{_AFTER}"
    if size == 2:
        return f"{_BEFORE}{_TITLE}{_GAP}{pattern}{_AFTER}"
    return None


def _whole_name_patterns(found: list[str], names: list[str]) -> list[str]:
    """The whole name, words in any order, with or without separators: all its words, and its name words alone."""
    patterns = []
    for words in {tuple(found), tuple(names)}:
        if len(words) > 1:
            whole = _alternation([_GAP.join(map(_word_pattern, order)) for order in _orders(list(words))])
            patterns.append(f"(?:{whole})" if sum(map(len, words)) >= 4 else f"{_BEFORE}(?:{whole}){_AFTER}")
    return patterns


class PatientName:
    """One patient folder's name, to be looked for in any text that leaves (see the module's rules)."""

    def __init__(self, folder_name: str) -> None:
        found = name_words(folder_name)
        if not found:
            raise PatientNameError("a patient folder name has no letters or digits; rename the folder")
        names = [w for w in found if w.replace("'", "").isalpha() and w.replace("'", "") not in PARTICLES]
        parts = [p for w in names if "'" in w for p in w.split("'") if len(p) >= 3 and p not in PARTICLES]
        initials = "".join(sorted({w[0] for w in names}))
        patterns = [pattern for word in names + parts if (pattern := _one_word_pattern(word, initials))]
        patterns += _whole_name_patterns(found, names)
        self._leaks = re.compile(_alternation(patterns)) if patterns else None
        self._comparable = frozenset({"LATIN"}).union(*map(_scripts, _script_words(folder_name)))

    def leaks(self, text: str) -> bool:
        """True when ``text`` holds a word of the name, read either way, separators or not: it must not leave."""
        folded = fold(text)
        return self._leaks is not None and any(self._leaks.search(way) for way in (folded, folded[::-1]))

    def unreadable(self, text: str) -> str | None:
        """Why the name cannot be looked for in ``text`` (look-alike letters of another script), or None."""
        for word in _script_words(text):
            scripts = _scripts(word)
            if len(scripts) > 1:
                return f"mixes scripts within a word ({' and '.join(map(_shown, sorted(scripts)))}), as look-alike letters do"
            if not scripts <= self._comparable:
                return f"has letters of a script ({_shown(next(iter(scripts)))}) the name check cannot compare with the name"
        return None

    def refusal(self, text: str) -> str | None:
        """Why ``text`` must not leave: it cannot be compared with the name, or holds a word of it; else None."""
        return self.unreadable(text) or (LEAK if self.leaks(text) else None)


# 2024-03-01T09-30-00, 2024-03-01_093000, 20240301_0930, 20240301, 2024.03.01 ... (seconds optional).
_TIMESTAMP = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d\d)[-_.]?(?P<m>\d\d)[-_.]?(?P<d>\d\d)"
    r"(?:[T_ -]?(?P<H>\d\d)[-_.:hH]?(?P<M>\d\d)(?:[-_.:mM]?(?P<S>\d\d))?)?(?!\d)"
)


def time_from_name(name: str) -> datetime | None:
    """The first valid date (and time, if given) written in a file name, or None (used to order files only)."""
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
