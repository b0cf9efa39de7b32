"""Accounts, roles, row scope, masking and the audit log (core.access)."""

import concurrent.futures
import datetime as dt
import json
import threading

import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, cli
from core.demo import accounts as demo_accounts
from core.demo import org as demo_org
from core.store import engine as store_engine
from core.store import schema

PASSWORD = "secret123"


@pytest.fixture
def access_store(access_url) -> sa.Engine:
    engine = store_engine.connect(access_url)
    yield engine
    engine.dispose()


@pytest.fixture
def small_store(tmp_path) -> sa.Engine:
    """An empty SQLite store, for account rules that do not depend on the backend."""
    engine = store_engine.connect(f"sqlite:///{tmp_path / 'accounts.sqlite'}")
    store_engine.migrate(engine)
    yield engine
    engine.dispose()


def audit(engine: sa.Engine, **filters) -> pd.DataFrame:
    with engine.connect() as conn:
        return access.audit_entries(conn, access.SYSTEM, **filters)


# Passwords, accounts, lockout, expiry (every backend)


def test_password_hash_is_salted_argon2id():
    first, second = access.hash_password(PASSWORD), access.hash_password(PASSWORD)
    assert first.startswith("$argon2id$")
    assert first != second
    assert PASSWORD not in first
    assert access.password_matches(first, PASSWORD)
    assert not access.password_matches(first, "secret124")
    assert not access.password_matches("not a hash", PASSWORD)


@pytest.mark.parametrize(
    ("password", "key"),
    [("abc123", "access.password_too_short"), ("abcdefghij", "access.password_letters_digits")],
)
def test_password_rules_refuse_weak_passwords(password, key):
    with pytest.raises(access.AccessError) as refused:
        access.check_password_rules(password)
    assert refused.value.key == key


def test_sign_in_checks_password_and_audits(store):
    with store.begin() as conn:
        access.create_administrator(conn, "root", PASSWORD)
        stored = conn.execute(sa.select(schema.users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")

    viewer = access.authenticate(store, "root", PASSWORD)
    assert viewer == access.Viewer("root", "administrator", contact_grant=True)

    for name, password in [("root", "wrong1234"), ("nobody", PASSWORD)]:
        with pytest.raises(access.AccessError) as refused:
            access.authenticate(store, name, password)
        # One message whether the name or the password is wrong: names cannot be probed.
        assert refused.value.key == "access.login_failed"

    entries = audit(store)
    assert list(entries["action"]) == ["login_failed", "login_failed", "login", "user_created"]
    assert list(entries["user_name"][:2]) == ["nobody", "root"]


def refusal(engine, user_name, password, **when) -> access.AccessError:
    with pytest.raises(access.AccessError) as refused:
        access.authenticate(engine, user_name, password, **when)
    return refused.value


def stored_user(engine, user_name):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(schema.users).where(schema.users.c.user_name == user_name)
        ).one()


def test_lockout_after_repeated_failures(store):
    with store.begin() as conn:
        access.create_administrator(conn, "root", PASSWORD)
    start = dt.datetime(2024, 5, 6, 9, 0)
    for attempt in range(access.MAX_FAILED_LOGINS):
        refused = refusal(store, "root", "wrong1234", at=start + dt.timedelta(seconds=attempt))
    assert stored_user(store, "root").locked_until == start + dt.timedelta(
        seconds=access.MAX_FAILED_LOGINS - 1, minutes=access.LOCKOUT_MINUTES
    )

    # Locked: even the right password is refused until the lock runs out, and the answer is the
    # one a wrong password or an unknown name gets.
    locked = refusal(store, "root", PASSWORD, at=start + dt.timedelta(minutes=1))
    unknown = refusal(store, "nobody", PASSWORD, at=start + dt.timedelta(minutes=1))
    assert (locked.key, locked.values) == (unknown.key, unknown.values)
    assert (locked.key, locked.values) == (refused.key, refused.values)
    assert locked.key == "access.login_failed"
    assert locked.text("en") == unknown.text("en")

    after = start + dt.timedelta(minutes=access.LOCKOUT_MINUTES + 1)
    assert access.authenticate(store, "root", PASSWORD, at=after).user_name == "root"
    row = stored_user(store, "root")
    assert row.failed_logins == 0 and row.locked_until is None

    actions = audit(store)["action"].value_counts()
    assert actions["login_failed"] == access.MAX_FAILED_LOGINS + 1
    assert actions["account_locked"] == 1
    assert actions["login_refused_locked"] == 1


def test_every_account_input_is_bounded_to_its_column(store):
    # PostgreSQL refuses an over-long value outright (StringDataRightTruncation): each one is
    # refused in words before it reaches the store.
    long_name = "a" * 10_000
    with pytest.raises(access.AccessError) as refused:
        access.authenticate(store, long_name, PASSWORD)
    assert refused.value.key == "access.user_name_too_long"
    assert refused.value.values == {"length": access.USER_NAME_LENGTH}
    entry = audit(store, action="login_failed").iloc[0]
    assert entry["target"] == long_name[: schema.audit_log.c.target.type.length]
    assert entry["user_name"] == long_name[: access.USER_NAME_LENGTH]

    cases = [
        ({"user_name": "b" * 61}, "access.user_name_too_long"),
        ({"display_name": "名" * 101}, "access.display_name_too_long"),
        ({"role": "customer_manager", "manager_id": "C" * 41}, "access.manager_id_too_long"),
        ({"password": "a1" * 65}, "access.password_too_long"),
    ]
    for changed, key in cases:
        values = {"user_name": "li.si", "password": PASSWORD, "role": "manager", **changed}
        user_name, password, role = (
            values.pop("user_name"),
            values.pop("password"),
            values.pop("role"),
        )
        with store.begin() as conn, pytest.raises(access.AccessError) as refused:
            access.create_user(conn, access.SYSTEM, user_name, password, role, **values)
        assert refused.value.key == key
    with store.begin() as conn:
        access.create_administrator(conn, "root", PASSWORD)
        with pytest.raises(access.AccessError) as refused:
            access.update_user(
                conn, access.SYSTEM, "root", role="customer_manager", manager_id="C" * 41
            )
        assert refused.value.key == "access.manager_id_too_long"
    # A very long password at sign-in is refused like any wrong one.
    assert refusal(store, "root", "x1" * 50_000).key == "access.login_failed"


PARALLEL_ATTEMPTS = 8


def at_once(count: int, attempt) -> list:
    """Runs ``attempt()`` in ``count`` threads released together; their results or errors."""
    barrier = threading.Barrier(count)

    def run():
        barrier.wait()
        try:
            return attempt()
        except Exception as error:  # noqa: BLE001 - every outcome is compared by the test
            return error

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: run(), range(count)))


def test_parallel_wrong_passwords_all_count_and_lock(store):
    with store.begin() as conn:
        access.create_administrator(conn, "root", PASSWORD)
    outcomes = at_once(PARALLEL_ATTEMPTS, lambda: access.authenticate(store, "root", "wrong1234"))
    assert all(isinstance(outcome, access.AccessError) for outcome in outcomes), outcomes
    assert {outcome.key for outcome in outcomes} == {"access.login_failed"}
    row = stored_user(store, "root")
    assert row.failed_logins == PARALLEL_ATTEMPTS
    assert row.locked_until is not None
    actions = audit(store)["action"].value_counts()
    assert actions["login_failed"] + actions.get("login_refused_locked", 0) == PARALLEL_ATTEMPTS
    assert actions["account_locked"] == 1
    assert refusal(store, "root", PASSWORD).key == "access.login_failed"


def test_parallel_sign_ins_of_one_account_all_succeed(store):
    with store.begin() as conn:
        access.create_administrator(conn, "root", PASSWORD)
    outcomes = at_once(PARALLEL_ATTEMPTS, lambda: access.authenticate(store, "root", PASSWORD))
    assert all(isinstance(outcome, access.Viewer) for outcome in outcomes), outcomes
    assert audit(store, action="login").shape[0] == PARALLEL_ATTEMPTS
    assert stored_user(store, "root").failed_logins == 0


def test_a_success_resets_the_failure_count(small_store):
    with small_store.begin() as conn:
        access.create_administrator(conn, "root", PASSWORD)
    for _ in range(access.MAX_FAILED_LOGINS - 1):
        with pytest.raises(access.AccessError):
            access.authenticate(small_store, "root", "wrong1234")
    access.authenticate(small_store, "root", PASSWORD)
    with pytest.raises(access.AccessError) as refused:
        access.authenticate(small_store, "root", "wrong1234")
    assert refused.value.key == "access.login_failed"


def test_session_expires_after_inactivity():
    seen = dt.datetime(2024, 5, 6, 9, 0)
    idle = dt.timedelta(minutes=access.SESSION_IDLE_MINUTES)
    assert not access.session_expired(seen, seen + idle)
    assert access.session_expired(seen, seen + idle + dt.timedelta(seconds=1))
    assert access.session_expired(None, seen)


def test_password_change(small_store):
    with small_store.begin() as conn:
        access.create_administrator(conn, "root", PASSWORD)
    viewer = access.authenticate(small_store, "root", PASSWORD)
    with pytest.raises(access.AccessError) as refused, small_store.begin() as conn:
        access.change_password(conn, viewer, "wrong1234", "newsecret9")
    assert refused.value.key == "access.current_password_wrong"
    with pytest.raises(access.AccessError) as refused, small_store.begin() as conn:
        access.change_password(conn, viewer, PASSWORD, "short1")
    assert refused.value.key == "access.password_too_short"
    with small_store.begin() as conn:
        access.change_password(conn, viewer, PASSWORD, "newsecret9")
    assert access.authenticate(small_store, "root", "newsecret9").user_name == "root"
    with pytest.raises(access.AccessError):
        access.authenticate(small_store, "root", PASSWORD)
    assert "password_changed" in set(audit(small_store)["action"])


def test_only_administrators_manage_accounts_and_changes_are_audited(small_store):
    with small_store.begin() as conn:
        access.create_administrator(conn, "root", PASSWORD)
        root = access.viewer_for(conn, "root")
        access.create_user(conn, root, "li.ming", PASSWORD, "analyst")
        analyst = access.viewer_for(conn, "li.ming")
        with pytest.raises(access.AccessError) as refused:
            access.create_user(conn, analyst, "intruder", PASSWORD, "administrator")
        assert refused.value.key == "access.administrators_only"
        with pytest.raises(access.AccessError) as refused:
            access.audit_entries(conn, analyst)
        assert refused.value.key == "access.administrators_only"
        with pytest.raises(access.AccessError) as refused:
            access.create_user(conn, root, "cm", PASSWORD, "customer_manager")
        assert refused.value.key == "access.manager_id_required"
        with pytest.raises(access.AccessError) as refused:
            access.create_user(conn, root, "li.ming", PASSWORD, "analyst")
        assert refused.value.key == "access.user_exists"
        with pytest.raises(access.AccessError) as refused:
            access.update_user(conn, root, "root", role="analyst")
        assert refused.value.key == "access.keep_own_administration"

        access.update_user(conn, root, "li.ming", role="manager", contact_grant=True)
        promoted = access.viewer_for(conn, "li.ming")
    assert promoted.role == "manager" and promoted.contact_grant

    change = audit(small_store, action="role_changed").iloc[0]
    assert (change["user_name"], change["target"]) == ("root", "li.ming")
    assert json.loads(change["detail"])["role"] == {"from": "analyst", "to": "manager"}


def test_audit_refuses_unknown_actions_and_filters(small_store):
    with small_store.begin() as conn:
        with pytest.raises(ValueError, match="unknown audit action"):
            access.record(conn, access.SYSTEM, "delete_everything")
        access.record_export(conn, access.SYSTEM, "target_list.csv", 42)
        access.record(conn, "zhang", "import", "readings.csv", {"rows": 10})
    exports = audit(small_store, action="export")
    assert len(exports) == 1
    assert exports.iloc[0]["target"] == "target_list.csv"
    assert json.loads(exports.iloc[0]["detail"]) == {"rows": 42}
    assert list(audit(small_store, user_name="zhang")["action"]) == ["import"]
    future = access.now() + dt.timedelta(days=1)
    assert audit(small_store, start=future).empty


# Masking


def test_masking_functions():
    assert access.mask_phone("13812345678") == "138****5678"
    assert access.mask_phone(None) is None
    assert access.mask_name("张三明") == "张*明"
    assert access.mask_name("李四") == "李*"
    assert access.mask_name("欧阳小明") == "欧**明"
    assert access.mask_name("John Smith") == "J*** S****"
    assert access.mask_id_number("420102199001011234") == "4201**********1234"


def customers_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["1", "2", "3"],
            "name": ["张三明", "黄石恒通科技有限公司", None],
            "customer_class": ["residential", "industrial", "residential"],
            "phone": ["13812345678", "18167812618", None],
            "kwh": [1.0, 2.0, 3.0],
        }
    )


def test_mask_frame_hides_personal_fields_without_the_grant():
    frame = customers_frame()
    analyst = access.Viewer("a", "analyst")
    masked = access.mask_frame(analyst, frame)
    assert list(masked["name"][:2]) == ["张*明", "黄石恒通科技有限公司"]
    assert masked["name"].isna().iloc[2]
    assert list(masked["phone"][:2]) == ["138****5678", "181****2618"]
    assert masked["phone"].isna().iloc[2]
    assert masked["phone"].dtype == frame["phone"].dtype
    assert list(masked["kwh"]) == [1.0, 2.0, 3.0]
    assert frame["phone"].iloc[0] == "13812345678", "the caller's frame is left as it was"

    granted = access.Viewer("c", "customer_manager", manager_id="CM1", contact_grant=True)
    assert access.mask_frame(granted, frame).equals(frame)


def test_mask_frame_masks_every_name_when_the_class_is_unknown():
    frame = customers_frame().drop(columns="customer_class")
    masked = access.mask_frame(access.Viewer("m", "manager"), frame)
    assert masked["name"].iloc[1] == "黄********司"


def test_mask_record():
    record = {"customer_id": "1", "name": "王小二", "phone": "13912345678"}
    masked = access.mask_record(access.Viewer("m", "manager"), record)
    assert masked == {"customer_id": "1", "name": "王*二", "phone": "139****5678"}


# Roles and pages

EXPECTED_PAGES = {
    "administrator": {
        "pages/overview.py",
        "pages/account.py",
        "pages/data_quality.py",
        "pages/admin.py",
    },
    "manager": {
        "pages/overview.py",
        "pages/account.py",
        "pages/customer_360.py",
        "pages/segments.py",
        "pages/forecast.py",
        "pages/tariffs.py",
        "pages/campaigns.py",
        "pages/topic_windows.py",
        "pages/data_quality.py",
        "pages/risk.py",
    },
    "analyst": {
        "pages/overview.py",
        "pages/account.py",
        "pages/customer_360.py",
        "pages/segments.py",
        "pages/forecast.py",
        "pages/tariffs.py",
        "pages/campaigns.py",
        "pages/risk.py",
    },
    "customer_manager": {
        "pages/overview.py",
        "pages/account.py",
        "pages/customer_360.py",
        "pages/tariffs.py",
        "pages/campaigns.py",
        "pages/risk.py",
    },
    "inspector": {"pages/overview.py", "pages/account.py", "pages/risk.py"},
}


@pytest.mark.parametrize("role", access.ROLES)
def test_each_role_sees_exactly_its_pages(role):
    viewer = access.Viewer("someone", role)
    assert set(access.pages_for(viewer, access.PAGE_ROLES)) == EXPECTED_PAGES[role]


def test_a_page_without_roles_is_for_administrators_only():
    assert access.may_open(access.Viewer("a", "administrator"), "pages/new_window.py")
    for role in ("manager", "analyst", "customer_manager", "inspector"):
        assert not access.may_open(access.Viewer("x", role), "pages/new_window.py")


# Organisation tree and row scope on the demo store


def test_org_tree_is_city_districts_service_offices(access_store):
    with access_store.connect() as conn:
        units = access.org_units(conn)
        regions = set(conn.execute(sa.select(schema.customers.c.region).distinct()).scalars())
    assert units[0].level == "city" and units[0].parent is None
    assert {unit.path for unit in units if unit.level == "district"} == regions
    offices = [unit for unit in units if unit.level == "service_office"]
    assert offices and all(unit.parent in regions for unit in offices)
    assert all(unit.path == f"{unit.parent}/{unit.name}" for unit in offices)


def test_service_offices_from_transformer_area_numbers():
    assert demo_org.service_office_of("大冶市", "大冶001号台区") == "大冶市第1供电所"
    assert demo_org.service_office_of("大冶市", "大冶008号台区") == "大冶市第1供电所"
    assert demo_org.service_office_of("大冶市", "大冶009号台区") == "大冶市第2供电所"
    assert demo_org.service_office_of("大冶市", "东风路台区") == "大冶市供电所"
    assert demo_org.service_office_of("大冶市", None) is None


def customer_ids(engine: sa.Engine, condition: sa.ColumnElement) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(sa.select(schema.customers.c.customer_id).where(condition)).scalars()
        )


@pytest.mark.parametrize("user_name", [name for name, _ in demo_accounts.DEMO_ACCOUNTS])
def test_each_demo_account_sees_exactly_its_rows(access_store, user_name):
    viewer = access.authenticate(access_store, user_name, demo_accounts.DEMO_PASSWORD)
    with access_store.connect() as conn:
        visible = access.visible_customers(conn, viewer, limit=10_000)
        accounts = {account.user_name: account for account in demo_accounts.demo_accounts(conn)}
    customers = schema.customers
    scope = accounts[user_name].scope
    if user_name == "district_manager":
        expected = customer_ids(access_store, customers.c.region == scope)
    elif user_name == "customer_manager":
        expected = customer_ids(access_store, customers.c.manager_id == scope)
    else:
        expected = customer_ids(access_store, sa.true())
    assert set(visible["customer_id"]) == expected
    assert len(expected) > 0
    masked = visible["phone"].str.contains(r"\*\*\*\*", regex=True)
    assert masked.all() if not viewer.contact_grant else not masked.any()


def test_demo_accounts_have_the_roles_and_scopes_the_login_page_lists(access_store):
    with access_store.connect() as conn:
        accounts = demo_accounts.demo_accounts(conn)
    assert [(account.user_name, account.role) for account in accounts] == list(
        demo_accounts.DEMO_ACCOUNTS
    )
    assert {account.user_name for account in accounts if account.scope} == {
        "district_manager",
        "customer_manager",
    }
    assert access.authenticate(access_store, "admin", demo_accounts.DEMO_PASSWORD).contact_grant
    assert not access.authenticate(
        access_store, "manager", demo_accounts.DEMO_PASSWORD
    ).contact_grant


def test_search_obeys_the_scope(access_store):
    viewer = access.authenticate(access_store, "customer_manager", demo_accounts.DEMO_PASSWORD)
    with access_store.connect() as conn:
        other = conn.execute(
            sa.select(schema.customers.c.customer_id, schema.customers.c.phone)
            .where(schema.customers.c.manager_id != viewer.manager_id)
            .limit(1)
        ).one()
        own = access.visible_customers(conn, viewer, limit=1).iloc[0]
        assert access.visible_customers(conn, viewer, search=other.phone).empty
        assert access.visible_customers(conn, viewer, search=other.customer_id).empty
        found = access.visible_customers(conn, viewer, search=own["phone"])
    assert list(found["customer_id"]) == [own["customer_id"]]


def test_a_service_office_sees_its_transformer_areas(access_store):
    with access_store.begin() as conn:
        office = next(unit for unit in access.org_units(conn) if unit.level == "service_office")
        access.create_user(
            conn, access.SYSTEM, "office.lead", PASSWORD, "manager", org_unit=office.path
        )
        viewer = access.viewer_for(conn, "office.lead")
        visible = access.visible_customers(conn, viewer, limit=10_000)
        every = access.visible_customers(conn, access.SYSTEM, limit=10_000)
    assert viewer.regions == (office.parent,)
    served = every[
        [
            demo_org.service_office_of(region, area) == office.name
            for region, area in zip(every["region"], every["transformer_area"], strict=True)
        ]
    ]
    assert set(visible["customer_id"]) == set(served["customer_id"])
    assert not visible.empty


def test_unknown_org_unit_is_refused(access_store):
    with access_store.begin() as conn, pytest.raises(access.AccessError) as refused:
        access.create_user(conn, access.SYSTEM, "x.y", PASSWORD, "manager", org_unit="火星区")
    assert refused.value.key == "access.unknown_org_unit"


def test_opening_another_managers_customer_is_refused_and_audited(access_store):
    viewer = access.authenticate(access_store, "customer_manager", demo_accounts.DEMO_PASSWORD)
    customers = schema.customers
    own = sorted(customer_ids(access_store, customers.c.manager_id == viewer.manager_id))[0]
    other = sorted(customer_ids(access_store, customers.c.manager_id != viewer.manager_id))[0]
    with access_store.begin() as conn:
        assert access.open_customer(conn, viewer, own)
        assert not access.open_customer(conn, viewer, other)
    entries = audit(access_store, user_name="customer_manager")
    assert entries.iloc[0][["action", "target"]].tolist() == ["customer_refused", other]
    assert entries.iloc[1][["action", "target"]].tolist() == ["customer_opened", own]


# Command line


def test_create_admin_from_the_command_line(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'real.sqlite'}"
    monkeypatch.setenv("WORKBENCH_ADMIN_PASSWORD", "first-admin-7")
    # A new deployment creates the schema first; the account command says so.
    assert cli.main(["users", "--create-admin", "wang.admin", "--database-url", url]) == 2
    assert store_engine.MIGRATE_COMMAND in capsys.readouterr().err
    assert cli.main(["migrate", "--database-url", url]) == 0
    assert cli.main(["users", "--create-admin", "wang.admin", "--database-url", url]) == 0
    engine = store_engine.connect(url)
    assert access.authenticate(engine, "wang.admin", "first-admin-7").role == "administrator"
    # A real store never gets the demo accounts and their published password.
    assert cli.main(["users", "--demo", "--database-url", url]) == 2
    assert "only created on a demo store" in capsys.readouterr().err
    with engine.connect() as conn:
        assert list(access.users(conn, access.SYSTEM)["user_name"]) == ["wang.admin"]
    engine.dispose()


def test_create_admin_refuses_a_weak_password(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'real.sqlite'}"
    monkeypatch.setenv("WORKBENCH_ADMIN_PASSWORD", "short")
    assert cli.main(["migrate", "--database-url", url]) == 0
    assert cli.main(["users", "--create-admin", "wang.admin", "--database-url", url]) == 2
    assert "at least 8 characters" in capsys.readouterr().err


def test_mask_record_keeps_types_and_company_names():
    company = {
        "name": "黄石恒通科技有限公司",
        "customer_class": "industrial",
        "phone": "18167812618",
    }
    company["contract_capacity_kva"] = None
    masked = access.mask_record(access.Viewer("a", "analyst"), company)
    assert masked == {**company, "phone": "181****2618"}
    assert masked["contract_capacity_kva"] is None


def test_an_import_is_audited(small_store, tmp_path):
    from core import ingest

    path = tmp_path / "weather.csv"
    path.write_text(
        "region,ts,temperature_c\n大冶市,2024-05-06 09:00,21.5\n大冶市,2024-05-06 10:00,oops\n",
        encoding="utf-8",
    )
    importer = access.Viewer("zhou.admin", "administrator")
    result = ingest.import_file(small_store, "weather", path, viewer=importer)
    entry = audit(small_store, action="import").iloc[0]
    assert (entry["user_name"], entry["target"]) == ("zhou.admin", "weather: weather.csv")
    detail = json.loads(entry["detail"])
    assert (detail["rows_landed"], detail["rows_rejected"]) == (1, 1)
    assert detail["import_id"] == result.import_id


def test_record_times_are_stored_in_utc_and_shown_in_local_time_with_the_zone(
    small_store, tmp_path
):
    from core import calendars, ingest, quality
    from core.ingest import rejected

    path = tmp_path / "weather.csv"
    path.write_text(
        "region,ts,temperature_c\n大冶市,2024-05-06 09:00,21.5\n大冶市,2024-05-06 10:00,oops\n",
        encoding="utf-8",
    )
    before = calendars.utc_now()
    ingest.import_file(small_store, "weather", path, viewer=access.SYSTEM)
    after = calendars.utc_now()
    with small_store.connect() as conn:
        stored = [
            conn.execute(sa.select(sa.func.max(column))).scalar_one()
            for column in (
                schema.audit_log.c.at,
                schema.imports.c.started_at,
                schema.imports.c.finished_at,
                schema.rejected_rows.c.rejected_at,
            )
        ]
        history = quality.imports_history(conn)
    # Stored naive in UTC, whatever the server's own zone.
    for moment in stored:
        assert before <= moment <= after, stored
    shown = [
        audit(small_store)["at"].iloc[0],
        history["finished_at"].iloc[0],
        rejected.rejected_rows(small_store, access.SYSTEM)["rejected_at"].iloc[0],
    ]
    for moment in shown:
        assert moment.tzinfo is not None and moment.utcoffset() == dt.timedelta(hours=8)
        assert before <= moment.tz_convert("UTC").tz_localize(None) <= after
    # An audit filter in local time finds the entry; one starting an hour later does not.
    local_start = pd.Timestamp(before).tz_localize("UTC").tz_convert(calendars.LOCAL_TIME)
    assert not audit(small_store, start=local_start.to_pydatetime()).empty
    later = (local_start + pd.Timedelta(hours=1)).to_pydatetime()
    assert audit(small_store, start=later).empty


def test_single_sign_on_maps_the_address_to_an_account(small_store):
    with small_store.begin() as conn:
        access.create_user(conn, access.SYSTEM, "Wang.Li@example.cn", PASSWORD, "analyst")
        assert (
            access.viewer_for_email(conn, " wang.li@EXAMPLE.cn ").user_name == "Wang.Li@example.cn"
        )
        access.update_user(conn, access.SYSTEM, "Wang.Li@example.cn", active=False)
        with pytest.raises(access.AccessError) as refused:
            access.viewer_for_email(conn, "wang.li@example.cn")
        assert refused.value.key == "access.unknown_user"
        with pytest.raises(access.AccessError) as refused:
            access.viewer_for_email(conn, "nobody@example.cn")
        assert refused.value.key == "access.no_account_for_email"


def test_rejected_rows_are_masked_by_the_column_they_came_from():
    rejected = pd.DataFrame(
        {
            "row_number": [2, 3, 4, 5],
            "column_name": ["phone", "name", "kwh", None],
            "value": [
                "13812345678",
                "张三明",
                "-3.2",
                "4210000009,王小二,13912345678,420102199001011234",
            ],
        }
    )
    masked = access.mask_frame(access.Viewer("m", "manager"), rejected)
    assert list(masked["value"]) == [
        "138****5678",
        "张*明",
        "-3.2",
        "4210000009,王小二,139****5678,4201**********1234",
    ]
    granted = access.Viewer("a", "administrator", contact_grant=True)
    assert access.mask_frame(granted, rejected).equals(rejected)


# Sessions a reload finds again (every backend)


def test_a_session_token_resumes_its_session_until_it_ends(store):
    with store.begin() as conn:
        access.create_user(conn, access.SYSTEM, "li.manager", PASSWORD, "manager")
        viewer = access.viewer_for(conn, "li.manager")
    start = dt.datetime(2024, 5, 6, 9, 0)
    with store.begin() as conn:
        token = access.start_session(conn, viewer, at=start)
        stored = conn.execute(sa.select(schema.sessions)).one()
    assert token not in stored and stored.token_hash != token, "only the token's hash is kept"
    assert len(token) >= 40

    def resume(at, value=token):
        with store.begin() as conn:
            return access.resume_session(conn, value, at=at)

    used = start + dt.timedelta(minutes=access.SESSION_IDLE_MINUTES - 1)
    assert resume(used) == viewer
    # Used again within the idle time: still open, however long after the start.
    later = used + dt.timedelta(minutes=access.SESSION_IDLE_MINUTES - 1)
    assert resume(later) == viewer
    assert resume(later, "not-a-token") is None
    assert resume(later, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    # Idle too long: ended, for good.
    idle = later + dt.timedelta(minutes=access.SESSION_IDLE_MINUTES + 1)
    assert resume(idle) is None
    assert resume(later) is None


def test_a_session_ends_with_its_account_or_its_age(store):
    with store.begin() as conn:
        access.create_user(conn, access.SYSTEM, "li.manager", PASSWORD, "manager")
        viewer = access.viewer_for(conn, "li.manager")
        disabled, reset, old, signed_out = (access.start_session(conn, viewer) for _ in range(4))
    with store.begin() as conn:
        access.end_session(conn, signed_out)
        assert access.resume_session(conn, signed_out) is None
        assert (
            access.resume_session(
                conn, old, at=access.now() + dt.timedelta(hours=access.SESSION_MAX_HOURS, minutes=1)
            )
            is None
        )
        access.reset_password(conn, access.SYSTEM, "li.manager", "another123")
        assert access.resume_session(conn, reset) is None
    with store.begin() as conn:
        fresh = access.start_session(conn, viewer)
        access.update_user(conn, access.SYSTEM, "li.manager", active=False)
        assert access.resume_session(conn, fresh) is None
        assert access.resume_session(conn, disabled) is None


# The organisation tree is data


ORG_FILE = """单位路径,单位名称,层级,上级
滨江市,滨江市,city,
东区,东区,district,滨江市
西区,西区,district,滨江市
东区/东区城南供电所,东区城南供电所,service_office,东区
东区/东区城南供电所/东风路台区,东风路台区,transformer_area,东区/东区城南供电所
东区/东区城南供电所/A区,A区,transformer_area,东区/东区城南供电所
东区/东区城北供电所,东区城北供电所,service_office,东区
东区/东区城北供电所/北门台区,北门台区,transformer_area,东区/东区城北供电所
西区/西区供电所/某台区,某台区,district_office,西区/西区供电所
"""


def customers_in_areas(store, areas: dict[str, tuple[str, str]]) -> None:
    with store.begin() as conn:
        conn.execute(
            schema.customers.insert(),
            [
                {
                    "customer_id": customer_id,
                    "name": f"客户{customer_id}",
                    "customer_class": "industrial",
                    "region": region,
                    "transformer_area": area,
                    "tariff_code": "X",
                }
                for customer_id, (region, area) in areas.items()
            ],
        )


def test_the_org_tree_is_imported_and_scopes_come_from_it(small_store, tmp_path):
    from core import ingest

    customers_in_areas(
        small_store,
        {
            "1": ("东区", "东风路台区"),
            "2": ("东区", "A区"),
            "3": ("东区", "北门台区"),
            "4": ("西区", "某台区"),
        },
    )
    path = tmp_path / "org.csv"
    path.write_text(ORG_FILE, encoding="utf-8")
    # Rows that belong to no customer: only an administrator imports them.
    with pytest.raises(access.AccessError):
        ingest.import_file(
            small_store, "org_units", path, viewer=access.Viewer("m", "manager", regions=("东区",))
        )
    result = ingest.import_file(small_store, "org_units", path, viewer=access.SYSTEM)
    assert (result.rows_landed, result.rows_rejected) == (8, 1), "an unknown level is refused"
    with small_store.begin() as conn:
        units = access.org_units(conn)
        assert [(unit.path, unit.level) for unit in units] == [
            ("", "city"),
            ("东区", "district"),
            ("东区/东区城北供电所", "service_office"),
            ("东区/东区城南供电所", "service_office"),
            ("西区", "district"),
        ]
        assert units[0].name == "滨江市"
        # Areas named any way at all belong to the office the tree puts them under.
        assert access.org_scope(conn, "东区/东区城南供电所") == (("东区",), ("A区", "东风路台区"))
        access.create_user(
            conn, access.SYSTEM, "nan.lead", PASSWORD, "manager", org_unit="东区/东区城南供电所"
        )
        seen = access.visible_customers(conn, access.viewer_for(conn, "nan.lead"))
        assert sorted(seen["customer_id"]) == ["1", "2"]
        with pytest.raises(access.AccessError):
            access.org_scope(conn, "西区/西区供电所")


def test_a_store_without_an_org_tree_scopes_to_its_districts(small_store):
    customers_in_areas(small_store, {"1": ("东区", "东风路台区"), "2": ("西区", "某台区")})
    with small_store.connect() as conn:
        units = access.org_units(conn)
        assert [(unit.path, unit.level) for unit in units] == [
            ("", "city"),
            ("东区", "district"),
            ("西区", "district"),
        ]
        assert access.org_scope(conn, "西区") == (("西区",), ())


def test_the_demo_tree_puts_every_customers_area_under_one_office(access_store):
    with access_store.connect() as conn:
        tree = pd.read_sql(sa.select(schema.org_units), conn)
        placed = pd.read_sql(
            sa.select(schema.customers.c.region, schema.customers.c.transformer_area).distinct(),
            conn,
        ).dropna()
    areas = tree[tree["level"] == "transformer_area"]
    assert not areas["path"].duplicated().any()
    offices = tree.set_index("path")
    for region, area in placed.itertuples(index=False):
        office = demo_org.service_office_of(region, area)
        row = areas[areas["path"] == f"{region}/{office}/{area}"]
        assert len(row) == 1 and offices.loc[row["parent"].iloc[0], "parent"] == region
