"""Both languages complete: every key in both catalogs, every key the UI asks for exists."""

import re
import string
from pathlib import Path

import pytest

from core import config, i18n

ROOT = Path(__file__).resolve().parent.parent
# Literal keys passed to the translation function: t("overview.title"), session.t("nav.x").
LITERAL_KEY = re.compile(r"""\bt\(\s*["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']""")


def _ui_sources() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *(ROOT / "ui").glob("*.py")]


def test_no_key_is_missing_in_either_language():
    missing = i18n.missing_keys()
    assert missing == {language: set() for language in config.LANGUAGES}


def test_placeholders_agree_between_languages():
    catalogs = i18n.catalogs()
    formatter = string.Formatter()
    for key, english in catalogs["en"].items():
        names_en = {name for _, name, _, _ in formatter.parse(english) if name}
        names_zh = {name for _, name, _, _ in formatter.parse(catalogs["zh"][key]) if name}
        assert names_en == names_zh, key


def test_every_literal_key_in_the_ui_exists():
    known = set(i18n.catalogs()["en"])
    used = {
        (path.name, key)
        for path in _ui_sources()
        for key in LITERAL_KEY.findall(path.read_text(encoding="utf-8"))
    }
    assert used, "the key pattern found no translation calls at all"
    unknown = sorted((name, key) for name, key in used if key not in known)
    assert unknown == []


@pytest.mark.parametrize("language", config.LANGUAGES)
def test_translate_fills_placeholders(language):
    text = i18n.translate("overview.map_caption", language, count="3,000")
    assert "3,000" in text and "{" not in text


def test_unknown_key_shows_as_itself():
    assert i18n.translate("overview.no_such_key", "zh") == "overview.no_such_key"
