"""``python -m core abnormal`` (the ranked inspection list) and ``python -m core risk-models``."""

import argparse
import json
from collections.abc import Callable

from core import access
from core.risk import abnormal, models, reasons
from core.risk import settings as risk_settings


def add_commands(
    commands: argparse._SubParsersAction,
    add_database_url: Callable[[argparse.ArgumentParser], None],
    current_store: Callable,
    language: Callable[[], str],
) -> None:
    """Adds ``abnormal`` to the command line's subcommands."""
    parser = commands.add_parser(
        "abnormal",
        help="recompute the abnormal-use scores and print the inspection list, best first",
    )
    parser.add_argument(
        "--top",
        type=int,
        default=None,
        help="customers listed (default: the inspectors' weekly capacity in data/risk.toml)",
    )
    parser.add_argument("--json", action="store_true", help="print the list as JSON")
    add_database_url(parser)

    def run(args: argparse.Namespace) -> int:
        return _command_abnormal(args, current_store(args), language())

    parser.set_defaults(handler=run)

    train = commands.add_parser(
        "risk-models",
        help="train the arrears, churn and complaint models, judge them on their holdout and "
        "score every customer",
    )
    add_database_url(train)

    def run_training(args: argparse.Namespace) -> int:
        return _command_models(current_store(args))

    train.set_defaults(handler=run_training)


def _command_abnormal(args: argparse.Namespace, engine, language: str) -> int:
    if args.top is not None and args.top < 0:
        print("--top must be 0 or more")
        return 2
    settings = risk_settings.load()
    summary = abnormal.refresh(engine, access.SYSTEM, settings)
    listed = abnormal.ranked(engine, access.SYSTEM, args.top, settings)
    rows = [
        {
            "customer_id": str(row.customer_id),
            "score": round(float(row.score), 4),
            "revenue_at_risk_cny": round(float(row.revenue_at_risk_cny or 0.0), 2),
            "reasons": reasons.texts(row.reasons, language),
        }
        for row in listed.itertuples(index=False)
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    print(
        f"{summary.customers:,} customers scored on readings to {summary.scored_on} "
        f"({summary.flagged:,} with a rule holding) in {summary.seconds:.1f} s"
    )
    for rank, row in enumerate(rows, start=1):
        first = row["reasons"][0] if row["reasons"] else ""
        print(
            f"{rank:>4}  {row['customer_id']}  {row['score']:.2f}  "
            f"{row['revenue_at_risk_cny']:>12,.2f} CNY/month  {first}"
        )
    return 0


def _command_models(engine) -> int:
    for summary in models.train_and_score(engine, models.KINDS, access.SYSTEM):
        print(
            f"{summary.kind:<10} {summary.model_version}  holdout AUC {summary.auc:.3f}  "
            f"Brier {summary.brier:.3f}  {summary.customers:,} customers scored "
            f"in {summary.seconds:.1f} s"
        )
    return 0
