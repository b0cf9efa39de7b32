"""``python -m core ...``: batch work from the command line.

Each command is a ``_command_*`` function taking the parsed arguments and returning the exit code;
errors a user can fix are printed in one line, never as a traceback.
"""

import argparse
import sys

from core import config


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

    return parser


def _command_demo(args: argparse.Namespace) -> int:
    from core import demo
    from core.store import engine as store_engine

    url = args.database_url or config.database_url()
    engine = store_engine.connect(url)
    if args.if_missing and store_engine.has_data(engine):
        print(f"Store already has data: {store_engine.describe(url)}")
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
    return 0


def main(argv: list[str] | None = None) -> int:
    """Runs one command and returns its exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
