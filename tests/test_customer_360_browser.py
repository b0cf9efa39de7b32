"""Customer 360 in the running app: open a customer by an external id, download the visit brief."""

import pytest
import sqlalchemy as sa
from conftest import wait_until_idle

from core import i18n
from core.store import engine as store_engine
from core.store import schema

pytestmark = pytest.mark.browser


def en(key: str, **values) -> str:
    return i18n.translate(key, "en", **values)


@pytest.fixture(scope="module")
def contract_of_a_customer(demo_url) -> tuple[str, str]:
    engine = store_engine.connect(demo_url)
    with engine.connect() as conn:
        contract, customer_id = conn.execute(
            sa.select(schema.id_map.c.external_id, schema.id_map.c.customer_id)
            .where(schema.id_map.c.system == "customer_no", schema.id_map.c.active)
            .order_by(schema.id_map.c.external_id)
            .limit(1)
        ).one()
    engine.dispose()
    return contract, customer_id


def test_open_a_customer_and_download_the_visit_brief(
    running_app, page, contract_of_a_customer, tmp_path
):
    external_id, customer_id = contract_of_a_customer
    running_app.sign_in(page, "manager")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("link", name=en("nav.customer_360")).click()
    search = page.get_by_label(en("customer360.search"), exact=True)
    search.wait_for()
    wait_until_idle(page)
    search.fill(external_id)
    search.press("Enter")
    page.get_by_text(customer_id).first.wait_for()
    page.get_by_text(en("customer360.load"), exact=True).wait_for()
    page.get_by_text(en("customer360.actions"), exact=True).wait_for()
    wait_until_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0

    button = page.get_by_role("button", name=en("customer360.brief_download"))
    with page.expect_download() as download_info:
        button.click()
    download = download_info.value
    assert download.suggested_filename == f"visit_brief_{customer_id}.pdf"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    assert target.read_bytes().startswith(b"%PDF")
    assert page.locator('[data-testid="stException"]').count() == 0
