"""The schema's migrations: one line of revisions whose head is the declared schema, everywhere."""

import pytest
import sqlalchemy as sa

from core import cli, errors, i18n
from core.store import engine as store_engine
from core.store import schema


def test_revisions_form_one_line_from_the_baseline():
    scripts = list(store_engine._scripts().walk_revisions())
    assert scripts[0].revision == store_engine.head_revision()
    assert scripts[-1].revision == store_engine.BASELINE_REVISION
    for newer, older in zip(scripts, scripts[1:], strict=False):
        assert newer.down_revision == older.revision


def test_head_creates_exactly_the_declared_schema(store):
    assert store_engine.schema_differences(store) == []
    with store.connect() as conn:
        assert store_engine.revision(conn) == store_engine.head_revision()
        # The data-version row every import bumps comes with the schema.
        assert store_engine.data_version(conn) == 0


def test_a_table_declared_without_a_migration_is_found(store):
    undeclared = sa.Table(
        "tariff_offers", schema.metadata, sa.Column("offer_id", sa.String(40), primary_key=True)
    )
    try:
        differences = store_engine.schema_differences(store)
    finally:
        schema.metadata.remove(undeclared)
    assert [(kind, table.name) for kind, table in differences] == [("add_table", "tariff_offers")]


def test_migrating_twice_changes_nothing(store):
    with store.begin() as conn:
        store_engine.bump_data_version(conn)
    head = store_engine.head_revision()
    assert store_engine.migrate(store) == (head, head)
    with store.connect() as conn:
        assert store_engine.data_version(conn) == 1
    assert store_engine.schema_status(store) == "current"


def _sqlite(tmp_path, name: str) -> sa.Engine:
    return store_engine.connect(f"sqlite:///{tmp_path / name}")


def test_an_empty_store_is_refused_with_the_command_to_run(tmp_path):
    engine = _sqlite(tmp_path, "empty.sqlite")
    assert store_engine.schema_status(engine) == "empty"
    with pytest.raises(errors.UserError) as refused:
        store_engine.check_schema(engine)
    assert refused.value.key == "store.schema_empty"
    assert store_engine.MIGRATE_COMMAND in refused.value.text("zh")
    previous, current = store_engine.migrate(engine)
    assert (previous, current) == (None, store_engine.head_revision())
    store_engine.check_schema(engine)


def test_a_store_made_before_versioned_migrations_is_adopted_with_its_data(tmp_path):
    engine = _sqlite(tmp_path, "unversioned.sqlite")
    # What stores were before migrations: the tables of the baseline, no version recorded.
    store_engine.migrate(engine, store_engine.BASELINE_REVISION)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version"))
    with engine.begin() as conn:
        conn.execute(schema.data_version.update().values(version=7))
    assert store_engine.schema_status(engine) == "behind"
    with pytest.raises(errors.UserError) as refused:
        store_engine.check_schema(engine)
    assert refused.value.key == "store.schema_behind"
    assert store_engine.MIGRATE_COMMAND in refused.value.text("en")
    previous, _ = store_engine.migrate(engine)
    assert previous == store_engine.BASELINE_REVISION
    assert store_engine.schema_status(engine) == "current"
    with engine.connect() as conn:
        assert store_engine.data_version(conn) == 7


def test_a_store_of_a_newer_version_is_refused(tmp_path):
    engine = _sqlite(tmp_path, "newer.sqlite")
    store_engine.migrate(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0999_from_the_future'"))
    assert store_engine.schema_status(engine) == "ahead"
    with pytest.raises(errors.UserError) as refused:
        store_engine.check_schema(engine)
    assert refused.value.key == "store.schema_ahead"
    assert "0999_from_the_future" in refused.value.text("zh")


def test_migrate_command_creates_then_reports_up_to_date(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    store = store_engine.describe(url)
    head = store_engine.head_revision()
    assert cli.main(["migrate", "--database-url", url]) == 0
    first = i18n.translate("store.migrated_from", "en", store=store, previous="—", revision=head)
    assert capsys.readouterr().out.strip() == first
    assert cli.main(["migrate", "--database-url", url]) == 0
    again = i18n.translate("store.migrated", "en", store=store, revision=head)
    assert capsys.readouterr().out.strip() == again


def test_commands_refuse_a_store_that_is_not_migrated(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "zh")
    url = f"duckdb:///{tmp_path / 'bare.duckdb'}"
    assert cli.main(["users", "--list", "--database-url", url]) == 2
    expected = i18n.translate(
        "store.schema_empty",
        "zh",
        store=store_engine.describe(url),
        command=store_engine.MIGRATE_COMMAND,
    )
    assert capsys.readouterr().err.strip() == f"error: {expected}"
