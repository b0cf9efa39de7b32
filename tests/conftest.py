"""Shared fixtures: a store on every backend, and one small demo store for the whole session."""

import contextlib
import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.store import engine as store_engine

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Small enough to build in seconds, large enough that every class, archetype and campaign appears.
DEMO_TEST_CUSTOMERS = 120
DEMO_TEST_SEED = 11


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """A fresh PostgreSQL database for this run, dropped at the end; skips when no server."""
    admin_url = os.environ.get("WORKBENCH_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    required = os.environ.get("WORKBENCH_REQUIRE_POSTGRES") == "1"
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure to connect means "not reachable"
        message = f"PostgreSQL not reachable at {admin_url}: {error.__class__.__name__}: {error}"
        if required:
            pytest.fail(message)
        pytest.skip(message)
    name = f"workbench_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    yield url
    sa.create_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
            {"name": name},
        )
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_files(tmp_path_factory) -> dict[str, Path]:
    """One empty DuckDB and one empty SQLite file per run, made by the migrations; copied per test.

    Copying a migrated file takes milliseconds; SQLite commits each DDL statement on its own,
    which makes migrating a fresh file take most of a second.
    """
    folder = tmp_path_factory.mktemp("migrated")
    files = {"duckdb": folder / "store.duckdb", "sqlite": folder / "store.sqlite"}
    for backend, path in files.items():
        engine = store_engine.connect(f"{backend}:///{path}")
        store_engine.migrate(engine)
        engine.dispose()
    return files


@pytest.fixture(params=["duckdb", "sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """An empty store migrated to the newest revision, on each backend in turn."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_server_url")
        engine = store_engine.connect(url)
        # Whatever the previous test created (demo truth tables included) goes with the schema.
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        store_engine.migrate(engine)
        engine.dispose()
        return url
    template = request.getfixturevalue("migrated_files")[request.param]
    target = tmp_path / template.name
    shutil.copyfile(template, target)
    return f"{request.param}:///{target}"


@pytest.fixture
def store(store_url) -> sa.Engine:
    """An engine on an empty store, per backend."""
    engine = store_engine.connect(store_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory) -> str:
    """A small demo store on DuckDB, built once per test session. Tests must not write to it."""
    from core import demo

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    url = f"duckdb:///{path}"
    engine = store_engine.connect(url)
    demo.generate(engine, customers=DEMO_TEST_CUSTOMERS, seed=DEMO_TEST_SEED)
    engine.dispose()
    return url


@pytest.fixture
def demo_store(demo_url) -> sa.Engine:
    """An engine on the shared demo store."""
    engine = store_engine.connect(demo_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def featured_demo_url(demo_url, tmp_path_factory) -> str:
    """A copy of the demo store with the features table refreshed. Tests must not write to it."""
    import shutil

    from core import features

    path = tmp_path_factory.mktemp("featured") / "demo.duckdb"
    shutil.copyfile(sa.make_url(demo_url).database, path)
    url = f"duckdb:///{path}"
    engine = store_engine.connect(url)
    features.refresh(engine)
    engine.dispose()
    return url


@pytest.fixture
def featured_demo_store(featured_demo_url) -> sa.Engine:
    """An engine on the demo store with features."""
    engine = store_engine.connect(featured_demo_url)
    yield engine
    engine.dispose()


@pytest.fixture
def signed_in():
    """Signs an AppTest session in: ``signed_in(at, "analyst", regions=("大冶市",))``.

    Pages run directly (``AppTest.from_file("pages/x.py")``) act as the default viewer; tests of
    what a role may see sign the session in first.
    """
    from core import access

    def sign_in(at, role: str, *, granted: bool = False, **scope) -> access.Viewer:
        viewer = access.Viewer(
            user_name=f"test_{role}",
            role=role,
            contact_grant=access.contact_grant_for(role, granted),
            **scope,
        )
        at.session_state["viewer"] = viewer
        at.session_state["last_seen"] = access.now()
        return viewer

    return sign_in


@pytest.fixture(scope="session")
def access_url(demo_url, tmp_path_factory) -> str:
    """A writable copy of the demo store with its demo accounts, made the way `make run` does."""
    import shutil
    from pathlib import Path

    from core import cli

    target = tmp_path_factory.mktemp("access") / "access.duckdb"
    shutil.copy(Path(sa.make_url(demo_url).database), target)
    url = f"duckdb:///{target}"
    assert cli.main(["demo", "--if-missing", "--database-url", url]) == 0
    return url


class RunningApp:
    """The app served by ``streamlit run app.py`` on a copy of the demo store with its accounts.

    Attributes:
        url: the app's address (``http://127.0.0.1:PORT``).
        database_url: the store it serves; the app holds it open while it runs.
    """

    def __init__(self, url: str, database_url: str) -> None:
        self.url = url
        self.database_url = database_url

    def sign_in(self, page, user_name: str = "manager", password: str | None = None) -> None:
        """Signs a Playwright page in through the login form (demo password by default)."""
        from core import i18n
        from core.demo import accounts as demo_accounts

        page.goto(self.url)
        # Typing into a form that a run still under way re-renders would be lost.
        wait_until_idle(page)
        page.get_by_label(i18n.translate("access.user_name", "en")).fill(user_name)
        page.get_by_label(i18n.translate("access.password", "en"), exact=True).fill(
            password or demo_accounts.DEMO_PASSWORD
        )
        page.get_by_role("button", name=i18n.translate("access.sign_in", "en"), exact=True).click()
        page.get_by_text(f"Signed in as {user_name}").wait_for()
        wait_until_idle(page)


# What the browser tests wait for is the app's state: its script run finished (below), an
# element shown. No step has a time budget of its own; this limit, applied to every wait, only
# ends a test that would otherwise hang (a server that died, a page that never comes).
BROWSER_SAFETY_TIMEOUT_MS = 8 * 60_000
# A browser test runs many such waits; its own limit (pytest-timeout's, 600 s for other tests)
# is raised likewise, as a last resort.
BROWSER_TEST_TIMEOUT_S = 40 * 60
# Streamlit marks its root element with the connection and the state of the script run.
_APP_IDLE = (
    '[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
    '[data-test-script-state="notRunning"]'
)


def wait_until_idle(page) -> None:
    """Waits until the app in ``page`` is connected and no run of its script is under way."""
    page.locator(_APP_IDLE).wait_for()


def new_page(browser):
    """A page in a fresh browser context (downloads allowed) with the safety limit on waits."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(BROWSER_SAFETY_TIMEOUT_MS)
    return context.new_page()


@contextlib.contextmanager
def serve_app(database_url: str, log_path):
    """Runs ``streamlit run app.py`` in English on ``database_url`` until the block ends.

    Yields:
        The app's address (``http://127.0.0.1:PORT``).
    """
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": database_url, "WORKBENCH_LANGUAGE": "en"}
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.headless=true",
                "--server.address=127.0.0.1",
                f"--server.port={port}",
                "--browser.gatherUsageStats=false",
            ],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        address = f"http://127.0.0.1:{port}"
        # The server is waited for until it answers or exits; the limit only ends a hang.
        deadline = time.monotonic() + BROWSER_SAFETY_TIMEOUT_MS / 1000
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"{address}/_stcore/health", timeout=2) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        output = Path(log_path).read_text(errors="replace")
                        pytest.fail(f"streamlit did not start: {output[-2000:]}")
                    time.sleep(0.5)
            yield address
        finally:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                # Reaped, so that no process of this run outlives it.
                server.wait()


def demo_store_with_accounts(demo_url: str, folder) -> str:
    """A copy of the demo store in ``folder`` with the demo accounts; returns its URL."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    target = Path(folder) / "app.duckdb"
    shutil.copy(Path(sa.make_url(demo_url).database), target)
    url = f"duckdb:///{target}"
    # A separate process, so that no connection of this one holds the embedded store's lock.
    subprocess.run(
        [sys.executable, "-m", "core", "users", "--demo", "--database-url", url],
        cwd=Path(__file__).resolve().parent.parent,
        check=True,
        capture_output=True,
    )
    return url


@pytest.fixture(scope="session")
def running_app(demo_url, tmp_path_factory):
    """``streamlit run app.py`` in English on its own copy of the demo store with demo accounts.

    Sign in with ``running_app.sign_in(page, "manager")``; the demo accounts are those of
    ``core.demo.accounts.DEMO_ACCOUNTS``, all with ``core.demo.accounts.DEMO_PASSWORD``.
    """
    folder = tmp_path_factory.mktemp("running_app")
    url = demo_store_with_accounts(demo_url, folder)
    with serve_app(url, folder / "streamlit.log") as address:
        yield RunningApp(address, url)


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(BROWSER_TEST_TIMEOUT_S))


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium from Debian's package, driven by Playwright; one per test session."""
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    """A fresh browser context and page for one test (downloads allowed), closed afterwards."""
    opened = new_page(browser)
    yield opened
    opened.context.close()
