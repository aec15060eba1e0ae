"""Isolation at the storage layer: for every function that reads, writes or deletes by id, another
user's ids are refused — the real ones, every id guessed around them, and ids that are not numbers —
exactly as an id that does not exist, and the owner's data is left as it was."""
from __future__ import annotations

import pytest

from workspace import NotFound, NotOwner, RunRecord, SegmentRow

# The PostgreSQL cases use the postgres worker's server (one per run: tests/conftest.py).
pytestmark = pytest.mark.xdist_group("postgres")

ALICE, BOB = "alice@example.com", "bob@example.com"

# (function, kind of id it takes, how it is called); every function of Store that takes an id.
BY_ID = [
    ("file", "file", lambda store, user, i: store.file(user, i)),
    ("file_bytes", "file", lambda store, user, i: store.file_bytes(user, i)),
    ("delete_file", "file", lambda store, user, i: store.delete_file(user, i)),
    ("record_run", "file", lambda store, user, i: store.record_run(user, _run(i))),
    ("record_run_with_segmentation", "segmentation",
     lambda store, user, i: store.record_run(user, _run(None, segmentation_id=i))),
    ("run", "run", lambda store, user, i: store.run(user, i)),
    ("delete_run", "run", lambda store, user, i: store.delete_run(user, i)),
    ("segmentation_text", "segmentation", lambda store, user, i: store.segmentation_text(user, i)),
    ("share_segmentation", "segmentation", lambda store, user, i: store.share_segmentation(user, i, True)),
    ("unshare_segmentation", "segmentation", lambda store, user, i: store.share_segmentation(user, i, False)),
    ("delete_segmentation", "segmentation", lambda store, user, i: store.delete_segmentation(user, i)),
]
NOT_IDS = ["1", 1.0, True, None, -1, 0, 2**40]


def _run(file_id, segmentation_id=None) -> RunRecord:
    return RunRecord(source_name="x.csv", settings={}, k=1, customers=1, revenue=1.0,
                     segments=(SegmentRow(1, "All", 1, 1.0),), file_id=file_id, segmentation_id=segmentation_id)


@pytest.fixture
def alices(store, segmentation_json) -> dict:
    """Alice's workspace: three files, two runs, a private segmentation; and what it looks like."""
    files = [store.add_file(ALICE, f"alice-{n}.csv", f"alice's data {n}".encode()) for n in range(3)]
    runs = [store.record_run(ALICE, _run(files[n].id)) for n in range(2)]
    private = store.save_segmentation(ALICE, "Alice's private", segmentation_json)
    store.add_file(BOB, "bob.csv", b"bob's own data")  # Bob has a workspace too
    return {"file": [f.id for f in files], "run": [r.id for r in runs], "segmentation": [private.id],
            "snapshot": _snapshot(store)}


def _snapshot(store) -> tuple:
    return (store.files_of(ALICE), [(r.id, r.file_id, r.segments) for r in store.runs_of(ALICE)],
            store.segmentations_of(ALICE), [store.file_bytes(ALICE, f.id) for f in store.files_of(ALICE)])


@pytest.mark.parametrize("name, kind, call", BY_ID, ids=[row[0] for row in BY_ID])
def test_another_users_ids_are_refused(store, alices, name, kind, call):
    bobs_own = {f.id for f in store.files_of(BOB)} if kind == "file" else set()
    guessed = set(range(1, max(alices[kind]) + 6)) - bobs_own  # every id around Alice's, Bob's own left out
    assert set(alices[kind]) <= guessed
    not_ids = [i for i in NOT_IDS if not (name.startswith("record_run") and i is None)]  # None: no file
    for guess in sorted(guessed) + not_ids:
        with pytest.raises(NotFound, match="no such"):
            call(store, BOB, guess)
    assert _snapshot(store) == alices["snapshot"]  # nothing of Alice's was read out, changed or deleted
    assert store.runs_of(BOB) == []


def test_listing_shows_nobody_elses_files_runs_or_private_segmentations(store, alices):
    assert [f.name for f in store.files_of(BOB)] == ["bob.csv"]
    assert store.runs_of(BOB) == [] and store.segmentations_of(BOB) == []
    assert store.last_state(BOB) is None


def test_a_shared_segmentation_is_readable_but_not_changeable_by_others(store, alices):
    [private] = alices["segmentation"]
    store.share_segmentation(ALICE, private)
    assert store.segmentation_text(BOB, private).startswith("{")
    for call in (lambda: store.share_segmentation(BOB, private, False),
                 lambda: store.delete_segmentation(BOB, private)):
        with pytest.raises(NotOwner):
            call()
    assert [s.shared for s in store.segmentations_of(ALICE)] == [True]


def test_the_store_module_filters_every_statement_on_the_user():
    """A reading of the code: every method with a user and an id goes through the user filter."""
    import inspect

    from workspace.store import Store

    public = {name for name, member in inspect.getmembers(Store, inspect.isfunction) if not name.startswith("_")}
    tested = {row[0] for row in BY_ID} - {"unshare_segmentation", "record_run_with_segmentation"}
    takes_ids = {name for name in public
                 if any(p in inspect.signature(getattr(Store, name)).parameters
                        for p in ("file_id", "run_id", "segmentation_id", "run"))}
    assert takes_ids == tested, "a new method that takes an id needs its row in BY_ID"
