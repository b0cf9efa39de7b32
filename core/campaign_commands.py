"""``python -m core evaluate-campaign``: a members file's campaigns evaluated from the shell.

``--members FILE`` alone evaluates the file on its own: its customers need not be in any store.
With ``--database-url`` the customers must be the store's, and the pre-campaign balance, the
effect of energy offers on use and the breakdown by the store's segments are added.
"""

import argparse
import json
import math
import sys

from core import access, i18n
from core.ingest import FileRejected, reasons


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Adds ``evaluate-campaign`` to the command line's subcommands."""
    parser = commands.add_parser(
        "evaluate-campaign", help="evaluate campaigns from a members file (lift, significance)"
    )
    parser.add_argument(
        "--members",
        required=True,
        help="CSV, Excel or Parquet: campaign_id, customer_id, arm, contacted_at, responded_at, "
        "converted_at, value_cny[, channel, segment, cost_cny, planned_share]",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="a store whose customers the members are: adds balance, energy effects, segments "
        "(without it the file is evaluated on its own)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    parser.set_defaults(handler=command)


def _clean(value: object) -> object:
    """JSON without NaN: a figure that cannot be computed is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value


def _language() -> str:
    from core import config

    language = config.setting("WORKBENCH_LANGUAGE")
    return language if language in config.LANGUAGES else "en"


def _rejected(error: FileRejected, as_json: bool, language: str) -> int:
    problems = error.problems
    if as_json:
        listed = [
            {
                "row": int(row.row_number),
                "column": row.column_name,
                "value": row.value,
                "reason_code": row.reason_code,
                "reason": reasons.text(row.reason_code, row.reason_values, language),
            }
            for row in problems.itertuples(index=False)
        ]
        print(json.dumps({"rejected": listed}, ensure_ascii=False, indent=2))
    print(f"error: {error.text(language)}", file=sys.stderr)
    return 1


def command(args: argparse.Namespace) -> int:
    """Runs ``evaluate-campaign``; exit code 1 when the file is refused, 2 for other errors."""
    # Imported when run: statsmodels is not needed by the other commands.
    from core.campaigns import Design, members, report

    language = _language()
    if args.database_url is None:
        try:
            given = members.read_members(args.members)
        except FileRejected as error:
            return _rejected(error, args.json, language)
        designs = {key: Design(planned_shares=value) for key, value in given.planned_shares.items()}
        results = report.report(given.members, designs)
    else:
        from core.store import engine as store_engine

        engine = store_engine.connect(args.database_url)
        try:
            store_engine.check_schema(engine)
            with engine.connect() as conn:
                try:
                    given = members.read_members(args.members, conn=conn, viewer=access.SYSTEM)
                except FileRejected as error:
                    return _rejected(error, args.json, language)
                ids = sorted(set(given.members["campaign_id"].astype(str)))
                designs = members.designs(conn, ids)
                for campaign_id, shares in given.planned_shares.items():
                    stored = designs.get(campaign_id, Design())
                    designs[campaign_id] = Design(
                        shares, stored.cost_per_contact, stored.default_cost_per_contact
                    )
                results = report.report(given.members, designs, conn)
        finally:
            engine.dispose()
    for result in results:
        for notice in result.evaluation.notices:
            print(notice.text(language), file=sys.stderr)
    if args.json:
        shape = {"campaigns": [result.as_json() for result in results]}
        print(json.dumps(_clean(shape), ensure_ascii=False, indent=2, default=str))
        return 0
    for result in results:
        print(_summary(result, language))
    return 0


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def _p(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def _summary(result, language: str) -> str:
    """A few lines per campaign for the terminal."""
    evaluation = result.evaluation

    def t(key: str, **values: object) -> str:
        return i18n.translate(f"campaigns.cli.{key}", language, **values)

    lines = [
        t("campaign", campaign_id=evaluation.campaign_id, srm=_p(evaluation.sample_ratio.p_value))
    ]
    for comparison in evaluation.comparisons:
        conversion = comparison.conversion
        interval = conversion.abs_lift_ci
        lines.append(
            t(
                "arm",
                arm=comparison.arm,
                treatment=_percent(conversion.treatment_rate),
                control=_percent(conversion.control_rate),
                lift=_percent(conversion.abs_lift),
                low=_percent(interval[0] if interval else None),
                high=_percent(interval[1] if interval else None),
                p_value="–"
                if conversion.p_value_adjusted is None
                else f"{conversion.p_value_adjusted:.3g}",
            )
        )
    return "\n".join(lines)
