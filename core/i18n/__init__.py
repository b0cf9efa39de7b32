"""Every user-facing string, in English and Simplified Chinese.

Catalogs are TOML files under ``catalog/``, one per area of the product, each with an ``[en]`` and a
``[zh]`` table. A key is the file's name and the entry's name: ``overview.title``.
"""

import functools
import tomllib
from pathlib import Path

from core import config

CATALOG_DIR = Path(__file__).parent / "catalog"


def _flatten(prefix: str, table: dict) -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, value in table.items():
        key = f"{prefix}.{name}"
        if isinstance(value, dict):
            flat.update(_flatten(key, value))
        else:
            flat[key] = str(value)
    return flat


@functools.cache
def catalogs() -> dict[str, dict[str, str]]:
    """All catalogs merged: language → key → text."""
    merged: dict[str, dict[str, str]] = {language: {} for language in config.LANGUAGES}
    for path in sorted(CATALOG_DIR.glob("*.toml")):
        with path.open("rb") as handle:
            content = tomllib.load(handle)
        for language in config.LANGUAGES:
            merged[language].update(_flatten(path.stem, content.get(language, {})))
    return merged


def translate(key: str, language: str, **values: object) -> str:
    """The text for ``key`` in ``language`` with its ``{name}`` fields filled from ``values``.

    An unknown key shows as the key itself, so a gap is visible on screen instead of breaking the
    page; the catalog test keeps both languages complete.
    """
    text = catalogs().get(language, {}).get(key)
    if text is None:
        text = catalogs()["en"].get(key, key)
    return text.format(**values) if values else text


def translator(language: str):
    """A one-argument ``t(key, **values)`` bound to a language."""
    return functools.partial(translate, language=language)


def missing_keys() -> dict[str, set[str]]:
    """For each language, the keys some other language has and it lacks."""
    all_keys = set().union(*(set(texts) for texts in catalogs().values()))
    return {language: all_keys - set(texts) for language, texts in catalogs().items()}
