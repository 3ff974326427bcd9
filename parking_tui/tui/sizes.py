"""The smallest terminal the app lays out in (shared by the app and its notices, so no screen imports app.py)."""

from __future__ import annotations

MIN_WIDTH = 80
MIN_HEIGHT = 24
