"""What every page needs from the session: the store, the language, the viewer."""

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError
from streamlit.navigation.page import StreamlitPage

from core import access, config, errors, i18n
from core.store import engine as store_engine


def _stop_when_unavailable(context: sa.engine.ExceptionContext) -> None:
    # A connection the server dropped while idle is replaced by the pool's pre-ping, which
    # reconnects once. What is left (the server down, a connection lost in the middle of a
    # query, the file locked by another program) stops the page with a message instead of a
    # traceback, wherever the page was; the pool lets the broken connection go, so the next
    # click starts afresh.
    error = context.sqlalchemy_exception
    if context.is_pre_ping or not isinstance(error, sa.exc.DBAPIError):
        return
    explained = store_engine.unavailable(error, database_url())
    if explained is not None:
        show_error(explained)
        st.stop()


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> sa.Engine:
    # Raises before anything is cached when the store is locked, unreachable or not migrated,
    # so the next rerun tries again.
    engine = store_engine.connect(url)
    try:
        store_engine.check_schema(engine)
    except errors.UserError:
        engine.dispose()
        raise
    sa.event.listen(engine, "handle_error", _stop_when_unavailable)
    return engine


def database_url() -> str:
    return config.database_url()


# A viewer is a frozen dataclass: its own hash tells two viewers apart for the cache.
HASH_FUNCS: dict[type, Callable[[Any], Any]] = {access.Viewer: hash}

Function = TypeVar("Function", bound=Callable[..., Any])


def cached(
    function: Function | None = None,
    *,
    max_entries: int | None = None,
    hash_funcs: dict[type, Callable[[Any], Any]] | None = None,
) -> Any:
    """``st.cache_data`` keyed on the store in use and its data version besides the arguments.

    Decorate a page's call into core (``@session.cached``) and call it with the arguments the
    core call needs: an import bumps the data version, so what it changed is read again, and a
    viewer's results are never served to another viewer.

    Args:
        function: the function to cache (when used without parentheses).
        max_entries: at most this many results kept, for large ones.
        hash_funcs: how to hash argument types beyond the viewer.
    """

    def decorate(wrapped: Function) -> Function:
        def keyed(*args: Any, store_url: str, store_version: int, **kwargs: Any) -> Any:
            return wrapped(*args, **kwargs)

        # The cache is told apart by the decorated function's name and source, not this one's.
        functools.update_wrapper(keyed, wrapped)
        run = st.cache_data(
            show_spinner=False,
            max_entries=max_entries,
            hash_funcs={**HASH_FUNCS, **(hash_funcs or {})},
        )(keyed)

        @functools.wraps(wrapped)
        def call(*args: Any, **kwargs: Any) -> Any:
            return run(*args, store_url=database_url(), store_version=data_version(), **kwargs)

        return call  # type: ignore[return-value]

    return decorate(function) if function is not None else decorate


def engine() -> sa.Engine:
    """The engine of the store in use, created once per process.

    A store that cannot be used (locked by another program, unreachable, its schema behind the
    code) stops the page with a message that says what to do.
    """
    try:
        return _engine(database_url())
    except errors.UserError as error:
        show_error(error)
        st.stop()


def data_version() -> int:
    """The store's data version: the key that expires cached results after an import."""
    with engine().connect() as conn:
        return store_engine.data_version(conn)


def language() -> str:
    # Read only: the sidebar's language widget owns the "language" key. Writing it here before
    # the widget exists leaves the browser showing the widget's first option, and the next rerun
    # then switches the language back to it.
    chosen = st.session_state.get("language")
    return chosen if chosen in config.LANGUAGES else config.default_language()


def t(key: str, **values: object) -> str:
    """The text for ``key`` in the session's language."""
    return i18n.translate(key, language(), **values)


def show_error(error: errors.UserError) -> None:
    """A core error the user can act on, in the session's language."""
    st.error(error.text(language()))


# The one place that decides who a page runs as when it runs on its own, outside app.py's sign-in
# gate (a page script run directly, as the page tests do). Inside the app nobody reaches a page
# without signing in.
DEFAULT_VIEWER = access.Viewer(user_name="demo", role="administrator", contact_grant=True)

VIEWER_KEY = "viewer"
LAST_SEEN_KEY = "last_seen"
EXPIRED_KEY = "session_expired_notice"
ENDED_KEY = "session_ended_notice"
SSO_ERROR_KEY = "sso_error"


def viewer() -> access.Viewer:
    """Who is using this session."""
    return st.session_state.get(VIEWER_KEY, DEFAULT_VIEWER)


def signed_in() -> access.Viewer | None:
    """The viewer who signed in to this session, or None."""
    return st.session_state.get(VIEWER_KEY)


def role_name(role: str) -> str:
    return t(f"access.role_{role}")


def sign_in(signed: access.Viewer, token: str | None = None) -> None:
    """Starts the session as ``signed`` (the password was checked by core.access).

    Args:
        signed: who signed in.
        token: the token of a stored session this one resumes (after a reload); None opens a
            new stored session, whose token the browser is given to keep.
    """
    if token is None:
        with engine().begin() as conn:
            token = access.start_session(conn, signed)
        st.session_state[COOKIE_KEY] = token
    st.session_state[VIEWER_KEY] = signed
    st.session_state[TOKEN_KEY] = token
    st.session_state[LAST_SEEN_KEY] = st.session_state[TOUCHED_KEY] = access.now()
    st.session_state.pop(EXPIRED_KEY, None)
    st.session_state.pop(SSO_ERROR_KEY, None)


def sign_out(action: str = "logout") -> None:
    """Ends the session, recording why (``logout`` or ``session_expired``) in the audit log.

    The stored session ends with it: the browser's token resumes nothing any more, and the
    browser is told to forget it.
    """
    signed = signed_in()
    token = st.session_state.pop(TOKEN_KEY, None)
    if signed is not None:
        with engine().begin() as conn:
            access.record(conn, signed, action, signed.user_name)
            access.end_session(conn, token)
    st.session_state.pop(VIEWER_KEY, None)
    st.session_state.pop(LAST_SEEN_KEY, None)
    st.session_state[COOKIE_KEY] = ""
    if sso_configured() and st.user.is_logged_in:
        st.logout()


# The browser keeps the session's token in a cookie of the app's address: sent again with the
# connection a reload opens, never part of a link someone could pass on.
SESSION_COOKIE = "workbench_session"
TOKEN_KEY = "session_token"
COOKIE_KEY = "session_cookie_pending"
TOUCHED_KEY = "session_touched"


def browser_token() -> str | None:
    """The session token the browser sent when it connected, if any."""
    try:
        token = st.context.cookies.get(SESSION_COOKIE)
    except (AttributeError, RuntimeError):
        return None
    # Outside a browser (AppTest) the cookies are no mapping of text.
    return token if isinstance(token, str) else None


def _resumed() -> access.Viewer | None:
    # A reload opens a new Streamlit session: the browser's token finds the stored one again.
    token = browser_token()
    if not token:
        return None
    with engine().begin() as conn:
        signed = access.resume_session(conn, token)
        if signed is not None:
            access.record(conn, signed, "session_resumed", signed.user_name)
    if signed is not None:
        sign_in(signed, token)
    return signed


def _keep_cookie() -> None:
    # Sets (a new session) or clears (one that ended) the browser's cookie, once.
    value = st.session_state.pop(COOKIE_KEY, None)
    if value is None:
        return
    age = access.SESSION_MAX_HOURS * 3600 if value else 0
    cookie = f"{SESSION_COOKIE}={value}; path=/; max-age={age}; SameSite=Strict"
    st.html(
        "<script>document.cookie = "
        f"{json.dumps(cookie)} + (location.protocol === 'https:' ? '; Secure' : '');</script>",
        unsafe_allow_javascript=True,
        width="content",
    )


def _touch() -> None:
    # The stored session's last use, at most once a minute (core.access.touch_session).
    at, token = access.now(), st.session_state.get(TOKEN_KEY)
    touched = st.session_state.get(TOUCHED_KEY)
    if not token or (touched is not None and (at - touched).total_seconds() < access.TOUCH_SECONDS):
        return
    with engine().begin() as conn:
        access.touch_session(conn, token, at=at)
    st.session_state[TOUCHED_KEY] = at


def sso_configured() -> bool:
    """Whether single sign-on (OIDC, ``st.login``) is set up in ``.streamlit/secrets.toml``."""
    try:
        return "auth" in st.secrets
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        return False


def _sso_viewer() -> access.Viewer | None:
    if not sso_configured() or not st.user.is_logged_in:
        return None
    email = str(st.user.get("email") or "")
    try:
        with engine().begin() as conn:
            signed = access.viewer_for_email(conn, email)
            access.record(conn, signed, "login", signed.user_name, {"method": "sso"})
    except access.AccessError as error:
        st.session_state[SSO_ERROR_KEY] = t(error.key, **error.values)
        return None
    return signed


def gate() -> access.Viewer | None:
    """The signed-in viewer, after ending a session idle too long; app.py routes on it.

    A browser reloaded (or opening a new tab) resumes its stored session by the token it keeps;
    the idle timeout and the account's status apply to it as to any session.

    Returns:
        The viewer, with the session's last-seen time renewed; None when nobody is signed in
        (the app then shows the sign-in page only).
    """
    signed = _gated()
    with st.sidebar:
        _keep_cookie()
    return signed


def _gated() -> access.Viewer | None:
    signed = signed_in()
    if signed is not None and access.session_expired(st.session_state.get(LAST_SEEN_KEY)):
        sign_out("session_expired")
        st.session_state[EXPIRED_KEY] = True
        return None
    if signed is None:
        signed = _resumed() or _sso_viewer()
        if signed is None:
            return None
        if signed_in() is None:
            sign_in(signed)
    signed = _as_stored(signed)
    if signed is None:
        return None
    st.session_state[LAST_SEEN_KEY] = access.now()
    _touch()
    return signed


def _as_stored(signed: access.Viewer) -> access.Viewer | None:
    # Every rerun runs as the account is stored now: a disabled account's session ends at its
    # next click, a changed role or scope applies at once.
    try:
        with engine().connect() as conn:
            current = access.viewer_for(conn, signed.user_name)
    except access.AccessError:
        sign_out("session_ended")
        st.session_state[ENDED_KEY] = True
        return None
    if current != signed:
        st.session_state[VIEWER_KEY] = current
    return current


def page_path(page: StreamlitPage) -> str:
    """A navigation page's file relative to the project root (``pages/admin.py``)."""
    source = getattr(page, "_page", None)
    if isinstance(source, Path):
        try:
            return source.resolve().relative_to(config.PROJECT_ROOT).as_posix()
        except ValueError:
            return source.as_posix()
    return page.url_path


def allowed_pages(pages: list[StreamlitPage]) -> list[StreamlitPage]:
    """The pages of the navigation the session's viewer may open; the others are not listed."""
    current = viewer()
    return [page for page in pages if access.may_open(current, page_path(page))]


def navigate(pages: list[StreamlitPage]) -> None:
    """Runs the page asked for among ``pages``; the sidebar links to those the viewer may open.

    Every page is known to the navigation, so an address of a page the viewer may not open
    reaches that page's own refusal (:func:`require_page`) in the viewer's language, not
    Streamlit's "Page not found". The sidebar navigation of Streamlit is off
    (``client.showSidebarNavigation``): it would list every file of ``pages/`` to a visitor not
    signed in yet.
    """
    current = st.navigation(pages, position="hidden")
    with st.sidebar:
        for page in allowed_pages(pages):
            st.page_link(page)
    current.run()


def sign_in_first(show_login: Callable[[], None], pages: list[StreamlitPage]) -> None:
    """Shows the sign-in page at any address; the address (and its query) stays as it was.

    Each page's address shows the sign-in page until someone signs in, so a link to a page
    (``/customer_360?customer=…``) asks to sign in instead of Streamlit's "Page not found", and
    the rerun after signing in opens the page and customer asked for.

    Args:
        show_login: draws the sign-in page.
        pages: the app's pages.
    """
    title, icon = t("nav.login"), ":material/login:"
    stand_ins = [
        st.Page(show_login, title=title, icon=icon, default=True),
        *(st.Page(show_login, title=title, icon=icon, url_path=page.url_path) for page in pages),
    ]
    st.navigation(stand_ins, position="hidden").run()


def require_page(page_path: str) -> access.Viewer:
    """Stops a page, with a refusal, unless the session's viewer may open it.

    Every page calls this first with its own path. In a browser nobody gets past it without
    signing in: Streamlit can serve a file of ``pages/`` by its URL without running app.py (the
    first request a fresh server receives), so the gate cannot be the only check. A page script
    run on its own, with no browser and nobody signed in (the page tests), runs as
    :data:`DEFAULT_VIEWER`.

    Returns:
        The viewer the page runs for.
    """
    if st.context.headers:
        signed = gate()
        if signed is None:
            st.warning(t("access.sign_in_first"))
            st.stop()
    else:
        signed = signed_in()
        if signed is None:
            return DEFAULT_VIEWER
    if not access.may_open(signed, page_path):
        st.error(t("access.page_refused", role=role_name(signed.role)))
        st.stop()
    return signed


def audited_export(what: str, rows: int, data: Callable[[], object] | bytes | str):
    """The ``data`` of a download button that records the export in the audit log when taken.

    Use with ``st.download_button(..., data=session.audited_export(...), on_click="ignore")``:
    the entry (what, how many rows, who) is written when the person downloads, not when the
    button is drawn.
    """
    who, store = viewer(), engine()

    def produce():
        with store.begin() as conn:
            access.record_export(conn, who, what, rows)
        return data() if callable(data) else data

    return produce


def show_identity(shown: access.Viewer) -> None:
    """Who ``shown`` is: name, role and, when limited, the scope of their rows."""
    st.markdown(t("access.signed_in_as", user_name=shown.user_name, role=role_name(shown.role)))
    scope = shown.manager_id or ", ".join(shown.regions)
    if scope:
        st.caption(t("access.scope_district", scope=scope))


def account_box() -> None:
    """The sidebar's account lines: who is signed in, their scope, and the sign-out button."""
    signed = signed_in()
    if signed is None:
        return
    show_identity(signed)
    if st.button(t("access.sign_out"), key="sign_out"):
        sign_out()
        st.rerun()
