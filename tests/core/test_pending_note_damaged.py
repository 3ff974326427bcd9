"""A cut-short commit's note (in the lock file) names files that a crash or an operator has since damaged: the
next writer and ``doctor`` must report the damage in words (``StorageError``), never fail with a Python error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parking_tui.domain import StorageError


@pytest.mark.parametrize("content", [b"[1, 2]", b'"text"', b'{"_file": [1]}', b'{"_file": {"1": 7}}'])
def test_a_note_naming_a_file_that_holds_no_object_is_a_storage_error(world, db_path, content):
    if world.svc.store.__class__.__module__.split(".")[2] != "tinydb":
        pytest.skip("the lock file's note is the TinyDB store's")
    world.book(world.alice)
    lot_file = db_path.parent / f"parking.lot-{world.lot.id}.json"
    Path(str(db_path) + ".lock").write_bytes(json.dumps({"tx": "cut-short", "files": [lot_file.name]}).encode())
    lot_file.write_bytes(content)
    assert world.svc.store.files.pending_transaction() == "cut-short"  # doctor's question: answered, no error
    with pytest.raises(StorageError) as caught:  # the next writer settles the note, then meets the damage
        world.book(world.bob, 1)
    assert lot_file.name in str(caught.value)  # the damaged file, named
