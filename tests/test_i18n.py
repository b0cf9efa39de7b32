"""Both languages complete: every key in both catalogs, every key the UI asks for exists."""

import ast
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


# Every message core gives a user: the keys of UserError (and its kinds) and Notice, wherever they
# are raised, and every entry of a catalog's ``error`` table.
CORE = ROOT / "core"
MESSAGE_TYPES = {"UserError", "Notice"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _message_types(trees: list[ast.Module]) -> set[str]:
    """UserError, Notice and every class of core derived from them, by name."""
    known = set(MESSAGE_TYPES)
    grew = True
    while grew:
        grew = False
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in known:
                    bases = {
                        getattr(base, "attr", getattr(base, "id", None)) for base in node.bases
                    }
                    if bases & known:
                        known.add(node.name)
                        grew = True
    return known


def _key_pattern(node: ast.expr) -> re.Pattern | None:
    """The catalog key a message is raised with, as a pattern (f-strings match every filling)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.compile(re.escape(node.value))
    if isinstance(node, ast.JoinedStr):
        parts = [
            re.escape(part.value) if isinstance(part, ast.Constant) else r"[a-z0-9_]+"
            for part in node.values
        ]
        return re.compile("".join(parts))
    return None


def raised_messages() -> list[tuple[str, re.Pattern, set[str] | None]]:
    """``(where, key pattern, value names)`` of every message core raises or returns."""
    sources = sorted(CORE.rglob("*.py"))
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in sources]
    types = _message_types(trees)
    found = []
    for path, tree in zip(sources, trees, strict=True):
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            pattern = _key_pattern(node.args[0]) if name in types else None
            if pattern is None:
                continue
            spread = any(keyword.arg is None for keyword in node.keywords)
            names = None if spread else {keyword.arg for keyword in node.keywords}
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            found.append((where, pattern, names))
    return found


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_core_raises_has_both_languages():
    catalogs = i18n.catalogs()
    messages = raised_messages()
    assert len(messages) > 50, "the scan found too few messages to be looking at core"
    problems = []
    for where, pattern, names in messages:
        keys = [key for key in catalogs["en"] if pattern.fullmatch(key)]
        if not keys:
            problems.append(f"{where}: no catalog entry for {pattern.pattern}")
        for key in keys:
            if key not in catalogs["zh"]:
                problems.append(f"{where}: {key} has no Chinese text")
            needed = _placeholders(catalogs["en"][key])
            # The values given must fill the text (SeriesError adds its window to the text).
            if names is not None and not needed <= names:
                problems.append(f"{where}: {key} needs {sorted(needed - names)}")
    assert problems == []


def _error_keys() -> set[str]:
    english = i18n.catalogs()["en"]
    raised = {
        key for _, pattern, _ in raised_messages() for key in english if pattern.fullmatch(key)
    }
    tables = {key for key in english if key.split(".")[1] in ("error", "notice")}
    return raised | tables


@pytest.mark.parametrize("key", sorted(_error_keys()))
def test_every_error_key_renders_in_both_languages(key):
    catalogs = i18n.catalogs()
    values = {name: "7" for name in _placeholders(catalogs["en"][key])}
    english = i18n.translate(key, "en", **values)
    chinese = i18n.translate(key, "zh", **values)
    assert key in catalogs["zh"]
    assert "{" not in english and "{" not in chinese
    # Chinese where Chinese is expected: not the English text, and written in Chinese.
    assert chinese != english
    assert CJK.search(chinese), chinese
