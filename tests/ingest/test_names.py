"""The name check (the leak detector over every text that leaves) and the subject key, by class of
spelling: apostrophes of every kind, hyphenated double surnames, particles, titles glued or not,
initials, umlauts written out or dropped, accents, NFC and NFD, Cyrillic, Greek, CJK and Hangul."""

from __future__ import annotations

import unicodedata

import pytest

from job_helpers.ingest.names import PatientName, fold, subject_key


def test_fold_writes_umlauts_out_and_transliterates_the_rest() -> None:
    assert fold("Müller-Strauß") == "mueller-strauss"
    assert fold("ÉLODIE Øster") == "elodie oster"
    assert fold(unicodedata.normalize("NFD", "Jürgen")) == fold("Jürgen") == "juergen"
    assert fold("O’Brien Oʼbrien O`Brien") == "o'brien o'brien o'brien"
    assert fold("Иванов Παπαδόπουλος 王伟 Ｓｍｉｔｈ") == "ivanov papadopoulos wangwei smith"


@pytest.mark.parametrize(
    "text",
    [
        "Mueller Juergen session",
        "MULLER_JURGEN",
        "müller, jürgen",
        unicodedata.normalize("NFD", "müller"),
        "JuergenMueller",
        "Muller J",
        "mueller",
        "EEG_MULLER_2024",
        "J.Mueller",
        "J_Müller.edf",
        "MuellerJ",
        "jurgen",
        "Herr Müller",
        "DrMueller",
    ],
)
def test_german_name_found_in_every_spelling(text: str) -> None:
    assert PatientName("Müller_Jürgen").leaks(text)


@pytest.mark.parametrize(
    ("folder", "text"),
    [
        # The surname alone, with initials, the whole name in any order; accents and case.
        ("Smith_John", "Smith_J"),
        ("Smith_John", "J. Smith report"),
        ("Smith_John", "SMITHJ_1.edf"),
        ("Smith_John", "smith2024"),
        ("Smith_John", "x_john smith_y"),
        ("Smith_John_1985", "smith-john-1985.edf"),
        ("Élodie DUPRÉ", "elodie_dupre_2024.edf"),
        ("Élodie DUPRÉ", "Dupré"),
        ("Van Der Berg, Anna", "anna.berg"),
        # Apostrophes of every kind, written, dropped or spaced; the part after one alone.
        ("O'Brien_Sean", "OBRIEN"),
        ("O'Brien_Sean", "o’brien notes"),
        ("O’Brien Sean", "O'Brien"),
        ("Oʼbrien Sean", "o brien"),
        ("O'Brien_Sean", "Brien_2"),
        ("D'Angelo, Maria", "dangelo"),
        ("D'Angelo, Maria", "D`Angelo"),
        ("D'Angelo, Maria", "angelo"),
        ("N'Diaye Awa", "ndiaye"),
        # Hyphenated double surnames: either half, joined or not.
        ("Smith-Jones_Ann", "jones"),
        ("Smith-Jones_Ann", "SmithJones"),
        ("Ann Lloyd-Ng", "lloyd"),
        # Particles: the surname after them, and the whole name with them.
        ("van der Berg, Anna", "Berg"),
        ("van der Berg, Anna", "VANDERBERGANNA"),
        ("de la Cruz Pilar", "cruz"),
        # Short surnames alone, glued to a title or an initial; two letters after a title.
        ("Lee_Anna", "Lee_2"),
        ("Lee_Anna", "DrLee"),
        ("Lee_Anna", "Mme.Lee"),
        ("Lee_Anna", "ALee"),
        ("Lee_Anna", "LeeA"),
        ("Ng_Wei", "MrsNg"),
        ("Ng_Wei", "Dr Ng"),
        ("Ng_Wei", "Prof.Ng"),
        ("Li Ming", "HerrLi"),
        ("Li Ming", "LiMing"),
        ("Lee Li", "LeeLi"),
        # Titles in the folder name are not the name, but the name beside them is.
        ("Dr. Smith, John", "drsmith"),
        ("Prof Weiss Eva", "weiss"),
        ("Mme Dupré Élodie", "DUPRE E"),
        # Other scripts, transliterated either way.
        ("Иванов Иван", "Ivanov"),
        ("Ivanov Ivan", "Иванов"),
        ("Παπαδόπουλος Γιώργος", "papadopoulos"),
        ("Papadopoulos Giorgos", "Παπαδόπουλος"),
        ("王伟", "Wang Wei"),
        ("王伟", "wangwei"),
        ("李小龙", "Xiaolong"),
        ("김민준", "Gim Minjun"),
        # Written as stored by another machine.
        (unicodedata.normalize("NFD", "Müller_Jürgen"), "Mueller"),
        ("Müller_Jürgen", unicodedata.normalize("NFD", "Müller")),
        ("Ｓｍｉｔｈ Ｊｏｈｎ", "smith"),
    ],
)
def test_every_spelling_of_a_name_is_found(folder: str, text: str) -> None:
    assert PatientName(folder).leaks(text), (folder, text)


@pytest.mark.parametrize(
    ("folder", "text"),
    [
        ("Lee_Anna", "sleep study"),  # 3 letters: only as a word of its own (or glued to a title or initial)
        ("Lee_Anna", "Fleet"),
        ("Li Ming", "clinic Li"),  # 2 letters: only after a title, as they occur in too many words
        ("Li Ming", "EEG Fp1-LI"),
        ("Smith_John", "J"),  # a single letter never
        ("Smith_John", "EEG J notes"),
        ("Dr. Smith, John", "Dr Weiss"),  # a title is not a name word
        ("Herr Müller Jürgen", "Herrmann"),
        ("van der Berg, Anna", "video der aufnahme van"),  # particles only inside the whole name
        ("O'Brien_Sean", "o"),
        ("Smith_John_1985", "1985"),
        ("Smith_John", "12345678_20240301T093000_1.edf"),
        ("Smith_John", "EEG Fp1-Ref"),
    ],
)
def test_ordinary_text_is_not_refused(folder: str, text: str) -> None:
    assert not PatientName(folder).leaks(text), (folder, text)


@pytest.mark.parametrize(
    ("text", "leaks"),
    [
        ("drsmith_notes", True),  # 4+ letters: anywhere, even inside another word
        ("Smithsonian", True),
        ("EEG_MUELLERJ2", True),
        ("sleep study", False),
        ("Lee_2", True),
        ("clinic Li", False),
        ("12345678_1.edf", False),
    ],
)
def test_leak_check(text: str, leaks: bool) -> None:
    names = [PatientName("Smith_John"), PatientName("Lee Li"), PatientName("Mueller Juergen")]
    assert any(name.leaks(text) for name in names) is leaks


@pytest.mark.parametrize(
    "spellings",
    [
        (
            "Müller_Jürgen",
            unicodedata.normalize("NFD", "Müller_Jürgen"),
            "MUELLER juergen",
            "Jürgen, MÜLLER",
            "Dr. Müller Jürgen",
        ),
        ("O'Brien_Sean", "O’Brien Sean", "Oʼbrien_sean", "OBRIEN SEAN", "Sean O`Brien"),
        ("Smith-Jones Ann", "ann smith jones", "Mrs Smith-Jones, Ann"),
        ("van der Berg, Anna", "Anna_van_der_Berg", "VAN DER BERG anna"),
        ("Иванов Иван", "Ivanov_Ivan", "IVAN ivanov"),
        ("王伟", "Wang_Wei", "wei wang"),
        ("Ｓｍｉｔｈ　Ｊｏｈｎ", "Smith_John", "Herr John Smith"),
    ],
)
def test_one_person_is_one_subject_key_whatever_the_spelling(spellings: tuple[str, ...]) -> None:
    keys = {subject_key(spelling) for spelling in spellings}
    assert len(keys) == 1, keys


def test_different_people_keep_different_keys() -> None:
    assert subject_key("Joe Smith") != subject_key("Jo Smith")
    assert subject_key("Smith_John") != subject_key("Smith_Jane")
    assert subject_key("Smith_John_1985") != subject_key("Smith_John")
    assert subject_key("Van Der Berg, Anna") == "anna berg der van"


@pytest.mark.parametrize(
    ("folder", "text"),
    [
        # A word broken by separators of any kind: read as if they were removed.
        ("Smith_John", "Smi/th"),
        ("Smith_John", "Smi th"),
        ("Smith_John", "S_m_i_t_h"),
        ("Smith_John", "S.M.I.T.H."),
        ("Smith_John", "Smi2024th"),
        ("Smith_John", "Smi\u200dth"),  # a zero-width joiner
        ("Smith_John", "11111111/Smi/11111111_1.th"),  # a kept folder and a kept extension in one key
        ("Müller_Jürgen", "Mu-el-ler"),
        ("Lee_Anna", "L/e/e"),  # 3 letters, alone once the separators are gone
        ("Lee_Anna", "x_L_e_e"),
        ("Ng_Wei", "Dr N-g"),
        ("Li Wu", "Li 9 Wu"),  # the whole name, words apart
        # Backwards: a word, the whole name.
        ("Smith_John", "htimS"),
        ("Smith_John", "nhoJ_htimS"),
        ("Lee_Anna", "eel_2"),
        # Case games, compatibility forms and marks that fold away.
        ("Smith_John", "sMiTh"),
        ("Smith_John", "SMİTH"),
        ("Smith_John", "Smıth"),
        ("Smith_John", "\U0001d412\U0001d426\U0001d422\U0001d42d\U0001d421"),  # mathematical bold
        ("Smith_John", "Ｓｍｉ／ｔｈ"),
        ("Smith_John", "S\u0301mi\u0308th"),
    ],
)
def test_a_name_broken_up_or_backwards_is_found(folder: str, text: str) -> None:
    assert PatientName(folder).leaks(text), (folder, text)
    assert PatientName(folder).refusal(text) == "holds a word of the name"


@pytest.mark.parametrize(
    ("folder", "text", "why"),
    [
        # One word, letters of two scripts: look-alikes (Cyrillic Ѕ U+0405, і U+0456; Greek Α, Ο; a Cyrillic mark).
        ("Smith_John", "Ѕmіth", "mixes scripts within a word (Cyrillic and Latin)"),
        ("Smith_John", "eeg_Ѕmіth", "mixes scripts within a word (Cyrillic and Latin)"),
        ("Anna Olsen", "Αnna", "mixes scripts within a word (Greek and Latin)"),
        ("Anna Olsen", "ΟLSEN", "mixes scripts within a word (Greek and Latin)"),
        ("Smith_John", "Smi\u0489th", "mixes scripts within a word (Cyrillic and Latin)"),
        ("Смит Иван", "Cмит", "mixes scripts within a word (Cyrillic and Latin)"),  # Latin C in a Cyrillic name
        # A script the name is not written in: all-Cyrillic ЅМІТН, Greek ΑΝΝΑ look like Latin capitals.
        ("Smith_John", "ЅМІТН", "has letters of a script (Cyrillic)"),
        ("Anna Olsen", "ΑΝΝΑ", "has letters of a script (Greek)"),
        ("Smith_John", "脳波", "has letters of a script (CJK)"),
    ],
)
def test_look_alike_letters_cannot_be_compared_and_are_refused(folder: str, text: str, why: str) -> None:
    refusal = PatientName(folder).refusal(text)
    assert refusal is not None and refusal.startswith(why), refusal
    assert not {word.casefold() for word in folder.replace("_", " ").split()} & set(refusal.casefold().split())


@pytest.mark.parametrize(
    ("folder", "text"),
    [
        ("Smith_John", "session 12"),
        ("Smith_John", "Sleep stage W"),
        ("Smith_John", "ＥＥＧ"),  # fullwidth Latin is Latin
        ("Smith_John", "Élodie_Øster"),
        ("Иванов Иван", "ЭЭГ сон"),  # the name's own script, and Latin, are compared
        ("Иванов Иван", "EEG"),
        ("山田太郎", "脳波データ"),  # Han, Hiragana and Katakana: one script for this check
        ("Lee_Anna", "sleep"),
        ("Lee_Anna", "peels"),  # backwards: "sleep"
    ],
)
def test_text_of_the_names_scripts_without_the_name_is_kept(folder: str, text: str) -> None:
    assert PatientName(folder).refusal(text) is None, (folder, text)
