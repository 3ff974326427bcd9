"""``python -m parking_tui.bench``: see ``parking_tui.bench.runner``."""

from .runner import main

if __name__ == "__main__":
    raise SystemExit(main())
