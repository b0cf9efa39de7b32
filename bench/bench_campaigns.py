"""Campaign evaluation, energy effect and uplift on the default demo store: seconds and figures.

Prints, for each demo campaign, the seconds of a full reading (the evaluation with balance and,
for the time-of-use offer, the energy effect) and its conversion lift with the interval; the
energy effect (CUPED, difference-in-differences, variance removed) against the planted one; and
each uplift model's AUUC with its bootstrap interval, with the seconds of a fit.

Run: ``python -m bench.bench_campaigns [--folder DIR]``; with ``--folder`` the store is kept and
reused.
"""

import argparse
import time
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from bench import common
from core import access, demo
from core.campaigns import members, report, uplift, usage
from core.demo import truth
from core.store import engine as store_engine


def _store(folder: Path) -> sa.Engine:
    path = folder / "campaigns_default.duckdb"
    engine = store_engine.connect(f"duckdb:///{path}")
    if not store_engine.has_data(engine):
        demo.generate(engine, **common.DEMO_SIZES["default"])
    return engine


def _planted_peak_share(conn, item, stored) -> float:
    shifts = pd.DataFrame(conn.execute(sa.select(truth.energy_shifts)).all())
    shifts.columns = list(truth.energy_shifts.c.keys())
    spans = usage.windows(
        item.campaign["start_date"], item.campaign["end_date"], usage.last_reading(conn)
    )
    arms = stored.set_index("customer_id")["arm"]
    use = usage.usage(conn, arms.index, spans, item.campaign["offer"]).set_index("customer_id")
    use = use.dropna()
    share = shifts.set_index("customer_id")["peak_shift_share"].reindex(use.index).fillna(0.0)
    change = -use["post_peak_share"] * share / (1.0 - share)
    treated = arms.reindex(use.index) != "control"
    return float(change[treated].mean() - change[~treated].mean())


def main(argv: list[str] | None = None) -> None:
    """Prints the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=None, help="keep the demo store here")
    args = parser.parse_args(argv)
    print(f"Demo store: {common.size_label(common.DEMO_SIZES['default'])}")
    with common.scratch_folder(args.folder, "bench_campaigns_") as folder:
        engine = _store(folder)
        with engine.connect() as conn:
            if store_engine.backend(conn) == "duckdb":
                conn.exec_driver_sql("SET enable_progress_bar = false")
            started = time.perf_counter()
            listed = report.overview(conn, access.SYSTEM)
            print(f"campaign list with headline lifts: {time.perf_counter() - started:.2f} s")
            for campaign_id in sorted(listed["campaign_id"]):
                started = time.perf_counter()
                item = report.campaign_report(conn, access.SYSTEM, campaign_id)
                seconds = time.perf_counter() - started
                [comparison] = item.evaluation.comparisons
                conversion = comparison.conversion
                low, high = conversion.abs_lift_ci
                print(
                    f"{campaign_id}: {seconds:.2f} s; conversion lift "
                    f"{conversion.abs_lift * 100:+.2f} pp [{low * 100:.2f}, {high * 100:.2f}], "
                    f"adjusted p {conversion.p_value_adjusted:.3g}, "
                    f"SRM p {item.evaluation.sample_ratio.p_value:.3g}, "
                    f"balance flags {sum(row.flagged for row in item.balance)}"
                )
                for effect in item.energy or []:
                    scale, unit = (100.0, "pp") if effect.metric == "peak_share" else (1.0, "kWh")
                    cuped, did, plain = effect.cuped, effect.did, effect.unadjusted
                    print(
                        f"  {effect.metric}: CUPED {cuped.effect * scale:+.2f} {unit} "
                        f"[{cuped.ci[0] * scale:.2f}, {cuped.ci[1] * scale:.2f}], "
                        f"DiD {did.effect * scale:+.2f}, plain {plain.effect * scale:+.2f}, "
                        f"variance removed {effect.variance_reduction:.0%}"
                    )
                if item.energy:
                    stored = members.stored_members(conn, access.SYSTEM, campaign_id)
                    planted = _planted_peak_share(conn, item, stored)
                    print(f"  planted peak-share effect (ITT): {planted * 100:+.2f} pp")
                started = time.perf_counter()
                try:
                    learnt = uplift.fit(conn, access.SYSTEM, campaign_id)
                except Exception as error:  # noqa: BLE001 - a campaign too small is reported
                    print(f"  uplift: {error}")
                    continue
                seconds = time.perf_counter() - started
                for model, curve in learnt.curves.items():
                    print(
                        f"  uplift {model}: AUUC {curve.auuc:.2f} "
                        f"[{curve.auuc_ci[0]:.2f}, {curve.auuc_ci[1]:.2f}]"
                    )
                print(f"  uplift fit and cross-fitting: {seconds:.2f} s")
        engine.dispose()


if __name__ == "__main__":
    main()
