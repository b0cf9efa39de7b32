"""The demo utility's past campaigns: randomized holdouts, planted effects, an energy effect.

Three campaigns with a 70/30 randomized holdout and a conversion effect that differs by segment
(the planted truth of ``demo_truth_campaign_effects``). Contacted members respond and convert
after their contact; the holdout is never contacted and converts at the base rate. Each campaign
has its plan (shares, seed) and arms in ``campaign_plans`` and ``campaign_arms``.

The time-of-use campaign also changes use: a member who converted (in either arm) moves a share
of each day's peak-period energy (under the offered schedule) into that day's valley hours from
the day after converting, more for the peak-shiftable households (EV owners, electric heating).
The day's total is kept to the watt-hour, so bills stay as they were. What was moved is written
to ``demo_truth_energy_shifts``.
"""

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import tariffs
from core.demo import truth
from core.store import engine as store_engine
from core.store import frames, schema

HOLDOUT_SHARE = 0.3
# The share of a day's peak energy a converted customer moves into the valley.
PEAK_SHIFT_SHARE = {"peak_shiftable": 0.35, "other": 0.15}
# Contacts go out over the campaign's first week, between 09:00 and 18:00.
CONTACT_DAYS = 7
CONTACT_HOURS = 9
_CAMPAIGN_COLUMNS = [column.name for column in schema.campaigns.columns]


def _specs(archive: pd.DataFrame, first_year: int, last_year: int) -> list[dict]:
    residential = archive["customer_class"] == "residential"
    return [
        {
            "campaign_id": f"CMP{first_year}01",
            "name": "峰谷分时电价推广 / Time-of-use plan promotion",
            "goal": "upsell",
            "offer": "RES_TOU",
            "channel": "sms",
            "start_date": dt.date(first_year, 6, 1),
            "end_date": dt.date(first_year, 7, 31),
            "cost_per_contact_cny": 0.5,
            "eligible": residential & (archive["tariff_code"] == "RES_TIERED"),
            "segment": np.where(archive["peak_shiftable"], "peak_shiftable", "other"),
            "effects": {"peak_shiftable": (0.03, 0.15), "other": (0.02, 0.005)},
            "value": 180.0,
        },
        {
            "campaign_id": f"CMP{first_year}02",
            "name": "网上国网App注册推广 / App sign-up drive",
            "goal": "activate",
            "offer": "app_registration",
            "channel": "wechat",
            "start_date": dt.date(first_year, 9, 1),
            "end_date": dt.date(first_year, 10, 31),
            "cost_per_contact_cny": 0.3,
            "eligible": ~archive["digital"],
            "segment": np.where(residential, "residential", "business"),
            "effects": {"residential": (0.04, 0.06), "business": (0.05, 0.2)},
            "value": 20.0,
        },
        {
            "campaign_id": f"CMP{last_year}03",
            "name": "电费代扣签约 / Direct-debit sign-up for bill payment",
            "goal": "retain",
            "offer": "direct_debit",
            "channel": "phone",
            "start_date": dt.date(last_year, 3, 1),
            "end_date": dt.date(last_year, 4, 30),
            "cost_per_contact_cny": 2.0,
            "eligible": pd.Series(True, index=archive.index),
            "segment": np.where(archive["late_payer"], "late_payer", "punctual"),
            "effects": {"late_payer": (0.03, 0.18), "punctual": (0.05, 0.01)},
            "value": 60.0,
        },
    ]


def _members(spec: dict, archive: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One campaign's members: the draw, the contacts and the outcomes, vectorised."""
    members = archive.index[spec["eligible"].to_numpy()]
    count = len(members)
    segment = np.asarray(spec["segment"])[archive.index.get_indexer(members)]
    base = np.array([spec["effects"][name][0] for name in segment])
    uplift = np.array([spec["effects"][name][1] for name in segment])
    treated = rng.random(count) >= HOLDOUT_SHARE
    contacted = treated & (rng.random(count) < 0.9)
    converted = rng.random(count) < np.where(contacted, base + uplift, base)
    responded = contacted & (converted | (rng.random(count) < 0.1))
    start = pd.Timestamp(spec["start_date"]) + pd.Timedelta(hours=9)
    end = pd.Timestamp(spec["end_date"]) + pd.Timedelta(hours=18)
    contact = start + pd.to_timedelta(
        rng.integers(0, CONTACT_DAYS, count) * 24 + rng.integers(0, CONTACT_HOURS, count), unit="h"
    )
    response = contact + pd.to_timedelta(rng.integers(1, 49, count), unit="h")
    # A contacted member converts after the contact, anyone else at some time in the campaign.
    since = np.where(contacted, contact.to_numpy(), np.datetime64(start))
    span = (end.to_datetime64() - since) / np.timedelta64(1, "h")
    conversion = since + (rng.random(count) * span).astype("timedelta64[h]")
    conversion = np.maximum(conversion, np.where(responded, response.to_numpy(), since))
    value = np.round(spec["value"] * rng.uniform(0.6, 1.4, count), 2)
    return pd.DataFrame(
        {
            "campaign_id": spec["campaign_id"],
            "customer_id": archive.loc[members, "customer_id"].to_numpy(),
            "arm": np.where(treated, "treatment", "control"),
            "channel": np.where(treated, spec["channel"], None),
            "contacted_at": pd.Series(contact).where(contacted).to_numpy(),
            "responded_at": pd.Series(response).where(responded).to_numpy(),
            "converted_at": pd.Series(conversion).where(converted).to_numpy(),
            "value_cny": np.where(converted, value, np.nan),
            "segment": segment,
        }
    )


def write(
    conn: sa.Connection,
    archive: pd.DataFrame,
    days: list[dt.date],
    rng: np.random.Generator,
    catalog: dict,
    seed: int,
) -> None:
    """Writes the campaigns, their plans, arms and members, and plants the energy effect.

    Args:
        conn: a connection inside the generator's transaction, readings already written.
        archive: the generator's customer archive (with its planted attributes).
        days: the demo's days.
        rng: the random stream of the campaigns.
        catalog: the tariff catalog.
        seed: the demo's seed, recorded as each plan's seed.
    """
    specs = _specs(archive, days[0].year, days[-1].year)
    campaign_rows, plan_rows, arm_rows, effect_rows, member_frames = [], [], [], [], []
    for spec in specs:
        campaign_rows.append({key: spec[key] for key in _CAMPAIGN_COLUMNS})
        plan_rows.append(
            {
                "campaign_id": spec["campaign_id"],
                "holdout_share": HOLDOUT_SHARE,
                "seed": seed,
                "strata": None,
                "source_kind": "customer_ids",
                "source_ref": None,
                "follow_up_days": None,
                "created_by": "demo",
                "created_at": dt.datetime.combine(spec["start_date"], dt.time(8))
                - dt.timedelta(days=14),
            }
        )
        arm_rows.append(
            {
                "campaign_id": spec["campaign_id"],
                "arm": "treatment",
                "offer": spec["offer"],
                "channel": spec["channel"],
                "cost_per_contact_cny": spec["cost_per_contact_cny"],
                "planned_share": 1.0 - HOLDOUT_SHARE,
            }
        )
        arm_rows.append(
            {
                "campaign_id": spec["campaign_id"],
                "arm": "control",
                "offer": None,
                "channel": None,
                "cost_per_contact_cny": 0.0,
                "planned_share": HOLDOUT_SHARE,
            }
        )
        for segment, (base, uplift) in spec["effects"].items():
            effect_rows.append((spec["campaign_id"], segment, base, uplift))
        member_frames.append(_members(spec, archive, rng))
    members = pd.concat(member_frames, ignore_index=True)
    store_engine.bulk_insert(conn, schema.campaigns, pd.DataFrame(campaign_rows))
    store_engine.bulk_insert(conn, schema.campaign_plans, pd.DataFrame(plan_rows))
    store_engine.bulk_insert(conn, schema.campaign_arms, pd.DataFrame(arm_rows))
    store_engine.bulk_insert(conn, schema.campaign_members, members.drop(columns="segment"))
    store_engine.bulk_insert(
        conn,
        truth.campaign_effects,
        pd.DataFrame(effect_rows, columns=["campaign_id", "segment", "base_rate", "uplift"]),
    )
    first = specs[0]
    shifts = _shifts(members[members["campaign_id"] == first["campaign_id"]])
    _shift_peak_energy(conn, shifts, catalog[first["offer"]], days[-1])
    store_engine.bulk_insert(conn, truth.energy_shifts, shifts)


def _shifts(members: pd.DataFrame) -> pd.DataFrame:
    """The converted members of the time-of-use campaign and the share of peak energy they move."""
    converted = members[members["converted_at"].notna()]
    shift = converted["segment"].map(PEAK_SHIFT_SHARE).fillna(PEAK_SHIFT_SHARE["other"])
    first_day = pd.to_datetime(converted["converted_at"]).dt.floor("D") + pd.Timedelta(days=1)
    return pd.DataFrame(
        {
            "campaign_id": converted["campaign_id"].to_numpy(),
            "customer_id": converted["customer_id"].to_numpy(),
            "from_day": first_day.dt.date.to_numpy(),
            "peak_shift_share": shift.to_numpy(dtype=float),
        }
    )


def _shift_peak_energy(
    conn: sa.Connection, shifts: pd.DataFrame, tariff: tariffs.Tariff, last_day: dt.date
) -> None:
    """Moves each shifter's peak energy into the valley of the same day, from its first day on."""
    shifts = shifts[pd.to_datetime(shifts["from_day"]) <= pd.Timestamp(last_day)]
    if shifts.empty:
        return
    readings = schema.readings
    # One plain range over the shifters' readings (which the store prunes well); the rows before
    # a shifter's own first day go back unchanged.
    chosen = sa.and_(
        readings.c.customer_id.in_(sorted(shifts["customer_id"])),
        readings.c.ts >= dt.datetime.combine(min(shifts["from_day"]), dt.time()),
    )
    frame = frames.read_frame(
        conn,
        sa.select(readings.c.customer_id, readings.c.ts, readings.c.kwh, readings.c.kvarh)
        .where(chosen)
        .order_by(readings.c.customer_id, readings.c.ts),
    )
    conn.execute(readings.delete().where(chosen))
    frame["ts"] = pd.to_datetime(frame["ts"])
    frame["customer_id"] = frame["customer_id"].astype(str)
    by_customer = shifts.set_index("customer_id")
    first_day = pd.to_datetime(frame["customer_id"].map(by_customer["from_day"]))
    share = frame["customer_id"].map(by_customer["peak_shift_share"]).to_numpy(dtype=float)
    share = np.where(frame["ts"] >= first_day, share, 0.0)
    frame["kwh"] = _moved(frame, share, tariff)
    frame["kvarh"] = pd.to_numeric(frame["kvarh"]).astype(float)
    store_engine.bulk_insert(conn, readings, frame)


def _moved(frame: pd.DataFrame, share: np.ndarray, tariff: tariffs.Tariff) -> np.ndarray:
    """The readings' energy after moving ``share`` of each day's peak energy into its valley.

    Works in whole watt-hours so that every day's total stays exactly as it was.
    """
    ts = pd.to_datetime(frame["ts"])
    labels = tariffs.period_labels(tariff, pd.DatetimeIndex(ts))
    wh = np.round(frame["kwh"].to_numpy(dtype=float) * 1000).astype(np.int64)
    peak = labels == "peak"
    valley = labels == "valley"
    taken = np.where(peak, np.floor(wh * share).astype(np.int64), 0)
    day_key = pd.MultiIndex.from_arrays([frame["customer_id"].to_numpy(), ts.dt.floor("D")])
    day = pd.factorize(day_key)[0]
    taken_by_day = np.bincount(day, weights=taken).astype(np.int64)
    valley_hours = np.bincount(day, weights=valley).astype(np.int64)
    # A day without valley readings keeps its peak energy.
    keeps = valley_hours[day] == 0
    taken = np.where(keeps, 0, taken)
    taken_by_day = np.where(valley_hours == 0, 0, taken_by_day)
    # Each valley reading gets an equal part; the first ones of the day take the remainder.
    rank = pd.Series(valley.astype(np.int64)).groupby(day).cumsum().to_numpy() - 1
    per_hour = np.where(valley_hours > 0, taken_by_day // np.maximum(valley_hours, 1), 0)
    remainder = np.where(valley_hours > 0, taken_by_day % np.maximum(valley_hours, 1), 0)
    added = np.where(valley, per_hour[day] + (rank < remainder[day]), 0)
    return (wh - taken + added) / 1000.0
