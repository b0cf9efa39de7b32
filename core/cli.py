"""``python -m core ...``: batch work from the command line.

Each command is a ``_command_*`` function taking the parsed arguments and returning the exit code;
errors a user can fix are printed in one line, never as a traceback.
"""

import argparse
import sys

import sqlalchemy as sa

from core import campaign_commands, config
from core.forecast import cli as forecast_cli
from core.spark import cli as spark_cli


def _add_database_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=None,
        help="store URL (default: DATABASE_URL, else the embedded DuckDB file under data/)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command."""
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="build the synthetic demo utility into the store")
    demo.add_argument("--customers", type=int, default=3000)
    demo.add_argument("--years", type=int, default=2)
    demo.add_argument("--seed", type=int, default=20240101)
    demo.add_argument(
        "--if-missing", action="store_true", help="do nothing when the store already has data"
    )
    _add_database_url(demo)
    demo.set_defaults(handler=_command_demo)

    migrate = commands.add_parser(
        "migrate", help="bring the store's schema up to date (creates it in an empty store)"
    )
    _add_database_url(migrate)
    migrate.set_defaults(handler=_command_migrate)

    users = commands.add_parser("users", help="accounts: demo accounts, the first administrator")
    users_action = users.add_mutually_exclusive_group(required=True)
    users_action.add_argument(
        "--demo", action="store_true", help="create one demo account per role (demo stores)"
    )
    users_action.add_argument(
        "--create-admin",
        metavar="NAME",
        help="create an administrator; password from WORKBENCH_ADMIN_PASSWORD or a prompt",
    )
    users_action.add_argument("--list", action="store_true", help="list the accounts")
    _add_database_url(users)
    users.set_defaults(handler=_command_users)

    bill = commands.add_parser("bill", help="price a customer's readings under a tariff")
    bill.add_argument("--tariff", required=True, help="tariff code from the catalog")
    bill.add_argument("--readings", required=True, help="CSV, Excel or Parquet: ts, kwh[, kvarh]")
    bill.add_argument("--capacity-kva", type=float, default=None, help="contract capacity")
    bill.add_argument("--basic-basis", choices=("capacity", "demand"), default=None)
    bill.add_argument("--declared-demand-kw", type=float, default=None)
    bill.add_argument("--catalog", default=None, help="tariff catalog (default data/tariffs.toml)")
    bill.add_argument("--json", action="store_true", help="print the breakdown as JSON")
    bill.set_defaults(handler=_command_bill)

    load = commands.add_parser("import", help="import a CSV, Excel or Parquet file into a table")
    load.add_argument("--table", required=True, help="target table, e.g. customers or readings")
    load.add_argument("file", help="the file to import")
    load.add_argument(
        "--source-system", default=None, help="system the ids come from (resolved via id_map)"
    )
    load.add_argument(
        "--replace-range",
        action="store_true",
        help="readings, weather: also delete the stored rows of each series' time range that "
        "the file does not carry (says how many and asks first)",
    )
    load.add_argument(
        "--yes", action="store_true", help="with --replace-range: remove them without asking"
    )
    _add_database_url(load)
    load.set_defaults(handler=_command_import)

    refresh = commands.add_parser(
        "refresh", help="recompute every customer's features (after an import)"
    )
    _add_database_url(refresh)
    refresh.set_defaults(handler=_command_refresh)

    briefs = commands.add_parser(
        "visit-briefs", help="write one visit brief PDF per customer of a customer manager"
    )
    briefs.add_argument("--manager", required=True, help="the customer manager's id")
    briefs.add_argument("--out", required=True, help="folder for the PDF files")
    briefs.add_argument("--language", choices=config.LANGUAGES, default=config.default_language())
    _add_database_url(briefs)
    briefs.set_defaults(handler=_command_visit_briefs)

    forecast_cli.add_commands(commands, _add_database_url)
    from core.segments import cli as segment_commands

    segment_commands.add_commands(commands, _add_database_url)
    campaign_commands.add_commands(commands)
    spark_cli.add_commands(commands, _add_database_url)
    from core.risk import cli as risk_cli

    risk_cli.add_commands(commands, _add_database_url, _current_store, _language)
    return parser


def _language() -> str:
    # English unless WORKBENCH_LANGUAGE asks for another language of the workbench.
    language = config.setting("WORKBENCH_LANGUAGE")
    return language if language in config.LANGUAGES else "en"


def _command_migrate(args: argparse.Namespace) -> int:
    from core import i18n
    from core.store import engine as store_engine

    url = args.database_url or config.database_url()
    engine = store_engine.connect(url)
    previous, current = store_engine.migrate(engine)
    store = store_engine.describe(url)
    if previous == current:
        print(i18n.translate("store.migrated", _language(), store=store, revision=current))
    else:
        print(
            i18n.translate(
                "store.migrated_from",
                _language(),
                store=store,
                previous=previous or "—",
                revision=current,
            )
        )
    return 0


def _current_store(args: argparse.Namespace) -> sa.Engine:
    """The engine of the store a command works on, once its schema is known to be current."""
    from core.store import engine as store_engine

    engine = store_engine.connect(args.database_url or config.database_url())
    store_engine.check_schema(engine)
    return engine


def _command_refresh(args: argparse.Namespace) -> int:
    from core import access, features
    from core.store import engine as store_engine

    url = args.database_url or config.database_url()
    engine = _current_store(args)
    if not store_engine.has_data(engine):
        print(f"No customers in {store_engine.describe(url)}: import or build the demo first")
        return 2

    def report(step: str, fraction: float) -> None:
        print(f"  {fraction:4.0%} {step}", flush=True)

    summary = features.refresh(engine, access.SYSTEM, report)
    print(
        f"Features of {summary.customers:,} customers refreshed "
        f"({summary.period_start} to {summary.period_end}) in {summary.seconds:.1f} s"
    )
    return 0


def _command_visit_briefs(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core import access, visit_brief

    engine = _current_store(args)
    font = visit_brief.find_font()
    if not font.cjk:
        print("No CJK font found (make installs fonts-wqy-microhei): briefs are in English")

    def report(done: int, total: int) -> None:
        print(f"\r  {done}/{total} briefs", end="", flush=True)

    written = visit_brief.write_batch(
        engine, access.SYSTEM, args.manager, Path(args.out), args.language, report
    )
    print(f"\n{len(written)} visit briefs written to {args.out}")
    return 0


def _command_import(args: argparse.Namespace) -> int:
    engine = _current_store(args)
    try:
        return _import_into(engine, args)
    finally:
        engine.dispose()


def _import_into(engine: sa.Engine, args: argparse.Namespace) -> int:
    from core import i18n, ingest

    language = _language()

    def progress(rows: int, share: float) -> None:
        print(f"\r{args.table}: {rows:,} rows read ({share:.0%})", end="", file=sys.stderr)

    options = {"source_system": args.source_system, "progress": progress}
    confirmed = None
    if args.replace_range:
        check = ingest.import_file(
            engine, args.table, args.file, replace_range=True, dry_run=True, **options
        )
        print(file=sys.stderr)
        print(check.describe(language))
        confirmed = check.rows_removed
        if confirmed and not args.yes:
            if not sys.stdin.isatty():
                print(i18n.translate("ingest.cli.confirm_with_yes", language), file=sys.stderr)
                return 2
            answer = input(i18n.translate("ingest.cli.ask_removal", language, removed=confirmed))
            if answer.strip().lower() not in ("y", "yes", "是"):
                print(i18n.translate("ingest.cli.nothing_changed", language))
                return 0
    result = ingest.import_file(
        engine,
        args.table,
        args.file,
        replace_range=args.replace_range,
        confirm_removals=confirmed,
        **options,
    )
    print(file=sys.stderr)
    print(result.describe(language))
    # Rejected rows make the exit code non-zero so batch jobs notice them.
    return 1 if result.rows_rejected else 0


def _command_bill(args: argparse.Namespace) -> int:
    import json

    from core import ingest, tariffs

    catalog = tariffs.load_catalog(args.catalog)
    if args.tariff not in catalog:
        print(f"tariff {args.tariff} is not in the catalog: {', '.join(catalog)}", file=sys.stderr)
        return 2
    tariff = catalog[args.tariff]
    readings = ingest.read_readings(args.readings, capacity_kva=args.capacity_kva)
    bills = tariffs.bill(
        readings,
        tariff,
        args.capacity_kva,
        basic_basis=args.basic_basis,
        declared_demand_kw=args.declared_demand_kw,
        source=args.readings,
    )
    breakdown = tariffs.bill_breakdown(bills, tariff)
    if args.json:
        print(json.dumps(breakdown, ensure_ascii=False, indent=2))
        return 0
    print(f"{tariff.code} {tariff.name}")
    for month in breakdown["months"]:
        kwh, total = month["kwh_total"], month["total_cny"]
        print(f"{month['period']}  {kwh:>14,.2f} kWh  {total:>14,.2f} CNY")
    print(f"total {breakdown['total_cny']:,.2f} CNY")
    return 0


def _command_demo(args: argparse.Namespace) -> int:
    from core import demo
    from core.store import engine as store_engine

    url = args.database_url or config.database_url()
    engine = store_engine.connect(url)
    if args.if_missing and store_engine.has_data(engine):
        print(f"Store already has data: {store_engine.describe(url)}")
        _print_demo_accounts(engine, only_without_users=True)
        return 0
    if args.customers < 1 or args.years < 1:
        print("--customers and --years must be at least 1", file=sys.stderr)
        return 2
    summary = demo.generate(
        engine,
        customers=args.customers,
        years=args.years,
        seed=args.seed,
        progress=demo.print_progress,
    )
    print(summary.describe())
    from core import access, features

    refreshed = features.refresh(engine, access.SYSTEM)
    print(f"Features of {refreshed.customers:,} customers computed in {refreshed.seconds:.1f} s")
    _print_demo_accounts(engine)
    return 0


def _print_demo_accounts(engine: sa.Engine, *, only_without_users: bool = False) -> None:
    """Creates the demo accounts on a demo store; never on a store of real data."""
    from core import access
    from core.demo import accounts as demo_accounts
    from core.demo import truth
    from core.store import engine as store_engine

    store_engine.check_schema(engine)
    with engine.begin() as conn:
        if only_without_users and (access.has_users(conn) or not truth.is_demo_store(conn)):
            return
        accounts = demo_accounts.create_demo_accounts(conn)
    names = ", ".join(account.user_name for account in accounts)
    print(f"Demo accounts (password {demo_accounts.DEMO_PASSWORD}): {names}")


def _command_users(args: argparse.Namespace) -> int:
    import getpass
    import os

    from core import access
    from core.store import engine as store_engine

    url = args.database_url or config.database_url()
    engine = _current_store(args)
    if args.demo:
        _print_demo_accounts(engine)
        return 0
    if args.list:
        with engine.connect() as conn:
            accounts = access.users(conn, access.SYSTEM)
        print(accounts.to_string(index=False) if len(accounts) else "No accounts.")
        return 0
    password = os.environ.get("WORKBENCH_ADMIN_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            print("Set WORKBENCH_ADMIN_PASSWORD or run in a terminal to type it", file=sys.stderr)
            return 2
        password = getpass.getpass(f"Password for {args.create_admin}: ")
        if getpass.getpass("Repeat it: ") != password:
            print("The two passwords differ; nothing was created", file=sys.stderr)
            return 2
    with engine.begin() as conn:
        access.create_administrator(conn, args.create_admin, password)
    print(f"Administrator {args.create_admin} created in {store_engine.describe(url)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Runs one command and returns its exit code."""
    from core import errors
    from core.store import engine as store_engine

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except errors.UserError as error:
        print(f"error: {error.text(_language())}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except sa.exc.OperationalError as error:
        # Typically an embedded store held open by the running app, or a server that is down.
        url = getattr(args, "database_url", None) or config.database_url()
        explained = store_engine.unavailable(error, url)
        message = explained.text(_language()) if explained else f"the store failed: {error.orig}"
        print(f"error: {message}", file=sys.stderr)
        return 2
