"""A customer manager in the running app: their pages, their customers, nobody else's."""

import pytest
import sqlalchemy as sa
from conftest import demo_store_with_accounts, new_page, serve_app, wait_until_idle

from core import access, i18n
from core.demo import accounts as demo_accounts
from core.store import engine as store_engine
from core.store import schema

pytestmark = pytest.mark.browser


def en(key: str, **values) -> str:
    return i18n.translate(key, "en", **values)


@pytest.fixture(scope="module")
def customers_of_the_demo_manager(demo_url):
    """One customer of the demo customer manager and one of another manager."""
    engine = store_engine.connect(demo_url)
    customers = schema.customers
    with engine.connect() as conn:
        _, manager_id = demo_accounts.demo_scopes(conn)
        own = conn.execute(
            sa.select(customers.c.customer_id)
            .where(customers.c.manager_id == manager_id)
            .order_by(customers.c.customer_id)
        ).scalar()
        other = conn.execute(
            sa.select(customers.c.customer_id)
            .where(customers.c.manager_id != manager_id)
            .order_by(customers.c.customer_id)
        ).scalar()
    engine.dispose()
    return own, other


def test_the_login_page_explains_the_demo_accounts(running_app, page):
    page.goto(running_app.url)
    page.get_by_text(en("access.login_title")).wait_for()
    page.get_by_text(demo_accounts.DEMO_PASSWORD).first.wait_for()
    table = page.locator('[data-testid="stTable"]')
    for user_name, _ in demo_accounts.DEMO_ACCOUNTS:
        table.get_by_text(user_name, exact=True).wait_for()
    # Nothing but the sign-in page is listed before signing in.
    assert page.get_by_role("link", name=en("nav.overview")).count() == 0


def test_a_wrong_password_is_refused(running_app, page):
    page.goto(running_app.url)
    wait_until_idle(page)
    page.get_by_label(en("access.user_name")).fill("customer_manager")
    page.get_by_label(en("access.password"), exact=True).fill("not-the-password-1")
    page.get_by_role("button", name=en("access.sign_in"), exact=True).click()
    page.get_by_text(
        en(
            "access.login_failed",
            attempts=access.MAX_FAILED_LOGINS,
            minutes=access.LOCKOUT_MINUTES,
        )
    ).wait_for()


def test_a_customer_manager_sees_their_pages_and_only_their_customers(
    running_app, page, browser, customers_of_the_demo_manager
):
    own, other = customers_of_the_demo_manager
    running_app.sign_in(page, "customer_manager")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("link", name=en("nav.overview")).wait_for()
    for listed in ("customer_360", "tariffs", "account"):
        assert sidebar.get_by_role("link", name=en(f"nav.{listed}")).count() == 1
    for unlisted in ("admin", "data_quality"):
        assert sidebar.get_by_role("link", name=en(f"nav.{unlisted}")).count() == 0

    sidebar.get_by_role("link", name=en("nav.customer_360")).click()
    search = page.get_by_role("textbox", name=en("customer360.search"))
    search.wait_for()
    wait_until_idle(page)
    search.fill(other)
    search.press("Enter")
    page.get_by_text(en("customer360.no_match", text=other)).wait_for()
    wait_until_idle(page)
    search.fill(own)
    search.press("Enter")
    page.get_by_role("heading", name=own).first.wait_for()
    assert page.get_by_text(en("customer360.no_match", text=own)).count() == 0

    # The administrator reads both attempts in the audit log.
    admin = new_page(browser)
    running_app.sign_in(admin, "admin")
    admin.locator('[data-testid="stSidebar"]').get_by_role("link", name=en("nav.admin")).click()
    admin.get_by_role("tab", name=en("admin.tab_audit")).click()
    wait_until_idle(admin)
    person = admin.get_by_label(en("admin.filter_user"))
    person.click()
    admin.get_by_role("option", name="customer_manager", exact=True).click()
    grid = admin.locator('[data-testid="stDataFrame"]').nth(1)
    grid.wait_for()
    admin.get_by_text(en("admin.entries", count=3)).wait_for()
    wait_until_idle(admin)

    # Downloading the log is itself an export the log records.
    with admin.expect_download() as download:
        admin.get_by_role(
            "button", name=en("app.download_csv", label=en("admin.download_audit"))
        ).click()
    assert download.value.suggested_filename == "audit_log.csv"
    wait_until_idle(admin)
    action = admin.get_by_label(en("admin.filter_action"))
    action.click()
    admin.get_by_role("option", name=en("access.action_export"), exact=True).click()
    wait_until_idle(admin)
    person.click()
    admin.get_by_role("option", name="admin", exact=True).click()
    admin.get_by_text(en("admin.entries", count=1)).wait_for()
    admin.context.close()


def test_a_url_to_a_forbidden_page_does_not_open_it(running_app, page):
    page.goto(f"{running_app.url}/admin")
    # Either the page guard asks to sign in (a fresh server can serve pages/admin.py by its URL
    # without running app.py) or the gate shows the sign-in page; the Admin page never shows.
    refusal = page.get_by_text("Please sign in first").or_(
        page.get_by_role("heading", name=en("access.login_title"))
    )
    refusal.first.wait_for()
    assert page.get_by_text(en("admin.subtitle")).count() == 0
    assert page.get_by_role("tab", name=en("admin.tab_audit")).count() == 0

    running_app.sign_in(page, "analyst")
    page.get_by_role("heading", name=en("overview.title")).wait_for()
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert sidebar.get_by_role("link", name=en("nav.admin")).count() == 0
    assert page.get_by_text(en("admin.subtitle")).count() == 0


def test_a_fresh_server_does_not_serve_a_page_file_without_sign_in(demo_url, tmp_path, browser):
    # The first request a new server receives may run pages/admin.py by its URL without app.py:
    # the page guard must refuse it on its own.
    url = demo_store_with_accounts(demo_url, tmp_path)
    with serve_app(url, tmp_path / "streamlit.log") as address:
        fresh = new_page(browser)
        fresh.goto(f"{address}/admin")
        fresh.get_by_text("Please sign in first").wait_for()
        assert fresh.get_by_text(en("admin.subtitle")).count() == 0
        assert fresh.locator('[data-testid="stDataFrame"]').count() == 0
        # Nor does its sidebar name the pages behind the sign-in.
        wait_until_idle(fresh)
        assert fresh.locator('[data-testid="stSidebarNav"]').count() == 0
        for name in ("overview", "admin", "data_quality", "customer_360"):
            assert fresh.get_by_role("link", name=en(f"nav.{name}")).count() == 0
            assert fresh.get_by_text(name.replace("_", " "), exact=False).count() == 0
        fresh.context.close()


def sign_in_here(page, user_name: str) -> None:
    """Signs in through the form the page shows, wherever the browser is."""
    wait_until_idle(page)
    page.get_by_label(en("access.user_name")).fill(user_name)
    page.get_by_label(en("access.password"), exact=True).fill(demo_accounts.DEMO_PASSWORD)
    page.get_by_role("button", name=en("access.sign_in"), exact=True).click()
    page.get_by_text(f"Signed in as {user_name}").wait_for()
    wait_until_idle(page)


def test_a_reload_keeps_the_session_and_signing_out_ends_it(running_app, page):
    running_app.sign_in(page, "analyst")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("link", name=en("nav.forecast")).click()
    page.get_by_role("heading", name=en("forecast.title")).first.wait_for()
    wait_until_idle(page)
    page.reload()
    # Still signed in, on the page reloaded.
    page.get_by_text("Signed in as analyst").wait_for()
    page.get_by_role("heading", name=en("forecast.title")).first.wait_for()
    assert page.get_by_role("heading", name=en("access.login_title")).count() == 0

    wait_until_idle(page)
    page.locator('[data-testid="stSidebar"]').get_by_role(
        "button", name=en("access.sign_out")
    ).click()
    page.get_by_role("heading", name=en("access.login_title")).wait_for()
    wait_until_idle(page)
    page.reload()
    page.get_by_role("heading", name=en("access.login_title")).wait_for()
    wait_until_idle(page)
    assert page.get_by_text("Signed in as analyst").count() == 0


def test_a_link_to_a_customer_opens_it_after_sign_in(
    running_app, page, customers_of_the_demo_manager
):
    own, _ = customers_of_the_demo_manager
    page.goto(f"{running_app.url}/customer_360?customer={own}")
    page.get_by_role("heading", name=en("access.login_title")).wait_for()
    wait_until_idle(page)
    assert page.get_by_text("Page not found").count() == 0
    sign_in_here(page, "customer_manager")
    page.get_by_role("heading", name=own).first.wait_for()
    assert "/customer_360" in page.url and f"customer={own}" in page.url
    assert page.get_by_text("Page not found").count() == 0
