"""The sign-in gate, the page guards, the account and Admin pages (AppTest)."""

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import access, i18n
from core.demo import accounts as demo_accounts
from core.store import engine as store_engine
from core.store import schema

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60


def app_test(page: str, url: str, monkeypatch) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    return AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT)


def en(key: str, **values) -> str:
    return i18n.translate(key, "en", **values)


def audit(url: str, **filters):
    engine = store_engine.connect(url)
    with engine.connect() as conn:
        entries = access.audit_entries(conn, access.SYSTEM, **filters)
    engine.dispose()
    return entries


def test_the_app_shows_only_the_sign_in_page_until_someone_signs_in(access_url, monkeypatch):
    at = app_test("app.py", access_url, monkeypatch).run()
    assert not at.exception
    assert at.title[0].value == en("access.login_title")
    assert "viewer" not in at.session_state
    # The demo store tells how to sign in: the shared password and one account per role.
    assert any(demo_accounts.DEMO_PASSWORD in info.value for info in at.info)
    listed = at.table[0].value.iloc[:, 0].tolist()
    assert listed == [name for name, _ in demo_accounts.DEMO_ACCOUNTS]


def test_a_wrong_password_keeps_the_gate_closed(access_url, monkeypatch):
    at = app_test("app.py", access_url, monkeypatch).run()
    at.text_input(key="login_user_name").input("analyst")
    at.text_input(key="login_password").input("wrong-password-1")
    at.button[0].click().run()
    assert not at.exception
    assert at.error[0].value == en(
        "access.login_failed", attempts=access.MAX_FAILED_LOGINS, minutes=access.LOCKOUT_MINUTES
    )
    assert "viewer" not in at.session_state


def test_signing_in_opens_the_app_as_that_account(access_url, monkeypatch):
    at = app_test("app.py", access_url, monkeypatch).run()
    at.text_input(key="login_user_name").input("customer_manager")
    at.text_input(key="login_password").input(demo_accounts.DEMO_PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    viewer = at.session_state["viewer"]
    assert viewer.role == "customer_manager" and viewer.manager_id
    assert viewer.contact_grant
    at.switch_page("pages/overview.py").run()
    assert not at.exception
    assert at.title[0].value != en("access.login_title")
    assert audit(access_url, user_name="customer_manager", action="login").shape[0] >= 1


def test_an_idle_session_ends_and_is_audited(access_url, monkeypatch, signed_in):
    at = app_test("app.py", access_url, monkeypatch)
    signed_in(at, "analyst")
    idle = dt.timedelta(minutes=access.SESSION_IDLE_MINUTES + 1)
    at.session_state["last_seen"] = access.now() - idle
    at.run()
    assert not at.exception
    assert "viewer" not in at.session_state
    assert at.warning[0].value == en("access.session_expired", minutes=access.SESSION_IDLE_MINUTES)
    assert at.title[0].value == en("access.login_title")
    assert audit(access_url, user_name="test_analyst", action="session_expired").shape[0] == 1


@pytest.mark.parametrize("role", ["manager", "analyst", "customer_manager"])
def test_a_forbidden_page_refuses(access_url, monkeypatch, signed_in, role):
    at = app_test("pages/admin.py", access_url, monkeypatch)
    signed_in(at, role, manager_id="CM101" if role == "customer_manager" else None)
    at.run()
    assert not at.exception
    assert at.error[0].value == en("access.page_refused", role=en(f"access.role_{role}"))
    assert not at.dataframe
    assert not at.title


def test_admin_page_lists_accounts_audit_and_organisation(access_url, monkeypatch, signed_in):
    at = app_test("pages/admin.py", access_url, monkeypatch)
    signed_in(at, "administrator")
    at.run()
    assert not at.exception
    accounts, entries, tree, contacts, roles = (frame.value for frame in at.dataframe)
    assert {name for name, _ in demo_accounts.DEMO_ACCOUNTS} <= set(
        accounts[en("admin.column.user_name")]
    )
    assert len(accounts.columns) == len(schema.users.columns) - 1, "no password hash shown"
    assert list(entries.columns) == [
        en(f"admin.column.{name}")
        for name in ("id", "at", "user_name", "action", "target", "detail")
    ]
    assert en("access.action_user_created") in set(entries[en("admin.column.action")])
    assert len(entries) >= len(demo_accounts.DEMO_ACCOUNTS)
    assert tree.iloc[0, 2] == "" and len(tree) > 7
    assert len(roles) == len(access.PAGE_ROLES)
    # What each role really gets: the customer manager sees their customers' contacts although
    # the demo account's grant is not stored, the analyst never does.
    names, grants = (
        accounts[en("admin.column.user_name")],
        accounts[en("admin.column.contact_grant")],
    )
    granted = dict(zip(names, grants, strict=True))
    assert granted["customer_manager"] and granted["admin"]
    assert not granted["analyst"] and not granted["manager"]
    rules = dict(zip(contacts.iloc[:, 0], contacts.iloc[:, 1], strict=True))
    assert rules[en("access.role_customer_manager")] == en("admin.contact_always")
    assert rules[en("access.role_analyst")] == en("admin.contact_never")
    assert rules[en("access.role_manager")] == en("admin.contact_granted")


def test_admin_creates_an_account(access_url, monkeypatch):
    at = app_test("pages/admin.py", access_url, monkeypatch).run()
    at.text_input(key="new_user_name").input("zhao.analyst")
    at.selectbox(key="new_role").select("analyst")
    at.text_input(key="new_password").input("analyst2024")
    next(button for button in at.button if button.label == en("admin.create")).click().run()
    assert not at.exception
    engine = store_engine.connect(access_url)
    assert access.authenticate(engine, "zhao.analyst", "analyst2024").role == "analyst"
    engine.dispose()
    created = audit(access_url, action="user_created", user_name="demo")
    assert created.iloc[0]["target"] == "zhao.analyst"


def test_admin_shows_a_bad_password_in_words(access_url, monkeypatch):
    at = app_test("pages/admin.py", access_url, monkeypatch).run()
    at.text_input(key="new_user_name").input("qian.analyst")
    at.text_input(key="new_password").input("short")
    next(button for button in at.button if button.label == en("admin.create")).click().run()
    assert not at.exception
    assert at.error[0].value == en("access.password_too_short", length=access.MIN_PASSWORD_LENGTH)


def test_account_page_changes_the_password(access_url, monkeypatch):
    engine = store_engine.connect(access_url)
    with engine.begin() as conn:
        access.create_user(conn, access.SYSTEM, "sun.manager", "manager2024", "manager")
        viewer = access.viewer_for(conn, "sun.manager")
    at = app_test("pages/account.py", access_url, monkeypatch)
    at.session_state["viewer"] = viewer
    at.session_state["last_seen"] = access.now()
    at.run()
    current, new, repeated = at.text_input
    current.input("manager2024")
    new.input("manager2025")
    repeated.input("manager2025")
    at.button[0].click().run()
    assert not at.exception
    assert at.success[0].value == en("access.password_changed")
    assert access.authenticate(engine, "sun.manager", "manager2025").user_name == "sun.manager"
    engine.dispose()


def test_an_empty_store_says_how_to_create_the_first_administrator(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    engine = store_engine.connect(url)
    store_engine.migrate(engine)
    engine.dispose()
    at = app_test("app.py", url, monkeypatch).run()
    assert not at.exception
    assert "--create-admin" in at.info[0].value
    assert not at.text_input


def listed_pages_script():
    import streamlit as st

    from core import config
    from ui import session

    paths = ["pages/overview.py", "pages/account.py", "pages/admin.py", "pages/login.py"]
    pages = [st.Page(config.PROJECT_ROOT / path) for path in paths]
    st.write(",".join(session.page_path(page) for page in session.allowed_pages(pages)))


@pytest.mark.parametrize(
    ("role", "listed"),
    [
        ("administrator", "pages/overview.py,pages/account.py,pages/admin.py,pages/login.py"),
        ("manager", "pages/overview.py,pages/account.py"),
        ("customer_manager", "pages/overview.py,pages/account.py"),
    ],
)
def test_the_navigation_lists_only_the_roles_pages(monkeypatch, signed_in, role, listed):
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    at = AppTest.from_function(listed_pages_script, default_timeout=TIMEOUT)
    signed_in(at, role)
    at.run()
    assert not at.exception
    assert at.markdown[0].value == listed


def test_the_audit_log_has_no_way_to_change_it():
    # The core offers appends and reads only; no function updates or deletes audit entries.
    names = [name for name in access.__all__ if "audit" in name.lower() or name == "record"]
    assert sorted(names) == ["AUDIT_ACTIONS", "AUDIT_ROWS_LIMIT", "audit_entries", "record"]
    for path in (ROOT / "core").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "audit_log.update" not in source and "audit_log.delete" not in source, path


def sign_in_as(at: AppTest, url: str, user_name: str) -> access.Viewer:
    """Puts the stored account ``user_name`` into an AppTest session, as signing in does."""
    engine = store_engine.connect(url)
    with engine.connect() as conn:
        viewer = access.viewer_for(conn, user_name)
    engine.dispose()
    at.session_state["viewer"] = viewer
    at.session_state["last_seen"] = access.now()
    return viewer


def test_the_sidebar_says_who_is_signed_in_and_their_scope(access_url, monkeypatch):
    at = app_test("app.py", access_url, monkeypatch)
    viewer = sign_in_as(at, access_url, "customer_manager")
    at.run()
    assert not at.exception
    assert at.sidebar.markdown[0].value == en(
        "access.signed_in_as", user_name="customer_manager", role="Customer manager"
    )
    assert at.sidebar.caption[-1].value == en("access.scope_district", scope=viewer.manager_id)
    assert at.sidebar.button[0].label == en("access.sign_out")


def gate_script():
    import streamlit as st

    from ui import session

    signed = session.gate()
    st.write(repr(signed))


def test_disabling_an_account_ends_its_session_at_the_next_click(access_url, monkeypatch):
    engine = store_engine.connect(access_url)
    with engine.begin() as conn:
        access.create_user(conn, access.SYSTEM, "zhou.manager", "manager2024", "manager")
    monkeypatch.setenv("DATABASE_URL", access_url)
    at = AppTest.from_function(gate_script, default_timeout=TIMEOUT)
    signed = sign_in_as(at, access_url, "zhou.manager")
    at.run()
    assert not at.exception
    assert at.markdown[0].value == repr(signed)

    # A district scope given meanwhile applies at the next rerun, without signing in again.
    with engine.begin() as conn:
        district = next(unit for unit in access.org_units(conn) if unit.level == "district")
        access.update_user(conn, access.SYSTEM, "zhou.manager", org_unit=district.path)
    at.run()
    assert at.session_state["viewer"].regions == (district.path,)

    with engine.begin() as conn:
        access.update_user(conn, access.SYSTEM, "zhou.manager", active=False)
    engine.dispose()
    at.run()
    assert not at.exception
    assert "viewer" not in at.session_state
    assert at.markdown[0].value == "None"
    assert audit(access_url, user_name="zhou.manager", action="session_ended").shape[0] == 1
    # The sign-in page says why.
    login = app_test("app.py", access_url, monkeypatch)
    login.session_state[session_ended_key()] = True
    login.run()
    assert login.warning[0].value == en("access.session_ended")


def session_ended_key() -> str:
    from ui import session

    return session.ENDED_KEY


def test_a_session_of_an_account_that_is_not_stored_does_not_run(
    access_url, monkeypatch, signed_in
):
    at = app_test("app.py", access_url, monkeypatch)
    signed_in(at, "administrator", granted=True)
    at.run()
    assert not at.exception
    assert "viewer" not in at.session_state
    assert at.title[0].value == en("access.login_title")


def audited_export_script():
    import streamlit as st

    from ui import session

    produce = session.audited_export("targets.csv", 7, lambda: b"customer_id\n1\n")
    st.write(produce().decode())


def test_an_export_is_audited_when_taken(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'export.sqlite'}"
    store_engine.migrate(store_engine.connect(url))
    monkeypatch.setenv("DATABASE_URL", url)
    at = AppTest.from_function(audited_export_script, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.markdown[0].value.startswith("customer_id")
    entry = audit(url, action="export").iloc[0]
    assert (entry["user_name"], entry["target"], entry["detail"]) == (
        "demo",
        "targets.csv",
        '{"rows": 7}',
    )


def test_rejected_rows_show_masked_to_a_manager(access_url, monkeypatch, signed_in):
    engine = store_engine.connect(access_url)
    with engine.begin() as conn:
        conn.execute(
            schema.rejected_rows.insert().values(
                import_id=999,
                table_name="customers",
                file_name="archive.csv",
                row_number=7,
                column_name="phone",
                value="13800001111",
                reason="test",
                rejected_at=access.now(),
            )
        )
    engine.dispose()
    for role, shown in [("manager", "138****1111"), ("administrator", "13800001111")]:
        at = app_test("pages/data_quality.py", access_url, monkeypatch)
        signed_in(at, role, granted=role == "administrator")
        at.run()
        assert not at.exception
        values = {str(value) for frame in at.dataframe for value in frame.value.to_numpy().ravel()}
        assert shown in values
        assert ("13800001111" in values) == (role == "administrator")


@pytest.mark.parametrize(
    "page", sorted(path.name for path in (ROOT / "pages").glob("*.py") if path.name != "login.py")
)
def test_every_page_has_roles_and_guards_itself(page):
    path = f"pages/{page}"
    assert path in access.PAGE_ROLES, f"give {path} its roles in core.access.PAGE_ROLES"
    source = (ROOT / path).read_text(encoding="utf-8")
    assert "session.require_page(" in source and f'"{path}"' in source


def test_a_reloaded_browser_resumes_its_session_by_its_token(access_url, monkeypatch):
    from ui import session

    engine = store_engine.connect(access_url)
    with engine.begin() as conn:
        access.create_user(conn, access.SYSTEM, "wu.analyst", "analyst2024", "analyst")
        token = access.start_session(conn, access.viewer_for(conn, "wu.analyst"))
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", access_url)
    # A reload is a new Streamlit session: nothing in its state, the token in the browser.
    monkeypatch.setattr(session, "browser_token", lambda: token)
    at = AppTest.from_function(gate_script, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.session_state["viewer"].user_name == "wu.analyst"
    assert audit(access_url, user_name="wu.analyst", action="session_resumed").shape[0] == 1

    # Signing out ends the stored session: the same token resumes nothing in the next reload.
    def sign_out_script():
        import streamlit as st

        from ui import session

        session.gate()
        session.sign_out()
        st.write("signed out")

    AppTest.from_function(sign_out_script, default_timeout=TIMEOUT).run()
    again = AppTest.from_function(gate_script, default_timeout=TIMEOUT).run()
    assert "viewer" not in again.session_state
    assert again.markdown[0].value == "None"


def test_a_real_store_shows_no_demo_hint(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'real.sqlite'}"
    engine = store_engine.connect(url)
    store_engine.migrate(engine)
    with engine.begin() as conn:
        access.create_administrator(conn, "root", "secret123")
        # Accounts named like the demo's do not make a store a demo store.
        access.create_user(conn, access.SYSTEM, "analyst", "secret123", "analyst")
    engine.dispose()
    at = app_test("app.py", url, monkeypatch).run()
    assert not at.exception
    assert at.title[0].value == en("access.login_title")
    assert not at.info and not at.table
    shown = " ".join(element.value for element in at.markdown)
    assert demo_accounts.DEMO_PASSWORD not in shown
