"""Settings from the environment or ``.streamlit/secrets.toml``: one place to read them."""

import os
import tomllib
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"
DEFAULT_DATABASE_URL = f"duckdb:///{DATA_DIR / 'workbench.duckdb'}"
LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"


def _secrets() -> dict:
    if not SECRETS_FILE.exists():
        return {}
    with SECRETS_FILE.open("rb") as handle:
        return tomllib.load(handle)


def setting(name: str, default: str | None = None) -> str | None:
    """A setting: the environment variable first, then the secrets file, then the default."""
    value = os.environ.get(name)
    if value:
        return value
    value = _secrets().get(name)
    return str(value) if value else default


def database_url() -> str:
    """The store to use: ``DATABASE_URL``, by default the embedded DuckDB file under ``data/``."""
    return setting("DATABASE_URL", DEFAULT_DATABASE_URL)


def default_language() -> str:
    """The language the app opens in (``WORKBENCH_LANGUAGE``: ``zh`` or ``en``)."""
    language = setting("WORKBENCH_LANGUAGE", DEFAULT_LANGUAGE)
    return language if language in LANGUAGES else DEFAULT_LANGUAGE
