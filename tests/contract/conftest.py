"""One contract suite for every store behind :mod:`parking_tui.domain.ports`.

``store`` is parametrised by the stores this suite runs on; ``reopen`` opens a second, independent handle on the
same data (another process would). A store joins by adding its name to ``STORES`` and a branch to ``_open``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from parking_tui.domain.ports import Store

STORES = ["tinydb", "postgres"]


def _open(kind: str, request: pytest.FixtureRequest, tmp_path) -> Callable[[], Store]:
    if kind == "tinydb":
        from parking_tui.storage.tinydb import open_store

        path = tmp_path / "data" / "parking.json"
        return lambda: open_store(path, backups=0)
    if kind == "postgres":
        from parking_tui.storage.postgres import open_store

        url = request.getfixturevalue("pg_url")  # an empty database on the suite's throwaway server
        return lambda: open_store(url)
    raise AssertionError(f"no store called {kind!r}")


@pytest.fixture(params=STORES)
def reopen(request: pytest.FixtureRequest, tmp_path) -> Iterator[Callable[[], Store]]:
    opened: list[Store] = []
    factory = _open(request.param, request, tmp_path)

    def make() -> Store:
        s = factory()
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def store(reopen: Callable[[], Store]) -> Store:
    return reopen()
