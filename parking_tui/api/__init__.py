"""Door 2: the seed's HTTP API (FastAPI, served by uvicorn), a thin adapter over ``ParkingService``.

Install with ``pip install 'parking-tui[api]'`` and run ``parking-tui api``. ``create_app(svc)`` builds the ASGI
app over one service; ``server.serve(settings)`` runs it.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
