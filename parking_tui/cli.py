"""The ``parking-tui`` command. Errors print one line to stderr and exit non-zero - never a traceback."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__, default_db_path, open_service
from .domain.errors import ParkingError


def _db(args: argparse.Namespace) -> Path:
    return Path(args.db) if args.db else default_db_path()


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="data file (default: $PARKING_TUI_DB or data/parking.json under the working directory)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parking-tui",
        description="Terminal-first parking slot allocation. With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"parking-tui {__version__}")
    _add_db(parser)
    parser.add_argument("--demo", action="store_true", help="create the demo data if missing and show the demo accounts")
    parser.add_argument("--kiosk", action="store_true", help="kiosk mode for a terminal at the lot entrance")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="open the app (the default)", description="Open the app.")
    _add_db(run)
    run.add_argument("--demo", action="store_true", default=argparse.SUPPRESS, help="create and show the demo data")
    run.add_argument("--kiosk", action="store_true", default=argparse.SUPPRESS, help="kiosk mode")

    demo = sub.add_parser(
        "demo-data",
        help="create the demo lots, users and bookings (idempotent)",
        description="Create what is missing of the demo data: 3 lots, ~120 slots, users admin/admin1234 "
        "(admin) and driver/driver1234, and a few bookings around now.",
    )
    _add_db(demo)

    admin = sub.add_parser("admin", help="local operator tools", description="Local operator tools.")
    admin_sub = admin.add_subparsers(dest="admin_command", metavar="ACTION", required=True)
    create = admin_sub.add_parser(
        "create",
        help="create an admin account",
        description="Create an admin account. The password is read from a prompt, or from "
        "$PARKING_TUI_ADMIN_PASSWORD for scripts.",
    )
    create.add_argument("username")
    create.add_argument("--email", required=True)
    _add_db(create)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "db"):
        args.db = None
    try:
        if args.command == "demo-data":
            return _demo_data(args)
        if args.command == "admin":
            return _admin_create(args)
        return _run(args)
    except ParkingError as exc:
        print(f"parking-tui: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("parking-tui: interrupted", file=sys.stderr)
        return 130


def _demo_data(args: argparse.Namespace) -> int:
    from .demo import ensure_demo_data

    svc = open_service(_db(args))
    made = ensure_demo_data(svc)
    where = svc.store.path
    if made:
        print(f"Demo data written to {where}: " + ", ".join(made) + ".")
    else:
        print(f"Demo data already present in {where}.")
    print("Accounts: admin / admin1234 (lot manager), driver / driver1234 (driver).")
    return 0


def _admin_create(args: argparse.Namespace) -> int:
    password = os.environ.get("PARKING_TUI_ADMIN_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            print(
                "parking-tui: no terminal to ask for the password; set PARKING_TUI_ADMIN_PASSWORD.",
                file=sys.stderr,
            )
            return 2
        password = getpass.getpass("Password for the new admin: ")
        if getpass.getpass("Repeat it: ") != password:
            print("parking-tui: the passwords differ; nothing was created.", file=sys.stderr)
            return 1
    svc = open_service(_db(args))
    user = svc.create_admin(args.username, args.email, password)
    print(f"Admin {user.username} created in {svc.store.path}.")
    return 0


def _run(args: argparse.Namespace) -> int:
    svc = open_service(_db(args))
    if getattr(args, "demo", False):
        from .demo import ensure_demo_data

        ensure_demo_data(svc)
    try:
        from .tui.app import run_app
    except ImportError:
        print(
            f"The data file is ready at {svc.store.path}. The terminal app is not part of this build yet; "
            "use `python -m parking_tui --help` for the commands that are.",
        )
        return 0
    return run_app(svc, demo=getattr(args, "demo", False), kiosk=getattr(args, "kiosk", False))
