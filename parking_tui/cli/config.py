"""The config file (TOML) and the environment: what the ``parking-tui`` command starts with.

Precedence, lowest first: built-in defaults, the config file, environment variables, command-line flags.
The file lives where ``platformdirs`` puts per-user config (``parking-tui config path`` prints it); the
environment variable ``PARKING_TUI_CONFIG`` or the flag ``--config`` names another one.

This module never imports textual: it is read before the app is built, and a bad file stops the command with
one line (``ConfigError``), never a traceback.

Example::

    db = "/srv/parking/parking.json"   # the data file
    theme = "textual-dark"
    terminal = "entrance-1"            # names this terminal in the audit log
    time_zone = "Europe/Berlin"        # the zone new lots get (default: this machine's)
    file_mode = 0o660                  # data files readable and writable by the group
    export_dir = "~/parking-exports"   # where Admin's CSV export offers to write (default: working directory)

    [kiosk]
    enabled = true
    idle_seconds = 60

    [keys]                             # binding id = keys (comma-separated for several)
    my_bookings = "b,f2"

    [api]                              # `parking-tui api`, the HTTP API
    host = "127.0.0.1"
    port = 8000
    workers = 1
    cors_origins = []                  # browser origins allowed to call it (none: CORS off)
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

APP_NAME = "parking-tui"
MAX_CONFIG_BYTES = 1 << 20
CONFIG_NAME = "config.toml"
DEFAULT_IDLE_SECONDS = 60.0
#: The shortest idle time accepted: a kiosk that logs out while a driver is still reading is useless.
MIN_IDLE_SECONDS = 5.0

TOP_KEYS = {
    "db", "theme", "terminal", "file_mode", "lock_timeout", "time_zone", "kiosk", "keys", "api", "export_dir", "serve"
}
KIOSK_KEYS = {"enabled", "idle_seconds"}
API_KEYS = {"host", "port", "workers", "cors_origins"}
SERVE_KEYS = {"max_sessions", "idle_seconds", "allow_origins"}
DEFAULT_API_HOST = "127.0.0.1"
DEFAULT_API_PORT = 8000

ENV_CONFIG = "PARKING_TUI_CONFIG"
ENV_DB = "PARKING_TUI_DB"
ENV_KIOSK = "PARKING_TUI_KIOSK"
ENV_IDLE = "PARKING_TUI_IDLE_SECONDS"
ENV_THEME = "PARKING_TUI_THEME"
ENV_TERMINAL = "PARKING_TUI_TERMINAL"
ENV_FILE_MODE = "PARKING_TUI_FILE_MODE"
ENV_LOCK_TIMEOUT = "PARKING_TUI_LOCK_TIMEOUT"
ENV_TIME_ZONE = "PARKING_TUI_TIME_ZONE"


class ConfigError(Exception):
    """The config file or an environment variable holds something unusable. ``str()`` is one line."""


@dataclass(frozen=True)
class Config:
    """What the command runs with. ``None`` means "not set": the built-in default applies."""

    db: Path | str | None = None
    """A data file's path, or a database URL (``postgresql://...``) kept as written."""
    kiosk: bool = False
    idle_seconds: float = DEFAULT_IDLE_SECONDS
    theme: str | None = None
    terminal: str | None = None
    file_mode: int | None = None
    keys: dict[str, str] = field(default_factory=dict)
    #: Seconds a write waits for another process's write before giving up (``None``: the store's default).
    lock_timeout: float | None = None
    #: The IANA zone a new lot gets when none is given (``None``: this machine's zone).
    time_zone: str | None = None
    api_host: str = DEFAULT_API_HOST
    api_port: int = DEFAULT_API_PORT
    api_workers: int = 1
    api_cors_origins: tuple[str, ...] = ()
    #: Where CSV exports are offered (``None``: the working directory).
    export_dir: Path | None = None
    #: ``parking-tui serve``: sessions at once, idle time before a session ends, extra allowed origins.
    serve_max_sessions: int = 20
    serve_idle_seconds: float = 900.0
    serve_allow_origins: tuple[str, ...] = ()
    #: The file it was read from (``None``: no file was read).
    source: Path | None = None

    def service_options(self) -> dict[str, Any]:
        """Keyword arguments for ``open_service`` (only what was set)."""
        options: dict[str, Any] = {}
        if self.file_mode is not None:
            options["file_mode"] = self.file_mode
        if self.terminal:
            options["terminal"] = self.terminal
        if self.lock_timeout is not None:
            options["lock_timeout"] = self.lock_timeout
        if self.time_zone:
            options["time_zone"] = self.time_zone
        return options


def db_target(value: str) -> Path | str:
    """A ``db`` setting: a database URL (``postgresql://...``) stays a string; anything else is a path."""
    if value.startswith(("postgresql://", "postgres://")):
        return value
    return Path(value).expanduser()


def default_config_path() -> Path:
    """The per-user config file, as ``platformdirs`` places it on this system."""
    from platformdirs import user_config_path

    return user_config_path(APP_NAME, appauthor=False) / CONFIG_NAME


def config_path(explicit: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The config file in use: ``explicit`` (``--config``), else ``$PARKING_TUI_CONFIG``, else the default."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit).expanduser()
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG]).expanduser()
    return default_config_path()


# ---------------------------------------------------------------------------------------------- values


def parse_file_mode(value: object, where: str) -> int:
    """``0o660`` (a TOML integer) or ``"660"``/``"0660"``/``"0o660"`` (a string of octal digits)."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: file_mode must be an octal mode such as 0o660 or \"660\".")
    if isinstance(value, int):
        mode = value
    elif isinstance(value, str):
        text = value.strip().lower()
        text = text[2:] if text.startswith("0o") else text
        if not text or any(ch not in "01234567" for ch in text):
            raise ConfigError(f"{where}: file_mode {value!r} is not an octal mode such as \"660\".")
        mode = int(text, 8)
    else:
        raise ConfigError(f"{where}: file_mode must be an octal mode such as 0o660 or \"660\".")
    if mode & ~0o777:
        raise ConfigError(f"{where}: file_mode {oct(mode)} has bits beyond 0o777.")
    if mode & 0o600 != 0o600:
        raise ConfigError(f"{where}: file_mode {oct(mode)} must let the owner read and write (0o600).")
    return mode


def parse_idle(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{where}: the kiosk idle time must be a number of seconds.")
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"{where}: the kiosk idle time {value!r} is not a number of seconds.") from None
    if not seconds >= MIN_IDLE_SECONDS or seconds == float("inf"):
        raise ConfigError(f"{where}: the kiosk idle time must be at least {MIN_IDLE_SECONDS:g} seconds, not {value}.")
    return seconds


def parse_lock_timeout(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{where}: lock_timeout must be a number of seconds.")
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"{where}: lock_timeout {value!r} is not a number of seconds.") from None
    if not 0.05 <= seconds <= 600:
        raise ConfigError(f"{where}: lock_timeout must be between 0.05 and 600 seconds, not {value}.")
    return seconds


def _whole_number(value: object, where: str, what: str, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high`` given as a TOML integer or as text (flags, environment)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"{where}: {what} must be a whole number from {low} to {high}.")
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{where}: {what} {value!r} is not a whole number.") from None
    if not low <= number <= high:
        raise ConfigError(f"{where}: {what} must be from {low} to {high}, not {value}.")
    return number


def parse_port(value: object, where: str) -> int:
    return _whole_number(value, where, "port", 1, 65535)


def parse_workers(value: object, where: str) -> int:
    return _whole_number(value, where, "workers", 1, 64)


def _api(data: object, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: api must be a table ([api] with host, port, workers, cors_origins).")
    bad = sorted(set(data) - API_KEYS)
    if bad:
        raise ConfigError(f"{where}: unknown key 'api.{bad[0]}' (known: {', '.join(sorted(API_KEYS))}).")
    changes: dict[str, Any] = {}
    if "host" in data:
        changes["api_host"] = _text(data["host"], where, "api.host")
    if "port" in data:
        changes["api_port"] = parse_port(data["port"], f"{where}: api.port")
    if "workers" in data:
        changes["api_workers"] = parse_workers(data["workers"], f"{where}: api.workers")
    if "cors_origins" in data:
        origins = data["cors_origins"]
        if not isinstance(origins, list) or not all(isinstance(o, str) and o.strip() for o in origins):
            raise ConfigError(f"{where}: api.cors_origins must be a list of origins like \"https://example.com\".")
        changes["api_cors_origins"] = tuple(o.strip() for o in origins)
    return changes


def parse_max_sessions(value: object, where: str) -> int:
    return _whole_number(value, where, "max_sessions", 1, 1000)


def _serve(data: object, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: serve must be a table ([serve] with max_sessions, idle_seconds, allow_origins).")
    bad = sorted(set(data) - SERVE_KEYS)
    if bad:
        raise ConfigError(f"{where}: unknown key 'serve.{bad[0]}' (known: {', '.join(sorted(SERVE_KEYS))}).")
    changes: dict[str, Any] = {}
    if "max_sessions" in data:
        changes["serve_max_sessions"] = parse_max_sessions(data["max_sessions"], f"{where}: serve")
    if "idle_seconds" in data:
        changes["serve_idle_seconds"] = parse_idle(data["idle_seconds"], f"{where}: serve.idle_seconds")
    if "allow_origins" in data:
        origins = data["allow_origins"]
        if not isinstance(origins, list) or not all(isinstance(o, str) and o.strip() for o in origins):
            raise ConfigError(f"{where}: serve.allow_origins must be a list of origins like \"https://example.com\".")
        changes["serve_allow_origins"] = tuple(o.strip() for o in origins)
    return changes


def parse_bool(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
    raise ConfigError(f"{where}: expected true or false, not {value!r}.")


def parse_time_zone(value: str, where: str) -> str:
    """An IANA zone name this machine knows (``Europe/Berlin``)."""
    from zoneinfo import ZoneInfo

    try:
        if not value or value.startswith("/") or ".." in value:
            raise ValueError
        ZoneInfo(value)
    except Exception:  # ZoneInfoNotFoundError, ValueError
        raise ConfigError(f"{where}: time_zone {value!r} is not an IANA zone like Europe/Berlin.") from None
    return value


def _text(value: object, where: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {name} must be a non-empty string.")
    return value.strip()


# ------------------------------------------------------------------------------------------------ load


def from_mapping(data: Mapping[str, Any], where: str, base: Config | None = None) -> Config:
    """Check a parsed TOML document and lay it over ``base``. Unknown keys are errors (they are typos)."""
    cfg = base or Config()
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(TOP_KEYS))}).")
    changes: dict[str, Any] = {}
    if "db" in data:
        changes["db"] = db_target(_text(data["db"], where, "db"))
    if "theme" in data:
        changes["theme"] = _text(data["theme"], where, "theme")
    if "export_dir" in data:
        changes["export_dir"] = Path(_text(data["export_dir"], where, "export_dir")).expanduser()
    if "terminal" in data:
        changes["terminal"] = _text(data["terminal"], where, "terminal")
    if "file_mode" in data:
        changes["file_mode"] = parse_file_mode(data["file_mode"], where)
    if "lock_timeout" in data:
        changes["lock_timeout"] = parse_lock_timeout(data["lock_timeout"], where)
    if "time_zone" in data:
        changes["time_zone"] = parse_time_zone(_text(data["time_zone"], where, "time_zone"), where)
    if "api" in data:
        changes.update(_api(data["api"], where))
    if "serve" in data:
        changes.update(_serve(data["serve"], where))
    if "kiosk" in data:
        kiosk = data["kiosk"]
        if isinstance(kiosk, bool):
            changes["kiosk"] = kiosk
        elif isinstance(kiosk, dict):
            bad = sorted(set(kiosk) - KIOSK_KEYS)
            if bad:
                raise ConfigError(f"{where}: unknown key 'kiosk.{bad[0]}' (known: enabled, idle_seconds).")
            if "enabled" in kiosk:
                changes["kiosk"] = parse_bool(kiosk["enabled"], f"{where}: kiosk.enabled")
            if "idle_seconds" in kiosk:
                changes["idle_seconds"] = parse_idle(kiosk["idle_seconds"], where)
        else:
            raise ConfigError(f"{where}: kiosk must be a table ([kiosk] with enabled, idle_seconds) or true/false.")
    if "keys" in data:
        keys = data["keys"]
        if not isinstance(keys, dict):
            raise ConfigError(f"{where}: keys must be a table of binding id = \"keys\".")
        for binding_id, keyspec in keys.items():
            if not isinstance(keyspec, str) or not keyspec.strip():
                raise ConfigError(f"{where}: keys.{binding_id} must be a string such as \"ctrl+b\" or \"b,f2\".")
        changes["keys"] = {str(k): v.replace(" ", "") for k, v in keys.items()}
    return replace(cfg, **changes)


def load_file(path: Path, *, required: bool) -> Config:
    """Read ``path``. A missing file is an error only when it was named explicitly (``required``)."""
    try:
        # Non-blocking, so that a FIFO does not hang the start; only a regular file is read, and only so much
        # (``/dev/zero`` or a device would never end).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise ConfigError(f"config file {path} is a directory.")
            if not stat.S_ISREG(st.st_mode):
                raise ConfigError(f"config file {path} is not a regular file.")
            if st.st_size > MAX_CONFIG_BYTES:
                raise ConfigError(f"config file {path} is larger than {MAX_CONFIG_BYTES // 1024} KB.")
            raw = os.read(fd, MAX_CONFIG_BYTES + 1)
        finally:
            os.close(fd)
    except FileNotFoundError:
        if required:
            raise ConfigError(f"config file {path} does not exist.") from None
        return Config()
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory.") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}.") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path}: not UTF-8 text.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML: {exc}.") from None
    return replace(from_mapping(data, f"config file {path}"), source=path)


def from_env(cfg: Config, env: Mapping[str, str]) -> Config:
    """Lay the ``PARKING_TUI_*`` environment variables over ``cfg``."""
    changes: dict[str, Any] = {}
    if env.get(ENV_DB):
        changes["db"] = db_target(env[ENV_DB])
    if env.get(ENV_KIOSK):
        changes["kiosk"] = parse_bool(env[ENV_KIOSK], ENV_KIOSK)
    if env.get(ENV_IDLE):
        changes["idle_seconds"] = parse_idle(env[ENV_IDLE], ENV_IDLE)
    if env.get(ENV_THEME):
        changes["theme"] = env[ENV_THEME].strip()
    if env.get(ENV_TERMINAL):
        changes["terminal"] = env[ENV_TERMINAL].strip()
    if env.get(ENV_FILE_MODE):
        changes["file_mode"] = parse_file_mode(env[ENV_FILE_MODE], ENV_FILE_MODE)
    if env.get(ENV_LOCK_TIMEOUT):
        changes["lock_timeout"] = parse_lock_timeout(env[ENV_LOCK_TIMEOUT], ENV_LOCK_TIMEOUT)
    if env.get(ENV_TIME_ZONE):
        changes["time_zone"] = parse_time_zone(env[ENV_TIME_ZONE].strip(), ENV_TIME_ZONE)
    return replace(cfg, **changes)


def load(explicit: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Defaults, then the config file, then the environment (flags are laid on top by the caller)."""
    env = os.environ if env is None else env
    path = config_path(explicit, env)
    named = bool(explicit) or bool(env.get(ENV_CONFIG))
    return from_env(load_file(path, required=named), env)


__all__ = [
    "Config",
    "ConfigError",
    "DEFAULT_IDLE_SECONDS",
    "config_path",
    "default_config_path",
    "load",
    "parse_file_mode",
    "parse_idle",
]
