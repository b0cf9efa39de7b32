"""A store that cannot be used is named in the user's words: not migrated, locked, unreachable."""

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from core import access, cli, i18n
from core.store import engine as store_engine

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60


def _app(url: str, language: str, monkeypatch) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", language)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_app_refuses_a_store_behind_the_code_and_names_the_command(
    tmp_path, monkeypatch, language
):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = store_engine.connect(url)
    store_engine.migrate(engine, store_engine.BASELINE_REVISION)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version"))
    engine.dispose()
    at = _app(url, language, monkeypatch).run()
    assert not at.exception
    expected = i18n.translate(
        "store.schema_behind",
        language,
        store=store_engine.describe(url),
        command=store_engine.MIGRATE_COMMAND,
    )
    assert [error.value for error in at.error] == [expected]
    assert not at.text_input
    # Nothing was changed behind the user's back: the store is still unversioned.
    assert store_engine.schema_status(store_engine.connect(url)) == "behind"


def test_the_app_refuses_an_empty_store(tmp_path, monkeypatch):
    url = f"duckdb:///{tmp_path / 'new.duckdb'}"
    at = _app(url, "zh", monkeypatch).run()
    assert not at.exception
    assert "python -m core migrate" in at.error[0].value
    assert at.error[0].value.startswith("数据库")


@pytest.fixture
def locked_duckdb(tmp_path):
    """A migrated DuckDB file held open by another process, as a command-line import holds it."""
    path = tmp_path / "busy.duckdb"
    engine = store_engine.connect(f"duckdb:///{path}")
    store_engine.migrate(engine)
    engine.dispose()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, duckdb; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    yield f"duckdb:///{path}"
    holder.stdin.close()
    holder.wait(timeout=30)
    holder.stdout.close()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_app_names_a_store_another_program_holds(locked_duckdb, monkeypatch, language):
    at = _app(locked_duckdb, language, monkeypatch).run()
    assert not at.exception
    expected = i18n.translate("store.locked", language, store=store_engine.describe(locked_duckdb))
    assert [error.value for error in at.error] == [expected]


def test_the_command_line_names_a_store_another_program_holds(
    locked_duckdb, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "zh")
    readings = tmp_path / "readings.csv"
    readings.write_text("customer_id,ts,kwh\n3201000001,2025-01-01 00:00,1.0\n", encoding="utf-8")
    code = cli.main(
        ["import", "--table", "readings", str(readings), "--database-url", locked_duckdb]
    )
    assert code == 2
    expected = i18n.translate("store.locked", "zh", store=store_engine.describe(locked_duckdb))
    assert capsys.readouterr().err.strip() == f"error: {expected}"


def test_a_server_that_does_not_answer_gets_a_message(monkeypatch):
    # Nothing listens on port 9 of this machine (the discard port is never served here).
    url = "postgresql+psycopg://workbench@127.0.0.1:9/workbench"
    at = _app(url, "en", monkeypatch).run()
    assert not at.exception
    expected = i18n.translate("store.unavailable", "en", store=store_engine.describe(url))
    assert [error.value for error in at.error] == [expected]


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_connections_the_server_dropped_are_replaced(store_url, monkeypatch):
    engine = store_engine.connect(store_url)
    with engine.begin() as conn:
        access.create_administrator(conn, "chen.admin", "Workbench-2025")
    engine.dispose()
    first = _app(store_url, "en", monkeypatch).run()
    assert not first.exception
    user_name = i18n.translate("access.user_name", "en")
    assert [box.label for box in first.text_input][0] == user_name
    database = sa.make_url(store_url).database
    admin = sa.create_engine(sa.make_url(store_url).set(database="postgres"))
    with admin.begin() as conn:
        ended = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :database AND pid <> pg_backend_pid()"
            ),
            {"database": database},
        ).scalar_one()
    admin.dispose()
    # The app held at least one pooled connection, now dead on the server side.
    assert ended >= 1
    again = first.run()
    assert not again.exception and not again.error
    visitor = _app(store_url, "en", monkeypatch).run()
    assert not visitor.exception and not visitor.error
    assert [box.label for box in visitor.text_input][0] == user_name


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_server_lost_after_the_app_connected_gets_a_message(store_url, monkeypatch):
    engine = store_engine.connect(store_url)
    with engine.begin() as conn:
        access.create_administrator(conn, "chen.admin", "Workbench-2025")
    engine.dispose()
    at = _app(store_url, "zh", monkeypatch).run()
    assert not at.exception
    # Every new connection is refused from now on, as when the server is stopped.
    database = sa.make_url(store_url).database
    admin = sa.create_engine(sa.make_url(store_url).set(database="postgres"))
    with admin.begin() as conn:
        conn.execute(sa.text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false'))
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :database AND pid <> pg_backend_pid()"
            ),
            {"database": database},
        )
    try:
        at.run()
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()
    assert not at.exception
    expected = i18n.translate("store.unavailable", "zh", store=store_engine.describe(store_url))
    assert [error.value for error in at.error] == [expected]
