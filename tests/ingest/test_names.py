"""Names the ingest must find whatever the spelling: surname alone, initials, umlauts written out or
dropped, accents, case; and the check that refuses what is left."""

from __future__ import annotations

import pytest

from job_helpers.ingest.names import PatientName, fold


def test_fold_writes_umlauts_out_and_transliterates_the_rest() -> None:
    assert fold("Müller-Strauß")[0] == "mueller-strauss"
    assert fold("ÉLODIE Øster")[0] == "elodie oster"
    text = "Jürgen"
    norm, origin = fold(text)
    assert len(norm) == len(origin) and [text[i] for i in origin] == list("Jüürgen")


@pytest.mark.parametrize(
    "text",
    [
        "Mueller Juergen session",
        "MULLER_JURGEN",
        "müller, jürgen",
        "JuergenMueller",
        "Muller J",
        "mueller",
        "EEG_MULLER_2024",
        "J.Mueller",
        "J_Müller.edf",
        "MuellerJ",
        "jurgen",
    ],
)
def test_german_name_found_in_every_spelling(text: str) -> None:
    name = PatientName("Müller_Jürgen")
    replaced = name.replace(text, "12345678")
    assert "12345678" in replaced
    assert not name.leaks(replaced), replaced
    assert all(word not in fold(replaced)[0] for word in ("mul", "jur", "muel", "juer"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Smith", "C"),
        ("Smith_J", "C"),
        ("J_Smith", "C"),
        ("J. Smith report", "C report"),
        ("SMITHJ_1.edf", "C_1.edf"),
        ("smith2024", "C2024"),
        ("John", "C"),
        ("SMITHJOHN", "C"),
        ("x_john smith_y", "x_C_y"),
        # single letters are only taken next to the surname; other words stay
        ("J", "J"),
        ("EEG J notes", "EEG J notes"),
        ("Smithsonian visit", "Smithsonian visit"),
    ],
)
def test_surname_alone_initials_and_whole_name(text: str, expected: str) -> None:
    assert PatientName("Smith_John").replace(text, "C") == expected


def test_accents_and_case() -> None:
    name = PatientName("Élodie DUPRÉ")
    assert name.replace("elodie_dupre_2024.edf", "C") == "C_2024.edf"
    assert name.replace("DUPRE E", "C") == "C"
    assert name.replace("Dupré", "C") == "C"


def test_name_words_without_numbers_and_particles_are_the_whole_name_too() -> None:
    assert PatientName("Smith_John_1985").replace("John Smith", "C") == "C"
    assert PatientName("Smith_John_1985").replace("smith-john-1985.edf", "C") == "C.edf"
    assert PatientName("Van Der Berg, Anna").replace("anna.berg", "C") == "C"


def test_particles_only_with_the_whole_name() -> None:
    name = PatientName("Van Der Berg, Anna")
    assert name.replace("VANDERBERG ANNA", "C") == "C"
    assert name.replace("video der aufnahme", "C") == "video der aufnahme"
    assert name.replace("Berg A", "C") == "C"
    assert not name.leaks("video der aufnahme van")


@pytest.mark.parametrize(
    ("text", "leaks"),
    [
        ("drsmith_notes", True),  # 4+ letters: anywhere, even inside another word
        ("Smithsonian", True),
        ("EEG_MUELLERJ2", True),
        ("sleep study", False),  # 3 letters: only as a word of its own
        ("Lee_2", True),
        ("clinic Li", False),  # 2 letters: replaced as a word, never refused
        ("12345678_1.edf", False),
    ],
)
def test_leak_check(text: str, leaks: bool) -> None:
    names = [PatientName("Smith_John"), PatientName("Lee Li"), PatientName("Mueller Juergen")]
    assert any(name.leaks(text) for name in names) is leaks


def test_nothing_is_left_to_refuse_after_replacement() -> None:
    names = [PatientName("Smith_John"), PatientName("Lee Li"), PatientName("Mueller Juergen")]
    for text in ("EEG_MUELLERJ2", "Lee_2", "J_Smith", "Li Lee session", "jürgen"):
        for name in names:
            text = name.replace(text, "12345678")
        assert not any(name.leaks(text) for name in names), text


def test_mask_hides_every_word_for_display() -> None:
    name = PatientName("Smith_John")
    assert name.mask("in/Smith_John/drsmith/J_Smith.edf") == "in/***/dr***/***.edf"
