"""The demo utility: a deterministic synthetic supply company for Huangshi, Hubei.

Everything the pages show on a fresh install comes from here. Load archetypes, weather, the Chinese
holiday calendar with its make-up workdays (调休), outages, 95598 work orders, online-channel use,
bills priced by :mod:`core.tariffs`, payments, three past campaigns with randomized control groups
and a few abnormal meters. What was planted is written to the ``demo_truth_*`` tables, which only
tests read.

The same seed, size and years give the same data.
"""

import datetime as dt
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from core import calendars, tariffs
from core.demo import applications, geography, truth
from core.demo import campaigns as demo_campaigns
from core.demo import org as demo_org
from core.demo.abnormal import plant_area_readings
from core.store import engine as store_engine
from core.store import schema

DEFAULT_CUSTOMERS = 3000
DEFAULT_YEARS = 2
DEFAULT_SEED = 20240101
# The last full calendar year of the demo; fixed so that a seed always gives the same data.
DEFAULT_END_YEAR = 2025
# Customers generated and written together: bounds memory at about 40 MB per hourly matrix.
BATCH_CUSTOMERS = 400

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Archetype:
    """How one kind of customer uses electricity.

    Attributes:
        name: the archetype's code (also written to ``demo_truth_customers``).
        customer_class: residential, commercial, industrial or agricultural.
        weight: share of all customers.
        shape: relative load for each hour of the day (normalised to mean 1).
        offday_factor: load on weekends and holidays relative to workdays.
        cooling: relative load increase per degree above 26 °C.
        heating: relative load increase per degree below 12 °C.
        hourly_noise: standard deviation of the hourly lognormal noise.
        active_months: months with full load; other months run at ``inactive_factor``.
        inactive_factor: load outside the active months.
    """

    name: str
    customer_class: str
    weight: float
    shape: tuple[float, ...]
    offday_factor: float
    cooling: float
    heating: float
    hourly_noise: float
    active_months: tuple[int, ...] = tuple(range(1, 13))
    inactive_factor: float = 1.0


def _shape(values: list[float]) -> tuple[float, ...]:
    array = np.asarray(values, dtype=float)
    return tuple(array / array.mean())


_RESIDENTIAL = [0.45, 0.38, 0.35, 0.34, 0.35, 0.42, 0.7, 0.95, 0.8, 0.7, 0.7, 0.85]
_RESIDENTIAL += [0.95, 0.8, 0.7, 0.7, 0.8, 1.1, 1.7, 2.0, 2.0, 1.8, 1.3, 0.75]
_OFFICE = [0.25] * 7 + [0.5, 1.3, 1.8, 1.9, 1.9, 1.6, 1.8, 1.9, 1.9, 1.8, 1.5, 0.8]
_OFFICE += [0.45, 0.35, 0.3, 0.28, 0.26]
_RETAIL = [0.25] * 8 + [0.6, 1.3, 1.5, 1.6, 1.6, 1.6, 1.6, 1.6, 1.7, 1.8, 1.9, 1.9, 1.8]
_RETAIL += [1.4, 0.6, 0.3]
_RESTAURANT = [0.3] * 7 + [0.5, 0.6, 0.7, 1.2, 2.1, 2.2, 1.4, 0.8, 0.9, 1.4, 2.2, 2.4]
_RESTAURANT += [2.2, 1.6, 1.0, 0.6, 0.4]
_ONE_SHIFT = [0.15] * 7 + [0.6, 1.9, 2.0, 2.0, 1.8, 1.3, 1.9, 2.0, 2.0, 1.7, 0.6]
_ONE_SHIFT += [0.25, 0.2, 0.18, 0.16, 0.15, 0.15]
_TWO_SHIFT = [0.3] * 6 + [1.0, 1.35, 1.4, 1.4, 1.4, 1.3, 1.2, 1.4, 1.4, 1.4, 1.4, 1.35]
_TWO_SHIFT += [1.35, 1.35, 1.3, 1.25, 0.6, 0.35]
_THREE_SHIFT = [0.95, 0.94, 0.93, 0.93, 0.94, 0.96, 1.0, 1.04, 1.05, 1.06, 1.06, 1.02]
_THREE_SHIFT += [0.98, 1.04, 1.06, 1.06, 1.05, 1.03, 1.0, 0.99, 0.98, 0.97, 0.96, 0.95]
_IRRIGATION = [0.1] * 5 + [0.4, 1.2, 1.8, 2.0, 2.0, 1.9, 1.5, 1.2, 1.5, 1.9, 2.0, 1.9]
_IRRIGATION += [1.5, 0.9, 0.4, 0.2, 0.1, 0.1, 0.1]

ARCHETYPES: tuple[Archetype, ...] = (
    Archetype("res_standard", "residential", 0.64, _shape(_RESIDENTIAL), 1.08, 0.08, 0.04, 0.25),
    Archetype("res_ev", "residential", 0.07, _shape(_RESIDENTIAL), 1.08, 0.08, 0.04, 0.25),
    Archetype("res_pv", "residential", 0.03, _shape(_RESIDENTIAL), 1.08, 0.08, 0.04, 0.25),
    Archetype("res_heating", "residential", 0.08, _shape(_RESIDENTIAL), 1.08, 0.06, 0.12, 0.25),
    Archetype("com_office", "commercial", 0.04, _shape(_OFFICE), 0.3, 0.04, 0.02, 0.1),
    Archetype("com_retail", "commercial", 0.04, _shape(_RETAIL), 1.15, 0.035, 0.015, 0.1),
    Archetype("com_restaurant", "commercial", 0.03, _shape(_RESTAURANT), 1.1, 0.03, 0.01, 0.12),
    Archetype("ind_one_shift", "industrial", 0.014, _shape(_ONE_SHIFT), 0.25, 0.01, 0.0, 0.06),
    Archetype("ind_two_shift", "industrial", 0.014, _shape(_TWO_SHIFT), 0.55, 0.01, 0.0, 0.06),
    Archetype("ind_three_shift", "industrial", 0.012, _shape(_THREE_SHIFT), 0.9, 0.008, 0.0, 0.04),
    Archetype(
        "ind_seasonal",
        "industrial",
        0.01,
        _shape(_TWO_SHIFT),
        0.6,
        0.01,
        0.0,
        0.06,
        active_months=(4, 5, 6, 7, 8, 9, 10),
        inactive_factor=0.15,
    ),  # fmt: skip
    Archetype(
        "agr_irrigation",
        "agricultural",
        0.02,
        _shape(_IRRIGATION),
        1.0,
        0.03,
        0.0,
        0.15,
        active_months=(5, 6, 7, 8, 9),
        inactive_factor=0.08,
    ),  # fmt: skip
)
ARCHETYPE_INDEX = {archetype.name: index for index, archetype in enumerate(ARCHETYPES)}

# Residential customers are billed on the tiered tariff unless they chose time-of-use.
RESIDENTIAL_TOU_SHARE = 0.15
# Large-industry two-part pricing applies from 315 kVA of contract capacity.
LARGE_INDUSTRY_KVA = 315.0
LATE_PAYER_SHARE = 0.06
ABNORMAL_KINDS = ("sudden_drop", "flat_line", "inverted")
SPRING_FESTIVAL = "Spring Festival"

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红建国文俊峰波辉鹏宇浩然欣怡"
BUSINESS_WORDS = ["鑫源", "华泰", "宏达", "东方", "长江", "楚天", "磁湖", "金山", "恒通", "瑞丰"]
BUSINESS_WORDS += ["顺发", "新港", "明珠", "广源", "汇丰", "兴业", "永安", "九龙", "铜都", "天成"]
INDUSTRIES = {
    "com_office": ["商务服务", "金融", "软件和信息技术服务"],
    "com_retail": ["零售", "批发", "超市"],
    "com_restaurant": ["餐饮"],
    "ind_one_shift": ["金属制品", "服装制造", "食品加工"],
    "ind_two_shift": ["机械制造", "建材", "电子元件"],
    "ind_three_shift": ["钢铁冶炼", "水泥", "化工"],
    "ind_seasonal": ["农产品加工", "纺织"],
    "agr_irrigation": ["农业排灌"],
}
COMPANY_SUFFIX = {
    "commercial": ["商贸有限公司", "酒店", "商场", "餐饮店", "科技有限公司"],
    "industrial": ["实业有限公司", "制造有限公司", "钢铁有限公司", "建材有限公司"],
    "agricultural": ["村排灌站", "农业合作社"],
}

WORK_ORDER_TYPES = (
    "complaint",
    "repair",
    "billing_inquiry",
    "consultation",
    "business_expansion",
    "outage_report",
)
WORK_ORDER_CHANNELS = ("95598_phone", "app", "wechat", "counter")
COMPLAINT_TEXTS = (
    "停电时间过长，且未提前通知，影响正常生活。",
    "频繁停电，希望尽快解决线路问题。",
    "电费突然增加，怀疑电表计量不准。",
    "抢修人员到达太慢。",
    "电压不稳，家电无法正常使用。",
    "营业厅办理业务排队时间太长。",
)
OTHER_TEXTS = {
    "repair": "家中无电，请求上门检修。",
    "billing_inquiry": "咨询本月电费明细及峰谷电量。",
    "consultation": "咨询峰谷分时电价办理条件。",
    "business_expansion": "申请增加用电容量（业扩报装）。",
    "outage_report": "报告所在小区停电。",
}
ACTIVITY_CHANNELS = ("app", "wechat", "95598_web", "counter")


@dataclass(frozen=True)
class DemoSummary:
    """What the generator wrote."""

    customers: int
    readings: int
    bills: int
    work_orders: int
    seconds: float
    start: dt.date
    end: dt.date

    def describe(self) -> str:
        """One line for the terminal."""
        rate = self.readings / self.seconds if self.seconds else 0.0
        return (
            f"Demo utility ready: {self.customers:,} customers, {self.readings:,} hourly readings "
            f"({self.start} to {self.end}), {self.bills:,} bills, {self.work_orders:,} work orders "
            f"in {self.seconds:.1f} s ({rate:,.0f} readings/s)"
        )


def print_progress(stage: str, done: int, total: int) -> None:
    """A progress line for the terminal, rewritten in place."""
    width = 30
    filled = int(width * done / total) if total else width
    bar = "#" * filled + "-" * (width - filled)
    sys.stdout.write(f"\r{stage:<28} [{bar}] {done:>6}/{total:<6}")
    if done >= total:
        sys.stdout.write("\n")
    sys.stdout.flush()


def generate(
    engine: sa.Engine,
    *,
    customers: int = DEFAULT_CUSTOMERS,
    years: int = DEFAULT_YEARS,
    seed: int = DEFAULT_SEED,
    end_year: int = DEFAULT_END_YEAR,
    progress: Progress | None = None,
) -> DemoSummary:
    """Replaces the store's contents with a freshly generated demo utility.

    Args:
        engine: the store to fill; every table of the schema is dropped and created again.
        customers: number of customers.
        years: full calendar years of hourly readings, ending with ``end_year``.
        seed: the random seed; the same seed gives the same data.
        end_year: the last calendar year of data.
        progress: called as ``progress(stage, done, total)`` while generating.

    Returns:
        A summary of what was written.

    Raises:
        ValueError: ``customers`` or ``years`` is below 1.
    """
    if customers < 1 or years < 1:
        raise ValueError("The demo needs at least one customer and one year of data.")
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    generator = _Generator(customers, years, seed, end_year)
    truth.drop(engine)
    store_engine.drop_schema(engine)
    store_engine.migrate(engine)
    truth.create(engine)
    with engine.begin() as conn:
        summary_counts = generator.write(conn, report)
        store_engine.bump_data_version(conn)
    return DemoSummary(
        customers=customers,
        readings=summary_counts["readings"],
        bills=summary_counts["bills"],
        work_orders=summary_counts["work_orders"],
        seconds=time.perf_counter() - started,
        start=generator.days[0],
        end=generator.days[-1],
    )


class _Generator:
    """Holds the calendar, the weather and the customer archive while the tables are written."""

    def __init__(self, customers: int, years: int, seed: int, end_year: int) -> None:
        self.customer_count = customers
        self.seed = seed
        self.catalog = tariffs.load_catalog()
        self.hours = pd.date_range(
            f"{end_year - years + 1}-01-01", f"{end_year}-12-31 23:00", freq="h"
        )
        self.days = [day.date() for day in pd.date_range(self.hours[0], self.hours[-1], freq="D")]
        self.end_time = self.hours[-1].to_pydatetime()
        self.hour_of_day = self.hours.hour.to_numpy()
        self.years_elapsed = np.arange(len(self.hours)) / (365.25 * 24)
        self.day_index = (np.arange(len(self.hours)) // 24).astype(np.int64)
        self.month_of_hour = self.hours.month.to_numpy()
        periods = self.hours.to_period("M")
        self.month_labels = [str(period) for period in periods.unique()]
        month_codes = np.asarray(periods.asi8 - periods.asi8[0], dtype=np.int64)
        self.month_of_index = month_codes
        self.month_starts = np.flatnonzero(np.r_[True, month_codes[1:] != month_codes[:-1]])
        self._calendar()

    def _rng(self, *stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, *stream])

    def _calendar(self) -> None:
        days = calendars.day_calendar(pd.DatetimeIndex(self.days), "cn")
        festival = (days["holiday"] == SPRING_FESTIVAL) & days["is_holiday"]
        festival_array = festival.to_numpy()
        # Factories wind down before the Spring Festival holiday and restart slowly after it.
        shoulder = np.zeros(len(self.days), dtype=bool)
        for index in np.flatnonzero(festival_array):
            shoulder[max(0, index - 5) : index + 9] = True
        self.offday = ~days["is_workday"].to_numpy()
        self.spring_festival = festival_array
        self.festival_shoulder = shoulder & ~festival_array

    def write(self, conn: sa.Connection, report: Progress) -> dict[str, int]:
        counts: dict[str, int] = {}
        report("Weather", 0, 1)
        self.temperature = self._weather()
        store_engine.bulk_insert(conn, schema.weather, self._weather_frame())
        report("Weather", 1, 1)
        archive = self._customers()
        self.archive = archive
        store_engine.bulk_insert(conn, schema.customers, archive[_CUSTOMER_COLUMNS])
        demo_org.write(conn, archive)
        planted = archive[["customer_id", "archetype", "peak_shiftable", "late_payer"]]
        store_engine.bulk_insert(conn, truth.customers, planted)
        outages = self._outages()
        store_engine.bulk_insert(conn, schema.outages, outages)
        abnormal = self._abnormal()
        store_engine.bulk_insert(conn, truth.abnormal, abnormal)
        readings, bills = self._readings_and_bills(conn, outages, abnormal, report)
        counts["readings"] = readings
        plant_area_readings(conn, abnormal, self.hours, self._rng(11))
        bill_frame = self._payments(bills)
        store_engine.bulk_insert(conn, schema.bills, bill_frame)
        counts["bills"] = len(bill_frame)
        report("Service records", 0, 4)
        orders = self._work_orders(outages)
        store_engine.bulk_insert(conn, schema.work_orders, orders)
        counts["work_orders"] = len(orders)
        report("Service records", 1, 4)
        store_engine.bulk_insert(conn, schema.channel_activity, self._channel_activity())
        report("Service records", 2, 4)
        store_engine.bulk_insert(conn, schema.id_map, self._id_map())
        report("Service records", 3, 4)
        demo_campaigns.write(conn, archive, self.days, self._rng(10), self.catalog, self.seed)
        counts["applications"] = applications.write(conn, self.archive, self.days, self._rng(12))
        report("Service records", 4, 4)
        return counts

    def _weather(self) -> np.ndarray:
        """Hourly temperature per district: seasonal and daily cycles, weather spells, offsets."""
        rng = self._rng(1)
        day_of_year = self.hours.dayofyear.to_numpy()
        # Huangshi: January averages about 4.5 °C, July about 29.5 °C; warmest at 14:00.
        seasonal = 17.0 - 12.5 * np.cos(2 * np.pi * (day_of_year - 15) / 365.25)
        daily = 4.0 * np.cos(2 * np.pi * (self.hour_of_day - 14) / 24)
        spells = np.zeros(len(self.days))
        shocks = rng.normal(0.0, 1.6, len(self.days))
        for index in range(len(self.days)):
            spells[index] = (0.8 * spells[index - 1] if index else 0.0) + shocks[index]
        base = seasonal + daily + spells[self.day_index]
        per_district = []
        for district in geography.DISTRICTS:
            local = rng.normal(0.0, 0.4, len(self.days))[self.day_index]
            per_district.append(base + district.temperature_offset_c + local)
        return np.round(np.vstack(per_district), 1)

    def _weather_frame(self) -> pd.DataFrame:
        regions = geography.district_names()
        return pd.DataFrame(
            {
                "region": np.repeat(regions, len(self.hours)),
                "ts": np.tile(self.hours.to_numpy(), len(regions)),
                "temperature_c": self.temperature.ravel(),
            }
        )

    def _customers(self) -> pd.DataFrame:
        rng = self._rng(2)
        count = self.customer_count
        weights = np.array([archetype.weight for archetype in ARCHETYPES])
        assigned = rng.choice(len(ARCHETYPES), size=count, p=weights / weights.sum())
        # Every archetype appears once the store is large enough to hold them all.
        if count >= len(ARCHETYPES):
            assigned[: len(ARCHETYPES)] = np.arange(len(ARCHETYPES))
            rng.shuffle(assigned)
        archetypes = [ARCHETYPES[index] for index in assigned]
        classes = np.array([archetype.customer_class for archetype in archetypes])
        shares = np.array([district.customer_share for district in geography.DISTRICTS])
        district_index = rng.choice(len(geography.DISTRICTS), size=count, p=shares)
        districts = [geography.DISTRICTS[index] for index in district_index]

        capacity = np.empty(count)
        voltage = np.empty(count)
        mean_kw = np.empty(count)
        for index, archetype in enumerate(archetypes):
            capacity[index], voltage[index], mean_kw[index] = _size(archetype, rng)
        tariff_codes = []
        for index, archetype in enumerate(archetypes):
            if archetype.customer_class == "residential":
                tou = rng.random() < RESIDENTIAL_TOU_SHARE
                tariff_codes.append("RES_TOU" if tou else "RES_TIERED")
            elif archetype.customer_class == "agricultural":
                tariff_codes.append("AGR_FLAT")
            elif archetype.customer_class == "industrial" and capacity[index] >= LARGE_INDUSTRY_KVA:
                tariff_codes.append("IND_TWO_PART")
            else:
                tariff_codes.append("COM_TOU")

        areas, lats, lons = self._places(districts, rng)
        managers = [
            f"CM{district_index[index] + 1}{1 + (hash_area(areas[index]) % 3):02d}"
            for index in range(count)
        ]
        names = [_name(archetype, rng) for archetype in archetypes]
        industries = [
            rng.choice(INDUSTRIES[archetype.name]) if archetype.name in INDUSTRIES else None
            for archetype in archetypes
        ]
        first_day = self.days[0]
        # New connections during the period (业扩报装) are households and shops; the big
        # consumers were all connected before it, so a single plant does not swing the totals.
        opened_late = (rng.random(count) < 0.04) & np.isin(classes, ["residential", "commercial"])
        open_days = np.where(
            opened_late,
            rng.integers(30, max(31, len(self.days) - 60), count),
            -rng.integers(200, 7000, count),
        )
        open_dates = [first_day + dt.timedelta(days=int(offset)) for offset in open_days]
        phones = [f"1{rng.choice([3, 5, 8])}{rng.integers(0, 10**9):09d}" for _ in range(count)]
        power_factor = np.where(
            classes == "residential", np.nan, np.clip(rng.normal(0.9, 0.045, count), 0.72, 0.99)
        )
        late = rng.random(count) < LATE_PAYER_SHARE
        digital = rng.random(count) < np.where(classes == "residential", 0.45, 0.6)
        names_arch = np.array([archetype.name for archetype in archetypes])
        peak_shiftable = np.isin(names_arch, ["res_ev", "res_heating"])
        # Yearly growth of each customer's use: a few percent on average, some shrinking.
        growth = rng.normal(0.03, 0.04, count)
        return pd.DataFrame(
            {
                "customer_id": [f"42{10000001 + index:08d}" for index in range(count)],
                "name": names,
                "customer_class": classes,
                "industry": industries,
                "voltage_kv": voltage,
                "contract_capacity_kva": capacity,
                "region": [district.name for district in districts],
                "transformer_area": areas,
                "lat": lats,
                "lon": lons,
                "tariff_code": tariff_codes,
                "open_date": open_dates,
                "manager_id": managers,
                "phone": phones,
                "status": "active",
                "archetype": names_arch,
                "archetype_index": assigned,
                "district_index": district_index,
                "mean_kw": mean_kw,
                "power_factor": power_factor,
                "open_offset_hours": np.maximum(open_days, 0) * 24,
                "late_payer": late,
                "digital": digital,
                "peak_shiftable": peak_shiftable,
                "growth": growth,
            }
        )

    def _places(
        self, districts: list[geography.District], rng: np.random.Generator
    ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Transformer areas of about 40 customers each, placed inside their district."""
        count = len(districts)
        areas: list[str] = [""] * count
        lats = np.empty(count)
        lons = np.empty(count)
        for district in geography.DISTRICTS:
            members = [index for index in range(count) if districts[index] is district]
            if not members:
                continue
            area_count = max(1, len(members) // 40)
            km_lat = 1 / 111.0
            km_lon = 1 / (111.0 * np.cos(np.radians(district.lat)))
            radius = district.radius_km * np.sqrt(rng.random(area_count))
            angle = rng.random(area_count) * 2 * np.pi
            centre_lat = district.lat + radius * np.sin(angle) * km_lat
            centre_lon = district.lon + radius * np.cos(angle) * km_lon
            choice = rng.integers(0, area_count, len(members))
            for member, area in zip(members, choice, strict=True):
                areas[member] = f"{district.short}{area + 1:03d}号台区"
                lats[member] = centre_lat[area] + rng.normal(0, 0.25) * km_lat
                lons[member] = centre_lon[area] + rng.normal(0, 0.25) * km_lon
        return areas, np.round(lats, 6), np.round(lons, 6)

    def _outages(self) -> pd.DataFrame:
        """Planned and unplanned outages per transformer area, every customer of it affected."""
        rng = self._rng(3)
        years = len(self.days) / 365.0
        rows = []
        event = 0
        by_area = self.archive.groupby("transformer_area", sort=True)["customer_id"]
        for _area, members in by_area:
            for planned in (False, True):
                count = rng.poisson((1.0 if planned else 1.6) * years)
                for _ in range(count):
                    day = rng.integers(0, len(self.days))
                    hour = rng.integers(8, 15) if planned else rng.integers(0, 24)
                    hours = rng.integers(4, 9) if planned else rng.integers(1, 7)
                    start = dt.datetime.combine(self.days[day], dt.time(int(hour)))
                    end = min(start + dt.timedelta(hours=int(hours)), self.end_time)
                    event += 1
                    for customer in members:
                        rows.append((f"OUT{event:06d}", customer, start, end, planned))
        return pd.DataFrame(rows, columns=["event_id", "customer_id", "start", "end", "planned"])

    def _abnormal(self) -> pd.DataFrame:
        """A few meters that go wrong in the last year: a sustained drop, a flat line, inversion."""
        rng = self._rng(4)
        count = max(3, self.customer_count // 250)
        candidates = self.archive.index[self.archive["open_offset_hours"] == 0].to_numpy()
        chosen = rng.choice(candidates, size=min(count, len(candidates)), replace=False)
        last_year_start = max(0, len(self.days) - 365)
        rows = []
        for position, index in enumerate(sorted(chosen)):
            day = int(rng.integers(last_year_start + 30, len(self.days) - 60))
            rows.append(
                {
                    "customer_id": self.archive.at[index, "customer_id"],
                    "kind": ABNORMAL_KINDS[position % len(ABNORMAL_KINDS)],
                    "start": dt.datetime.combine(self.days[day], dt.time(0)),
                }
            )
        return pd.DataFrame(rows, columns=["customer_id", "kind", "start"])

    def _load(self, batch: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        """Hourly kWh for a batch of customers, one row per customer."""
        count, hours = len(batch), len(self.hours)
        load = np.empty((count, hours))
        day_count = len(self.days)
        for position, (_, customer) in enumerate(batch.iterrows()):
            archetype = ARCHETYPES[customer["archetype_index"]]
            shape = np.asarray(archetype.shape)[self.hour_of_day]
            day_factor = np.where(self.offday, archetype.offday_factor, 1.0)
            if archetype.customer_class == "industrial":
                day_factor = np.where(self.spring_festival, 0.3, day_factor)
                day_factor = np.where(self.festival_shoulder, day_factor * 0.65, day_factor)
            elif archetype.customer_class == "commercial":
                day_factor = np.where(self.spring_festival, day_factor * 0.7, day_factor)
            else:
                day_factor = np.where(self.spring_festival, day_factor * 1.1, day_factor)
            season = np.where(
                np.isin(self.month_of_hour, archetype.active_months),
                1.0,
                archetype.inactive_factor,
            )
            temperature = self.temperature[customer["district_index"]]
            weather = (
                1.0
                + archetype.cooling * np.maximum(temperature - 26.0, 0.0)
                + archetype.heating * np.maximum(12.0 - temperature, 0.0)
            )
            daily_noise = rng.lognormal(0.0, 0.1, day_count)[self.day_index]
            hourly_noise = rng.lognormal(0.0, archetype.hourly_noise, hours)
            kw = customer["mean_kw"] * shape * day_factor[self.day_index] * season * weather
            trend = 1.0 + customer["growth"] * self.years_elapsed
            kw = kw * daily_noise * hourly_noise * trend
            if archetype.name == "res_ev":
                kw = kw + self._ev_charging(rng)
            elif archetype.name == "res_pv":
                kw = np.maximum(kw - self._pv_output(rng), 0.0)
            load[position] = kw
        return load

    def _ev_charging(self, rng: np.random.Generator) -> np.ndarray:
        """A 7 kW home charger plugged in on most nights, starting around 23:00."""
        day_count = len(self.days)
        charging = np.zeros(len(self.hours))
        nights = rng.random(day_count) < 0.7
        starts = rng.integers(23, 26, day_count)
        durations = rng.integers(2, 5, day_count)
        for day in np.flatnonzero(nights):
            first = day * 24 + starts[day]
            charging[first : min(first + durations[day], len(self.hours))] = 7.0
        return charging

    def _pv_output(self, rng: np.random.Generator) -> np.ndarray:
        """Rooftop PV (3–6 kW) output: a midday bell, stronger in summer, cut by cloudy days."""
        capacity = rng.uniform(3.0, 6.0)
        bell = np.clip(np.cos(np.pi * (self.hour_of_day - 12.5) / 12.0), 0.0, None) ** 2
        day_of_year = self.hours.dayofyear.to_numpy()
        season = 0.75 + 0.25 * np.sin(2 * np.pi * (day_of_year - 80) / 365.25)
        cloud = rng.uniform(0.2, 1.0, len(self.days))[self.day_index]
        return capacity * 0.8 * bell * season * cloud

    def _readings_and_bills(
        self,
        conn: sa.Connection,
        outages: pd.DataFrame,
        abnormal: pd.DataFrame,
        report: Progress,
    ) -> tuple[int, pd.DataFrame]:
        rng = self._rng(5)
        labels_by_tariff = {
            code: pd.Categorical(
                tariffs.period_labels(self.catalog[code], self.hours), categories=tariffs.PERIODS
            ).codes
            for code in self.archive["tariff_code"].unique()
        }
        outage_hours = self._outage_hours(outages)
        abnormal_by_customer = abnormal.set_index("customer_id")
        total = len(self.archive)
        written = 0
        usage_frames = []
        hours = self.hours.to_numpy()
        report("Readings and bills", 0, total)
        for start in range(0, total, BATCH_CUSTOMERS):
            batch = self.archive.iloc[start : start + BATCH_CUSTOMERS]
            kwh = self._load(batch, rng)
            valid = np.ones_like(kwh, dtype=bool)
            for position, (_, customer) in enumerate(batch.iterrows()):
                valid[position, : customer["open_offset_hours"]] = False
                for first, last in outage_hours.get(customer["customer_id"], ()):
                    kwh[position, first:last] = 0.0
                if customer["customer_id"] in abnormal_by_customer.index:
                    _plant_abnormal(
                        kwh[position], abnormal_by_customer.loc[customer["customer_id"]], hours
                    )
            kwh = np.where(valid, np.round(kwh, 3), 0.0)
            ratio = np.tan(np.arccos(batch["power_factor"].to_numpy()))
            kvarh = np.round(kwh * ratio[:, None], 3)
            written += self._write_readings(conn, batch, kwh, kvarh, valid)
            usage_frames.append(self._usage(batch, kwh, kvarh, valid, labels_by_tariff))
            report("Readings and bills", min(start + BATCH_CUSTOMERS, total), total)
        usage = pd.concat(usage_frames, ignore_index=True)
        return written, self._price(usage)

    def _outage_hours(self, outages: pd.DataFrame) -> dict[str, list[tuple[int, int]]]:
        origin = self.hours[0]
        spans: dict[str, list[tuple[int, int]]] = {}
        for row in outages.itertuples(index=False):
            first = int((pd.Timestamp(row.start) - origin) / pd.Timedelta(hours=1))
            last = int(np.ceil((pd.Timestamp(row.end) - origin) / pd.Timedelta(hours=1)))
            spans.setdefault(row.customer_id, []).append((first, last))
        return spans

    def _write_readings(
        self,
        conn: sa.Connection,
        batch: pd.DataFrame,
        kwh: np.ndarray,
        kvarh: np.ndarray,
        valid: np.ndarray,
    ) -> int:
        count, hours = kwh.shape
        flat_valid = valid.ravel()
        indices = np.repeat(np.arange(count, dtype=np.int32), hours)[flat_valid]
        ids = pa.DictionaryArray.from_arrays(
            pa.array(indices, pa.int32()), pa.array(batch["customer_id"].tolist(), pa.string())
        )
        reactive = kvarh.ravel()[flat_valid]
        table = pa.table(
            {
                "customer_id": ids.cast(pa.string()),
                "ts": pa.array(np.tile(self.hours.to_numpy(), count)[flat_valid]),
                "kwh": pa.array(kwh.ravel()[flat_valid]),
                "kvarh": pa.array(reactive, from_pandas=True),
            }
        )
        return store_engine.bulk_insert(conn, schema.readings, table)

    def _usage(
        self,
        batch: pd.DataFrame,
        kwh: np.ndarray,
        kvarh: np.ndarray,
        valid: np.ndarray,
        labels_by_tariff: dict[str, np.ndarray],
    ) -> pd.DataFrame:
        """Monthly energy per tariff period, maximum demand and reactive energy per customer."""
        months = len(self.month_labels)
        frames = []
        for code, members in batch.groupby("tariff_code").groups.items():
            rows = batch.index.get_indexer(members)
            labels = labels_by_tariff[code]
            key = self.month_of_index * len(tariffs.PERIODS) + labels
            onehot = np.zeros((len(self.hours), months * len(tariffs.PERIODS)))
            onehot[np.arange(len(self.hours)), key] = 1.0
            by_period = (kwh[rows] @ onehot).reshape(len(rows), months, len(tariffs.PERIODS))
            max_demand = np.maximum.reduceat(kwh[rows], self.month_starts, axis=1)
            reactive = np.add.reduceat(np.nan_to_num(kvarh[rows]), self.month_starts, axis=1)
            has_reactive = ~np.isnan(kvarh[rows, 0])
            active = np.maximum.reduceat(valid[rows], self.month_starts, axis=1)
            frame = pd.DataFrame(
                {
                    "customer_id": np.repeat(batch.loc[members, "customer_id"].to_numpy(), months),
                    "tariff_code": code,
                    "period": np.tile(self.month_labels, len(rows)),
                    "max_demand_kw": max_demand.ravel(),
                    "kvarh": np.where(has_reactive[:, None], reactive, np.nan).ravel(),
                    "demand_interval": "hourly",
                    "contract_capacity_kva": np.repeat(
                        batch.loc[members, "contract_capacity_kva"].to_numpy(), months
                    ),
                    "active": active.ravel(),
                }
            )
            for position, period in enumerate(tariffs.PERIODS):
                frame[f"kwh_{period}"] = np.round(by_period[:, :, position].ravel(), 3)
            frames.append(frame[frame["active"]].drop(columns="active"))
        return pd.concat(frames, ignore_index=True)

    def _price(self, usage: pd.DataFrame) -> pd.DataFrame:
        priced = []
        for code, rows in usage.groupby("tariff_code", sort=True):
            billed = tariffs.bill_usage(self.catalog[code], rows.drop(columns="tariff_code"))
            priced.append(billed.assign(tariff_code=code))
        bills = pd.concat(priced, ignore_index=True)
        return bills.sort_values(["customer_id", "period"], ignore_index=True)

    def _payments(self, bills: pd.DataFrame) -> pd.DataFrame:
        """Due dates, and payments: mostly on time, some late, a few still unpaid at the end."""
        rng = self._rng(6)
        late_payer = bills["customer_id"].map(self.archive.set_index("customer_id")["late_payer"])
        period_start = pd.to_datetime(bills["period"] + "-01")
        issued = period_start + pd.offsets.MonthBegin(1) + pd.Timedelta(days=4)
        due = period_start + pd.offsets.MonthBegin(1) + pd.Timedelta(days=19)
        draw = rng.random(len(bills))
        is_late = draw < np.where(late_payer, 0.55, 0.05)
        # A few bills stay unpaid for months until collection catches up with them.
        very_late = draw < np.where(late_payer, 0.08, 0.003)
        on_time_days = rng.integers(0, 15, len(bills))
        late_days = rng.integers(16, np.where(late_payer, 90, 40))
        very_late_days = rng.integers(90, 300, len(bills))
        delay = np.where(very_late, very_late_days, np.where(is_late, late_days, on_time_days))
        paid = issued + pd.to_timedelta(delay, unit="D")
        as_of = pd.Timestamp(self.days[-1])
        unpaid = paid > as_of
        amount = bills["amount_cny"].astype(float)
        return pd.DataFrame(
            {
                "customer_id": bills["customer_id"],
                "period": bills["period"],
                "kwh_peak": bills["kwh_peak"],
                "kwh_flat": bills["kwh_flat"],
                "kwh_valley": bills["kwh_valley"],
                "kwh_critical": bills["kwh_critical"],
                "kwh_total": bills["kwh_total"],
                "amount_cny": amount,
                "due_date": due.dt.date,
                "paid_date": [
                    None if missing else day.date()
                    for missing, day in zip(unpaid, paid, strict=True)
                ],
                "paid_cny": amount.where(~unpaid),
            }
        )

    def _work_orders(self, outages: pd.DataFrame) -> pd.DataFrame:
        """95598 work orders; complaints cluster in the two weeks after an outage."""
        rng = self._rng(7)
        rows = []
        span_days = len(self.days)
        rate_by_class = {"residential": 0.35, "commercial": 1.2, "industrial": 2.0}
        for customer in self.archive.itertuples(index=False):
            yearly = rate_by_class.get(customer.customer_class, 0.8)
            count = rng.poisson(yearly * span_days / 365.0)
            for _ in range(count):
                kind = rng.choice(
                    WORK_ORDER_TYPES, p=[0.08, 0.25, 0.25, 0.27, 0.05, 0.10]
                )  # fmt: skip
                day = self.days[int(rng.integers(0, span_days))]
                created = dt.datetime.combine(day, dt.time(int(rng.integers(7, 22))))
                rows.append(_order(customer.customer_id, kind, created, rng))
        unplanned = outages[~outages["planned"]]
        for outage in unplanned.itertuples(index=False):
            if rng.random() < 0.07:
                created = pd.Timestamp(outage.end) + pd.Timedelta(hours=int(rng.integers(1, 240)))
                if created <= pd.Timestamp(self.end_time):
                    order = _order(outage.customer_id, "complaint", created.to_pydatetime(), rng)
                    order["description"] = COMPLAINT_TEXTS[int(rng.integers(0, 2))]
                    rows.append(order)
                    # Some complain again when nothing changes.
                    if rng.random() < 0.25:
                        again = created + pd.Timedelta(days=int(rng.integers(3, 30)))
                        if again <= pd.Timestamp(self.end_time):
                            repeat = _order(
                                outage.customer_id, "complaint", again.to_pydatetime(), rng
                            )
                            repeat["description"] = "重复投诉：" + order["description"]
                            rows.append(repeat)
        frame = pd.DataFrame(rows).sort_values(["created_at", "customer_id"], ignore_index=True)
        frame.insert(0, "order_id", [f"WO{index + 1:08d}" for index in range(len(frame))])
        end = pd.Timestamp(self.end_time)
        frame["closed_at"] = frame["closed_at"].where(frame["closed_at"] <= end)
        return frame

    def _channel_activity(self) -> pd.DataFrame:
        rng = self._rng(8)
        rows = []
        span = len(self.days)
        for customer in self.archive.itertuples(index=False):
            rate = 0.08 if customer.digital else 0.006
            preferred = (
                rng.choice(["app", "wechat", "95598_web"]) if customer.digital else "counter"
            )
            days = np.unique(rng.integers(0, span, rng.poisson(rate * span)))
            for day in days:
                channel = preferred if rng.random() < 0.8 else rng.choice(ACTIVITY_CHANNELS)
                rows.append((customer.customer_id, self.days[day], channel, rng.integers(1, 6)))
        frame = pd.DataFrame(rows, columns=["customer_id", "date", "channel", "events"])
        return frame.groupby(["customer_id", "date", "channel"], as_index=False)["events"].sum()

    def _id_map(self) -> pd.DataFrame:
        """Ids of the other systems, with a few of the inconsistencies real exports have."""
        rng = self._rng(9)
        archive = self.archive
        rows = []
        for position, customer in enumerate(archive.itertuples(index=False)):
            customer_id = customer.customer_id
            rows.append(("contract", f"HT{90000000 + position:08d}", customer_id, True))
            rows.append(("customer_no", f"KH{70000000 + position * 7:09d}", customer_id, True))
            if customer.digital:
                rows.append(("app", f"U{rng.integers(10**9, 10**10)}", customer_id, True))
            rows.append(("95598", customer.phone, customer_id, True))
        frame = pd.DataFrame(rows, columns=["system", "external_id", "customer_id", "active"])
        frame = frame.drop_duplicates(["system", "external_id", "customer_id"])
        if len(archive) >= 4:
            picked = rng.choice(len(archive), size=4, replace=False)
            # One contract number recorded against a second customer.
            first, second = archive.iloc[picked[0]], archive.iloc[picked[1]]
            contract = frame[
                (frame["system"] == "contract") & (frame["customer_id"] == first["customer_id"])
            ]["external_id"].iloc[0]
            extra = [("contract", contract, second["customer_id"], True)]
            # A customer with a second active contract number that was never closed.
            third = archive.iloc[picked[2]]
            extra.append(("contract", f"HT8{picked[2]:08d}", third["customer_id"], True))
            # A closed customer number kept beside the current one, as migrations leave them.
            fourth = archive.iloc[picked[3]]
            extra.append(("customer_no", f"KH6{picked[3]:08d}", fourth["customer_id"], False))
            frame = pd.concat([frame, pd.DataFrame(extra, columns=frame.columns)])
        return frame[["system", "external_id", "customer_id", "active"]].reset_index(drop=True)


_CUSTOMER_COLUMNS = [column.name for column in schema.customers.columns]


def hash_area(area: str) -> int:
    """A stable small number for a transformer area (Python's hash() changes per process)."""
    return sum(area.encode("utf-8"))


def _size(archetype: Archetype, rng: np.random.Generator) -> tuple[float, float, float]:
    """Contract capacity (kVA), supply voltage (kV) and mean load (kW) for a new customer."""
    if archetype.customer_class == "residential":
        capacity = float(rng.choice([4.0, 6.0, 8.0, 10.0]))
        mean = rng.lognormal(np.log(0.38), 0.35)
        if archetype.name == "res_heating":
            mean *= 1.2
        return capacity, 0.22, mean
    if archetype.customer_class == "commercial":
        capacity = float(rng.choice([50.0, 80.0, 100.0, 160.0, 200.0, 250.0, 315.0, 400.0]))
        voltage = 10.0 if capacity >= 250 else 0.4
        return capacity, voltage, capacity * rng.uniform(0.15, 0.3)
    if archetype.customer_class == "industrial":
        capacity = float(rng.choice([160.0, 250.0, 315.0, 630.0, 1000.0, 2000.0, 3150.0]))
        voltage = 35.0 if capacity >= 2000 else 10.0
        return capacity, voltage, capacity * rng.uniform(0.25, 0.45)
    capacity = float(rng.choice([30.0, 50.0, 80.0, 100.0]))
    return capacity, 0.4, capacity * rng.uniform(0.3, 0.5)


def _name(archetype: Archetype, rng: np.random.Generator) -> str:
    if archetype.customer_class == "residential":
        given = "".join(rng.choice(list(GIVEN), size=int(rng.integers(1, 3))))
        return rng.choice(list(SURNAMES)) + given
    word = rng.choice(BUSINESS_WORDS)
    suffix = rng.choice(COMPANY_SUFFIX[archetype.customer_class])
    return f"黄石{word}{suffix}"


def _order(
    customer_id: str, kind: str, created: dt.datetime, rng: np.random.Generator
) -> dict[str, object]:
    closed = created + dt.timedelta(hours=int(rng.integers(1, 96)))
    if kind == "complaint":
        description = COMPLAINT_TEXTS[int(rng.integers(0, len(COMPLAINT_TEXTS)))]
        satisfaction = int(rng.choice([1, 2, 3, 4], p=[0.3, 0.35, 0.25, 0.1]))
    else:
        description = OTHER_TEXTS[kind]
        satisfaction = int(rng.choice([3, 4, 5], p=[0.15, 0.35, 0.5]))
    return {
        "customer_id": customer_id,
        "created_at": created,
        "closed_at": closed,
        "type": kind,
        "channel": rng.choice(WORK_ORDER_CHANNELS, p=[0.55, 0.2, 0.15, 0.1]),
        "satisfaction": satisfaction,
        "description": description,
    }


def _plant_abnormal(kwh: np.ndarray, case: pd.Series, hours: np.ndarray) -> None:
    """Alters one customer's hourly kWh in place from the case's start on."""
    first = int(np.searchsorted(hours, np.datetime64(case["start"])))
    if case["kind"] == "sudden_drop":
        kwh[first:] *= 0.25
    elif case["kind"] == "flat_line":
        kwh[first:] = round(float(np.mean(kwh[max(0, first - 24 * 7) : first])), 3)
    else:
        segment = kwh[first:]
        days = len(segment) // 24
        shaped = segment[: days * 24].reshape(days, 24)
        segment[: days * 24] = np.roll(shaped, 12, axis=1).ravel()
