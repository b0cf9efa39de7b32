"""Contact lists, the hand-over of online non-responders, outcomes imported back."""

import datetime as dt
import shutil

import pandas as pd
import pytest
import sqlalchemy as sa

from core import access
from core.campaigns import handover
from core.campaigns import members as campaign_members
from core.store import engine as store_engine
from core.store import schema


@pytest.fixture
def writable(demo_url, tmp_path):
    target = tmp_path / "handover.duckdb"
    shutil.copyfile(sa.make_url(demo_url).database, target)
    engine = store_engine.connect(f"duckdb:///{target}")
    yield engine
    engine.dispose()


def _campaign(conn, channel: str) -> str:
    campaigns = schema.campaigns
    return conn.execute(
        sa.select(campaigns.c.campaign_id).where(campaigns.c.channel == channel)
    ).scalar_one()


def test_a_contact_list_holds_the_treated_members_of_a_channel_masked(demo_store):
    analyst = access.Viewer("a", "analyst")
    with demo_store.connect() as conn:
        campaign_id = _campaign(conn, "sms")
        listed = handover.contact_list(conn, analyst, campaign_id, "sms")
        stored = campaign_members.stored_members(conn, access.SYSTEM, campaign_id)
        assert handover.channels(conn, analyst, campaign_id) == ["sms"]
    treated = stored[stored["arm"] != "control"]
    assert sorted(listed["customer_id"]) == sorted(treated["customer_id"])
    assert listed["phone"].str.contains(r"\*\*\*\*").all()


def test_online_non_responders_go_to_their_own_customer_manager(demo_store):
    with demo_store.connect() as conn:
        campaign_id = _campaign(conn, "sms")
        everyone = handover.follow_ups(conn, access.SYSTEM, campaign_id)
        stored = campaign_members.stored_members(conn, access.SYSTEM, campaign_id)
        manager = everyone["manager_id"].mode()[0]
        own = access.Viewer("cm", "customer_manager", manager_id=manager, contact_grant=True)
        mine = handover.follow_ups(conn, own, campaign_id)
        phone_campaign = _campaign(conn, "phone")
        offline = handover.follow_ups(conn, access.SYSTEM, phone_campaign)
        early = handover.follow_ups(conn, access.SYSTEM, campaign_id, as_of=dt.datetime(2000, 1, 1))
    waiting = stored[stored["contacted_at"].notna() & stored["responded_at"].isna()]
    assert sorted(everyone["customer_id"]) == sorted(waiting["customer_id"])
    assert len(mine) > 0 and (mine["manager_id"] == manager).all()
    assert set(mine["customer_id"]) <= set(everyone["customer_id"])
    assert set(mine["follow_up_channel"]) <= {"phone", "visit"}
    # A phone campaign is offline already; nothing is due before its contacts.
    assert offline.empty and early.empty


def test_outcomes_come_back_by_the_import_with_rejected_rows(writable, tmp_path):
    with writable.connect() as conn:
        campaign_id = _campaign(conn, "sms")
        stored = campaign_members.stored_members(conn, access.SYSTEM, campaign_id)
    waiting = stored[stored["contacted_at"].notna() & stored["responded_at"].isna()].head(2)
    first, second = waiting.iloc[0], waiting.iloc[1]
    contacted = pd.Timestamp(first["contacted_at"])
    path = tmp_path / "outcomes.csv"
    pd.DataFrame(
        {
            "活动编号": [campaign_id, campaign_id],
            "customer_id": [first["customer_id"], second["customer_id"]],
            "arm": ["treatment", "treatment"],
            "触达时间": [
                f"{pd.Timestamp(row['contacted_at']):%Y-%m-%d %H:%M}" for row in (first, second)
            ],
            "响应时间": [
                f"{contacted + pd.Timedelta(days=1):%Y-%m-%d %H:%M}",
                f"{pd.Timestamp(second['contacted_at']) - pd.Timedelta(days=1):%Y-%m-%d %H:%M}",
            ],
        }
    ).to_csv(path, index=False)
    result = handover.import_outcomes(writable, access.SYSTEM, path)
    assert result.rows_landed == 1 and result.rows_rejected == 1
    with writable.connect() as conn:
        after = campaign_members.stored_members(conn, access.SYSTEM, campaign_id).set_index(
            "customer_id"
        )
        rejected = (
            conn.execute(
                sa.select(schema.rejected_rows.c.reason_code).where(
                    schema.rejected_rows.c.import_id == result.import_id
                )
            )
            .scalars()
            .all()
        )
    assert pd.notna(after.loc[first["customer_id"], "responded_at"])
    # The columns the file does not have stay as they were.
    assert after.loc[first["customer_id"], "contacted_at"] == first["contacted_at"]
    assert pd.isna(after.loc[second["customer_id"], "responded_at"])
    assert rejected == ["before"]
