"""The workspace store, the same tests on embedded SQLite and on PostgreSQL: files kept once per
content, quota, real delete, saved segmentations shared with the team, runs whole, state reopened."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from segmentation.errors import SegmentationFileError
from tests.installs import without_team_packages  # noqa: F401 - a fixture
from tests.workspace_store.conftest import sqlite_url
from workspace import (
    INSTALL,
    NotFound,
    NotOwner,
    QuotaExceeded,
    RunRecord,
    SegmentRow,
    StoreError,
    StoreUnavailable,
    missing_packages,
    open_store,
    tables,
)

# The PostgreSQL cases use the postgres worker's server (one per run: tests/conftest.py).
pytestmark = pytest.mark.xdist_group("postgres")

ALICE, BOB = "alice@example.com", "bob@example.com"


def a_run(file_id=None, *, k=2, segmentation_id=None, sizes=(30, 10), revenue=(900.0, 100.0)) -> RunRecord:
    segments = tuple(SegmentRow(i + 1, f"Segment {i + 1}", n, money)
                     for i, (n, money) in enumerate(zip(sizes, revenue, strict=True)))
    return RunRecord(source_name="shop.csv", settings={"cleaning": {"rules": ["duplicate"]}, "seed": 42}, k=k,
                     customers=sum(sizes), revenue=sum(revenue), segments=segments, file_id=file_id,
                     segmentation_id=segmentation_id, currency="£", snapshot="2026-11-01")


def blob_count(store) -> int:
    with store.engine.connect() as con:
        return len(con.execute(tables.blobs.select()).all())


def test_the_schema_is_at_the_newest_revision_and_opening_again_keeps_everything(store_url):
    first = open_store(store_url)
    kept = first.add_file(ALICE, "shop.csv", b"a,b\n1,2\n")
    assert first.revision() == "0001"
    first.close()
    again = open_store(store_url)  # a restart: the migrations find the schema current, the data stays
    assert again.revision() == "0001"
    assert again.files_of(ALICE) == [kept]
    assert again.file_bytes(ALICE, kept.id) == b"a,b\n1,2\n"
    again.close()


def test_a_file_is_kept_once_per_content(store):
    first = store.add_file(ALICE, "march.csv", b"same bytes")
    again = store.add_file(ALICE, "march (1).csv", b"same bytes")
    bobs = store.add_file(BOB, "bob.csv", b"same bytes")
    assert again.id == first.id and again.name == "march (1).csv"  # one file, the latest name
    assert [f.name for f in store.files_of(ALICE)] == ["march (1).csv"]
    assert bobs.id != first.id and bobs.digest == first.digest
    assert blob_count(store) == 1


def test_files_are_listed_newest_first_with_their_sizes(store):
    store.add_file(ALICE, "old.csv", b"1" * 10, at=datetime(2026, 1, 1, tzinfo=UTC))
    store.add_file(ALICE, "new.csv", b"2" * 20, at=datetime(2026, 2, 1, tzinfo=UTC))
    assert [(f.name, f.size) for f in store.files_of(ALICE)] == [("new.csv", 20), ("old.csv", 10)]
    assert store.used_bytes(ALICE) == 30 and store.used_bytes(BOB) == 0


def test_a_file_name_is_never_a_path(store, tmp_path):
    evil = "../../etc/passwd"
    kept = store.add_file(ALICE, evil, b"x,y\n")
    assert store.file(ALICE, kept.id).name == evil
    assert not (tmp_path / "etc").exists() and list(tmp_path.parent.glob("etc")) == []


def test_the_quota_refuses_a_file_that_would_go_over_it(store):
    store.add_file(ALICE, "big.csv", b"x" * 600_000)
    with pytest.raises(QuotaExceeded, match=r"over your quota of 1 MB"):
        store.add_file(ALICE, "bigger.csv", b"y" * 600_000)
    assert [f.name for f in store.files_of(ALICE)] == ["big.csv"]
    store.add_file(BOB, "bobs.csv", b"y" * 600_000)  # a quota is per user


def test_delete_really_deletes_the_content_when_nobody_else_keeps_it(store):
    mine = store.add_file(ALICE, "a.csv", b"shared content")
    bobs = store.add_file(BOB, "b.csv", b"shared content")
    only = store.add_file(ALICE, "only.csv", b"only alice")
    run = store.record_run(ALICE, a_run(only.id))
    store.delete_file(ALICE, only.id)
    assert blob_count(store) == 1  # "only alice" is gone from the database
    assert store.run(ALICE, run.id).file_id is None and store.run(ALICE, run.id).source_name == "shop.csv"
    store.delete_file(ALICE, mine.id)
    assert store.file_bytes(BOB, bobs.id) == b"shared content"  # Bob's copy stays
    store.delete_file(BOB, bobs.id)
    assert blob_count(store) == 0
    with pytest.raises(NotFound):
        store.file_bytes(ALICE, mine.id)


def test_a_run_is_recorded_with_its_segments_and_listed_newest_first(store):
    kept = store.add_file(ALICE, "shop.csv", b"data")
    older = store.record_run(ALICE, a_run(kept.id), at=datetime(2026, 10, 1, tzinfo=UTC))
    newer = store.record_run(ALICE, a_run(kept.id, sizes=(25, 15)), at=datetime(2026, 11, 1, tzinfo=UTC))
    listed = store.runs_of(ALICE)
    assert [r.id for r in listed] == [newer.id, older.id]
    assert [(s.segment, s.customers, s.revenue) for s in listed[0].segments] == [("Segment 1", 25, 900.0),
                                                                                ("Segment 2", 15, 100.0)]
    assert listed[1].settings == {"cleaning": {"rules": ["duplicate"]}, "seed": 42}
    assert listed[1].recorded == datetime(2026, 10, 1, tzinfo=UTC)
    assert (older.customers, older.revenue, older.currency, older.grouping) == (40, 1000.0, "£", "fitted:k=2")
    store.delete_run(ALICE, older.id)
    assert [r.id for r in store.runs_of(ALICE)] == [newer.id]


def test_a_run_cannot_name_another_users_file(store):
    bobs = store.add_file(BOB, "b.csv", b"bob's data")
    with pytest.raises(NotFound):
        store.record_run(ALICE, a_run(bobs.id))
    assert store.runs_of(ALICE) == []


def test_a_run_that_fails_half_way_leaves_nothing(store):
    broken = a_run(sizes=(30, 10))
    duplicate = RunRecord(**{**broken.__dict__, "segments": broken.segments + broken.segments[:1],
                             "id": None, "recorded": None})
    with pytest.raises(Exception):  # noqa: B017 - the second segment 1 breaks the primary key
        store.record_run(ALICE, duplicate)
    assert store.runs_of(ALICE) == []
    with store.engine.connect() as con:
        assert con.execute(tables.run_segments.select()).all() == []


def test_a_saved_segmentation_is_private_until_shared_and_only_its_owner_changes_it(store, segmentation_json):
    kept = store.save_segmentation(ALICE, "Agreed 2026", segmentation_json)
    assert (kept.k, kept.shared, kept.owner) == (4, False, ALICE)
    assert [s.name for s in store.segmentations_of(BOB)] == []
    with pytest.raises(NotFound):
        store.segmentation_text(BOB, kept.id)
    store.share_segmentation(ALICE, kept.id)
    [seen] = store.segmentations_of(BOB)
    assert (seen.name, seen.owner, seen.shared) == ("Agreed 2026", ALICE, True)
    assert store.segmentation_text(BOB, kept.id) == store.segmentation_text(ALICE, kept.id)
    for change in (lambda: store.share_segmentation(BOB, kept.id, False),
                   lambda: store.delete_segmentation(BOB, kept.id)):
        with pytest.raises(NotOwner, match="Only the person who saved"):
            change()
    store.share_segmentation(ALICE, kept.id, False)
    assert store.segmentations_of(BOB) == []
    store.delete_segmentation(ALICE, kept.id)
    assert store.segmentations_of(ALICE) == []


def test_saving_under_the_same_name_replaces_and_a_bad_file_is_refused(store, segmentation_json):
    first = store.save_segmentation(ALICE, "Monthly", segmentation_json)
    store.share_segmentation(ALICE, first.id)
    second = store.save_segmentation(ALICE, "  Monthly ", segmentation_json)
    assert (second.id, second.shared) == (first.id, True)
    with pytest.raises(SegmentationFileError):
        store.save_segmentation(ALICE, "Broken", '{"format": "something else"}')
    with pytest.raises(StoreError, match="needs a name"):
        store.save_segmentation(ALICE, "   ", segmentation_json)
    assert [s.name for s in store.segmentations_of(ALICE)] == ["Monthly"]


def test_the_last_state_is_kept_per_user(store):
    assert store.last_state(ALICE) is None
    store.remember(ALICE, {"file_id": 3, "k": 4, "seed": 42})
    store.remember(BOB, {"file_id": None})
    assert store.last_state(ALICE) == {"file_id": 3, "k": 4, "seed": 42}
    assert store.last_state(BOB) == {"file_id": None}


@pytest.mark.parametrize("user", ["", "   ", None])
def test_no_user_no_workspace(store, user):
    with pytest.raises(StoreError, match="needs the signed-in user"):
        store.files_of(user)


def test_the_migrations_create_exactly_the_tables_the_code_declares(store):
    """tables.py (what the queries use) and the Alembic revisions (what is created) agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with store.engine.connect() as con:
        differences = compare_metadata(MigrationContext.configure(con), tables.metadata)
    assert [d for d in differences if d[0] != "remove_table" or d[1].name != "alembic_version"] == []


@pytest.mark.usefixtures("without_team_packages")
def test_without_its_packages_the_store_says_what_to_install_and_creates_nothing(tmp_path):
    assert missing_packages() == ["SQLAlchemy", "Alembic"]
    with pytest.raises(StoreUnavailable) as refused:
        open_store(sqlite_url(tmp_path / "home"))
    assert "needs SQLAlchemy and Alembic" in refused.value.message and INSTALL in refused.value.hint
    assert not (tmp_path / "home").exists()
