"""``python -m core segments``: fit (or refit) the segments and write each customer's segment."""

import argparse
import json
import sys
from collections.abc import Callable

import pandas as pd

from core import access, config, exports, i18n
from core.segments import model, naming, runs

OUTPUT_COLUMNS = ("customer_id", "segment_id", "segment_name", "shape_cluster")


def add_commands(
    commands: argparse._SubParsersAction,
    add_database_url: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Adds ``segments`` to the command line's subcommands."""
    parser = commands.add_parser(
        "segments", help="segment the customers (refits keep their segment ids) and write them"
    )
    parser.add_argument(
        "--k", type=int, default=None, help="number of segments (default: by silhouette)"
    )
    parser.add_argument("--shape-k", type=int, default=None, help="number of typical load shapes")
    parser.add_argument("--seed", type=int, default=model.DEFAULT_SEED)
    parser.add_argument(
        "--min-share",
        type=float,
        default=model.MIN_SEGMENT_SHARE,
        help="smallest segment share when k is chosen (default %(default)s)",
    )
    parser.add_argument(
        "--max-segments",
        type=int,
        default=model.MAX_SEGMENTS,
        help="most segments when k is chosen (default %(default)s)",
    )
    parser.add_argument("--out", required=True, help="CSV or Excel file, one row per customer")
    parser.add_argument("--json", action="store_true", help="print the segments as JSON")
    add_database_url(parser)
    parser.set_defaults(handler=command)


def _language() -> str:
    language = config.setting("WORKBENCH_LANGUAGE")
    return language if language in config.LANGUAGES else "en"


def command(args: argparse.Namespace) -> int:
    """Fits, stores, writes the customers' segments; prints the segments as JSON or lines."""
    from core.store import engine as store_engine

    engine = store_engine.connect(args.database_url or config.database_url())
    store_engine.check_schema(engine)
    language = _language()

    def report(step: str, fraction: float) -> None:
        print(f"  {fraction:4.0%} {step}", file=sys.stderr, flush=True)

    try:
        run = runs.fit(
            engine,
            access.SYSTEM,
            k=args.k,
            seed=args.seed,
            min_share=args.min_share,
            max_segments=args.max_segments,
            shape_k=args.shape_k,
            progress=report,
        )
        with engine.connect() as conn:
            shown = runs.segments_of(conn, access.SYSTEM, run.run_id)
            members = runs.members(conn, access.SYSTEM, run.run_id)
            stored = runs.run_model(conn, run.run_id)
    finally:
        engine.dispose()
    names = runs.display_names(shown, language)
    written = exports.write(
        access.SYSTEM,
        pd.DataFrame(
            {
                "customer_id": members["customer_id"],
                "segment_id": members["segment_id"],
                "segment_name": members["segment_id"].map(names),
                "shape_cluster": members["shape_cluster"],
            }
        ),
        args.out,
    )
    summary = _summary(run, shown, stored, language, str(written))
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    print(
        i18n.translate(
            "segments.cli_done",
            language,
            run_id=run.run_id,
            customers=f"{run.customers:,}",
            k=run.choice.k,
            out=written,
        )
    )
    for segment in summary["segments"]:
        print(f"  {segment['segment_id']:>3}  {segment['customers']:>8,}  {segment['name']}")
        for rule in segment["rules"]:
            print(f"         {rule}")
    return 0


def _summary(run: runs.Run, shown: pd.DataFrame, stored: dict, language: str, out: str) -> dict:
    names = runs.display_names(shown, language)
    reasons = {
        int(row.segment_id): [
            naming.fact_text(fact["feature"], fact["value"], fact["base"], language)
            for fact in row.facts
        ]
        for row in shown.itertuples(index=False)
    }
    shapes = stored.get("shapes")
    return {
        "run_id": run.run_id,
        "previous_run_id": run.previous_run_id,
        "customers": run.customers,
        "k": run.choice.k,
        "k_chosen_by": run.choice.chosen_by,
        "criterion": {
            "name": run.choice.criterion,
            "value": stored["criterion_value"],
            "values": stored["criterion"]["values"],
            "smallest_share": stored["criterion"]["smallest_share"],
        },
        "business_rules": stored["rules"],
        "segments": [
            {
                "segment_id": int(row.segment_id),
                "name": names[int(row.segment_id)],
                "name_code": row.name_code,
                "customers": int(row.customers),
                "share": round(float(row.share), 4),
                "kept_from_previous_run": bool(row.kept),
                "rules": reasons[int(row.segment_id)],
                "facts": row.facts,
            }
            for row in shown.itertuples(index=False)
        ],
        "shapes": None
        if shapes is None
        else {
            "k": shapes["criterion"]["k"],
            "chosen_by": shapes["criterion"]["chosen_by"],
            "criterion": shapes["criterion"]["name"],
            "values": shapes["criterion"]["values"],
            "sizes": dict(zip(map(str, shapes["ids"]), shapes["sizes"], strict=True)),
        },
        "seconds": round(run.seconds, 2),
        "out": out,
    }
