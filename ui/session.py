"""What every page needs from the session: the store, the language, the viewer."""

import sqlalchemy as sa
import streamlit as st

from core import access, config, i18n
from core.store import engine as store_engine


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> sa.Engine:
    engine = store_engine.connect(url)
    store_engine.create_schema(engine)
    return engine


def database_url() -> str:
    return config.database_url()


def engine() -> sa.Engine:
    """The engine of the store in use, created once per process."""
    return _engine(database_url())


def data_version() -> int:
    """The store's data version: the key that expires cached results after an import."""
    with engine().connect() as conn:
        return store_engine.data_version(conn)


def language() -> str:
    if st.session_state.get("language") not in config.LANGUAGES:
        st.session_state["language"] = config.default_language()
    return st.session_state["language"]


def t(key: str, **values: object) -> str:
    """The text for ``key`` in the session's language."""
    return i18n.translate(key, language(), **values)


# Until someone signs in, the session acts as the demo administrator.
DEFAULT_VIEWER = access.Viewer(user_name="demo", role="administrator", contact_grant=True)


def viewer() -> access.Viewer:
    """Who is using this session."""
    return st.session_state.get("viewer", DEFAULT_VIEWER)
