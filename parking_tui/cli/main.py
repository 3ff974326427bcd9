"""The ``parking-tui`` command. Errors print one line to stderr and exit non-zero - never a traceback.

Settings come from the config file (``config.py``), then ``PARKING_TUI_*`` environment variables,
then the flags here: a flag wins.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shlex
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING
from dataclasses import replace
from pathlib import Path

from .. import __version__, default_db_path, open_service
from ..domain.errors import ParkingError
from . import db, ops
from .config import (
    Config,
    ConfigError,
    config_path,
    db_target,
    parse_file_mode,
    parse_idle,
    parse_max_sessions,
    parse_port,
    parse_workers,
)
from .config import load as load_config

if TYPE_CHECKING:
    from ..domain.service import ParkingService

#: The browser demo's default port (``serve``); the HTTP API (``api``) has 8000, as in the seed.
SERVE_PORT = 8001


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        metavar="PATH|URL",
        default=argparse.SUPPRESS,
        help="data file, or a PostgreSQL database as postgresql://user@host/dbname (default: db in the config "
        "file, $PARKING_TUI_DB, or data/parking.json under the working directory)",
    )
    p.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="config file (default: $PARKING_TUI_CONFIG or the one `parking-tui config path` prints)",
    )
    p.add_argument(
        "--file-mode",
        metavar="MODE",
        default=argparse.SUPPRESS,
        help="permissions of the data files it creates, in octal (default 600; 660 to share with the group)",
    )
    p.add_argument(
        "--terminal",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help="name of this terminal in the audit log (e.g. entrance-1)",
    )


def _add_app_options(p: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = {"default": argparse.SUPPRESS} if suppress else {}
    p.add_argument(
        "--demo", action="store_true", help="create the demo data if missing and show the demo accounts", **default
    )
    p.add_argument("--kiosk", action="store_true", help="kiosk mode for a terminal at the lot entrance", **default)
    p.add_argument(
        "--idle",
        metavar="SECONDS",
        default=argparse.SUPPRESS,
        help="kiosk: sign out and clear the screen after this long without a key press (default 60)",
    )
    p.add_argument("--theme", metavar="NAME", default=argparse.SUPPRESS, help="colour theme (e.g. textual-dark)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parking-tui",
        description="Terminal-first parking slot allocation. With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"parking-tui {__version__}")
    _add_db(parser)
    _add_app_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="open the app (the default)", description="Open the app.")
    _add_db(run)
    _add_app_options(run, suppress=True)

    serve = sub.add_parser(
        "serve",
        help="serve the app to a web browser (needs the 'serve' extra)",
        description="Serve the app to web browsers with textual-serve: each browser tab runs its own "
        "session on the same data file. Install with: pip install 'parking-tui[serve]'.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=SERVE_PORT, help=f"port to listen on (default {SERVE_PORT}; the HTTP API has 8000)"
    )
    serve.add_argument(
        "--public-url",
        metavar="URL",
        default=None,
        help="the address browsers use, when it differs from http://HOST:PORT (behind a proxy)",
    )
    serve.add_argument(
        "--allow-origin",
        metavar="ORIGIN",
        action="append",
        default=None,
        help="also accept sessions from pages of this origin (e.g. https://parking.example.com behind a proxy); "
        "repeat for more. Without it only the served address itself may open sessions",
    )
    serve.add_argument(
        "--max-sessions",
        metavar="N",
        default=None,
        help="browser sessions at once (default: serve.max_sessions in the config file, else 20)",
    )
    _add_db(serve)
    _add_app_options(serve, suppress=True)

    api = sub.add_parser(
        "api",
        help="serve the HTTP API (needs the 'api' extra)",
        description="Serve the seed's HTTP API at http://HOST:PORT/api/ on the same data as the app "
        "(docs at /api/docs/, the OpenAPI document at /api/schema/). Install with: pip install 'parking-tui[api]'. "
        "Defaults come from the config file's [api] table (host, port, workers, cors_origins).",
    )
    api.add_argument("--host", default=argparse.SUPPRESS, help="address to listen on (default 127.0.0.1)")
    api.add_argument("--port", default=argparse.SUPPRESS, help="port to listen on (default 8000)")
    api.add_argument(
        "--workers",
        metavar="N",
        default=argparse.SUPPRESS,
        help="processes serving the same data (default 1)",
    )
    api.add_argument("--access-log", action="store_true", help="print a line for every request")
    _add_db(api)

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

    config = sub.add_parser("config", help="the config file", description="The config file (TOML).")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    path = config_sub.add_parser(
        "path",
        help="print where the config file is read from",
        description="Print the config file's path ($PARKING_TUI_CONFIG, or the per-user config folder).",
    )
    path.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    show = config_sub.add_parser(
        "show",
        help="print the settings in effect (file, environment and flags together)",
        description="Check the config file and print the settings in effect.",
    )
    _add_db(show)
    _add_app_options(show, suppress=True)

    ops.add_commands(sub, _add_db)
    db.add_commands(sub, _add_db)
    return parser


# --------------------------------------------------------------------------------------------- settings


def settings(args: argparse.Namespace) -> Config:
    """The config file and environment, with the flags laid on top."""
    cfg = load_config(getattr(args, "config", None))
    changes: dict[str, object] = {}
    if getattr(args, "db", None):
        changes["db"] = db_target(args.db)
    if getattr(args, "kiosk", False):
        changes["kiosk"] = True
    if getattr(args, "idle", None) is not None:
        changes["idle_seconds"] = parse_idle(args.idle, "--idle")
    if getattr(args, "theme", None):
        changes["theme"] = args.theme
    if getattr(args, "terminal", None):
        changes["terminal"] = args.terminal
    if getattr(args, "file_mode", None) is not None:
        changes["file_mode"] = parse_file_mode(args.file_mode, "--file-mode")
    if args.command == "api":
        if getattr(args, "host", None):
            changes["api_host"] = args.host
        if getattr(args, "port", None) is not None:
            changes["api_port"] = parse_port(args.port, "--port")
        if getattr(args, "workers", None) is not None:
            changes["api_workers"] = parse_workers(args.workers, "--workers")
    cfg = replace(cfg, **changes)  # type: ignore[arg-type]
    if not cfg.terminal and os.environ.get("SSH_CONNECTION"):
        # An attendant over SSH: name the client's address in the audit log.
        cfg = replace(cfg, terminal="ssh:" + os.environ["SSH_CONNECTION"].split()[0])
    return cfg


def _db(cfg: Config) -> Path | str:
    return cfg.db if cfg.db is not None else default_db_path()


def _open(cfg: Config):
    # The store gives its files and folders exactly the configured mode; the process umask is left alone.
    return open_service(_db(cfg), **cfg.service_options())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "config":
            return _config(args)
        cfg = settings(args)
        if args.command == "demo-data":
            return _demo_data(cfg)
        if args.command == "admin":
            return _admin_create(args, cfg)
        if args.command == "serve":
            return _serve(args, cfg)
        if args.command == "api":
            return _api(args, cfg)
        if args.command in ("export", "import"):
            return db.transfer(args, _db(cfg), cfg.service_options())
        if args.command == "db":
            return db.dispatch(args, _db(cfg), lambda target: _open(replace(cfg, db=target)))
        if args.command in ops.OPS:
            return ops.dispatch(args, _db(cfg), cfg.file_mode)
        return _run(args, cfg)
    except ConfigError as exc:
        print(f"parking-tui: {exc}", file=sys.stderr)
        return 2
    except ParkingError as exc:
        print(f"parking-tui: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("parking-tui: interrupted", file=sys.stderr)
        return 130


def _config(args: argparse.Namespace) -> int:
    if args.config_command == "path":
        print(config_path(getattr(args, "config", None)))
        return 0
    cfg = settings(args)
    _check_theme(cfg)
    print(f"config file: {cfg.source or str(config_path(getattr(args, 'config', None))) + ' (not present)'}")
    print(f"db: {_db(cfg)}")
    print(f"kiosk: {'on' if cfg.kiosk else 'off'}, idle_seconds: {cfg.idle_seconds:g}")
    print(f"theme: {cfg.theme or '(default)'}")
    print(f"terminal: {cfg.terminal or '(default)'}")
    print(f"file_mode: {oct(cfg.file_mode) if cfg.file_mode is not None else '(default, 0o600)'}")
    print(f"lock_timeout: {f'{cfg.lock_timeout:g} s' if cfg.lock_timeout is not None else '(default)'}")
    origins = ", ".join(cfg.api_cors_origins) or "(none: CORS off)"
    print(f"api: {cfg.api_host}:{cfg.api_port}, workers: {cfg.api_workers}, cors_origins: {origins}")
    for binding_id, keys in sorted(cfg.keys.items()):
        print(f"keys.{binding_id}: {keys}")
    return 0


def _demo_data(cfg: Config) -> int:
    from .demo import ensure_demo_data

    svc = _open(cfg)
    made = ensure_demo_data(svc)
    where = svc.store.describe()
    if made:
        print(f"Demo data written to {where}: " + ", ".join(made) + ".")
    else:
        print(f"Demo data already present in {where}.")
    print("Accounts: admin / admin1234 (lot manager), driver / driver1234 (driver).")
    return 0


def _admin_create(args: argparse.Namespace, cfg: Config) -> int:
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
    svc = _open(cfg)
    user = svc.create_admin(args.username, args.email, password)
    print(f"Admin {user.username} created in {svc.store.describe()}.")
    return 0


def _check_theme(cfg: Config) -> None:
    """A theme the app does not have is a bad setting (exit status 2), found before anything is opened."""
    if cfg.theme:
        try:
            from ..tui.app import theme_problem
        except ImportError:
            return
        problem = theme_problem(cfg.theme)
        if problem:
            raise ConfigError(problem)


def _run(args: argparse.Namespace, cfg: Config) -> int:
    _check_theme(cfg)
    demo = bool(getattr(args, "demo", False))

    def opener() -> ParkingService:
        svc = _open(cfg)
        if demo:
            from .demo import ensure_demo_data

            ensure_demo_data(svc)
        return svc

    try:
        from ..tui.app import run_app
    except ImportError:
        print(
            f"The data file is ready at {opener().store.describe()}. The terminal app is not part of this build "
            "yet; use `python -m parking_tui --help` for the commands that are.",
        )
        return 0
    if sys.stdin.isatty() and sys.stdout.isatty():
        # In a terminal the sign-in screen is up at once and the store opens behind it (a failure to open is
        # shown on the storage-failure screen); with no terminal to show it on, it is opened first, so a bad
        # store is one line on stderr as for every other command.
        svc, later = None, opener
    else:
        svc, later = opener(), None
    return run_app(
        svc,
        opener=later,
        demo=demo,
        kiosk=cfg.kiosk,
        idle_timeout=cfg.idle_seconds,
        theme=cfg.theme,
        keymap=cfg.keys,
        export_dir=cfg.export_dir,
    )


def _api(args: argparse.Namespace, cfg: Config) -> int:
    try:
        from ..api.server import ApiSettings, serve
    except ImportError:
        print(
            "parking-tui: the HTTP API needs FastAPI and uvicorn; install them with pip install 'parking-tui[api]'.",
            file=sys.stderr,
        )
        return 2
    options = cfg.service_options()
    options.setdefault("terminal", "api")
    target = str(_db(cfg))
    settings = ApiSettings(
        db=target if "://" in target else str(Path(target).absolute()),
        host=cfg.api_host,
        port=cfg.api_port,
        workers=cfg.api_workers,
        cors_origins=cfg.api_cors_origins,
        access_log=bool(getattr(args, "access_log", False)),
        service_options=options,
    )
    return serve(settings)


def serve_command(args: argparse.Namespace, cfg: Config) -> str:
    """The shell command each browser session runs: this program, on the same settings."""
    cmd = [sys.executable, "-m", "parking_tui"]
    if getattr(args, "config", None):
        cmd += ["--config", str(args.config)]
    cmd += ["--db", str(Path(_db(cfg)).absolute())]
    if cfg.file_mode is not None:
        cmd += ["--file-mode", oct(cfg.file_mode)[2:]]
    cmd += ["--terminal", cfg.terminal or "web"]
    if cfg.kiosk:
        cmd += ["--kiosk", "--idle", f"{cfg.idle_seconds:g}"]
    if cfg.theme:
        cmd += ["--theme", cfg.theme]
    if getattr(args, "demo", False):
        cmd.append("--demo")
    return shlex.join(cmd)


def _serve(args: argparse.Namespace, cfg: Config) -> int:
    try:
        from textual_serve.server import Server  # noqa: F401 - only to say what is missing
    except ImportError:
        print(
            "parking-tui: serving to a browser needs textual-serve; install it with "
            "pip install 'parking-tui[serve]' (or pip install textual-serve).",
            file=sys.stderr,
        )
        return 2
    _check_theme(cfg)
    svc = _open(cfg)  # fail here, once, with one line, if the data file is unusable
    if getattr(args, "demo", False):
        from .demo import ensure_demo_data

        ensure_demo_data(svc)
    from .serve import ParkingServer

    max_sessions = cfg.serve_max_sessions
    if getattr(args, "max_sessions", None) is not None:
        max_sessions = parse_max_sessions(args.max_sessions, "--max-sessions")
    server = ParkingServer(
        serve_command(args, cfg),
        host=args.host,
        port=args.port,
        title="parking-tui",
        public_url=args.public_url,
        allow_origins=[*cfg.serve_allow_origins, *(getattr(args, "allow_origin", None) or [])],
        max_sessions=max_sessions,
        idle_seconds=cfg.serve_idle_seconds,
    )
    server.serve()
    return 0
