"""Faults: a kill -9 in the middle of a save leaves the store consistent (the run whole or absent),
on SQLite and on PostgreSQL; a read-only or full data folder and an unreachable PostgreSQL end in one
clear StoreUnavailable, never a traceback, and never the password."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.disks import fill, small_disk  # noqa: F401 - a fixture
from tests.workspace_store.conftest import REPO
from workspace import StoreUnavailable, open_store

# The PostgreSQL cases use the postgres worker's server (one per run: tests/conftest.py).
pytestmark = pytest.mark.xdist_group("postgres")

SAVER = """
import sys
from workspace import open_store, RunRecord, SegmentRow
store = open_store(sys.argv[1])
size = int(sys.argv[2])
for number in range(10_000):
    segments = tuple(SegmentRow(j + 1, f"Segment {j + 1}", j, float(j)) for j in range(size))
    run = RunRecord(source_name=f"run {number}", settings={"segments": size}, k=size, customers=size,
                    revenue=1.0, segments=segments)
    print(f"begin {number}", flush=True)
    store.record_run("alice@example.com", run)
    print(f"done {number}", flush=True)
"""


def kill_during_a_save(url: str, *, size: int = 4000) -> tuple[int, str]:
    """Start a process saving runs of ``size`` segments; kill -9 it during its third save.
    Returns (runs it finished, last line it printed)."""
    process = subprocess.Popen([sys.executable, "-c", SAVER, url, str(size)], cwd=REPO, stdout=subprocess.PIPE,
                               text=True)
    lines = []
    try:
        for line in process.stdout:
            lines.append(line.strip())
            if line.startswith("begin 2"):
                time.sleep(0.05)  # into the transaction: inserting thousands of segment rows
                break
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    lines += [line.strip() for line in process.stdout.read().splitlines()]
    return sum(1 for line in lines if line.startswith("done")), lines[-1]


@pytest.mark.parametrize("attempt", range(2))
def test_kill_9_during_a_save_leaves_every_run_whole_or_absent(store_url, attempt):
    open_store(store_url).close()  # the schema exists before the saver starts
    finished, last = kill_during_a_save(store_url)
    assert last.startswith("begin"), f"the kill landed between saves ({last}); the test needs a slower save"
    store = open_store(store_url)  # opens again after the crash (SQLite recovers its write-ahead log)
    runs = store.runs_of("alice@example.com")
    assert finished <= len(runs) <= finished + 1  # the run being saved is there whole, or not at all
    for run in runs:
        assert len(run.segments) == run.settings["segments"] == run.k
        assert [s.segment_id for s in run.segments] == list(range(1, run.k + 1))
    with store.engine.connect() as con:
        orphans = con.exec_driver_sql("SELECT count(*) FROM run_segments WHERE run_id NOT IN (SELECT id FROM runs)")
        assert orphans.scalar() == 0
        if store_url.startswith("sqlite"):
            assert con.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    store.close()


@pytest.fixture
def read_only_folder(small_disk):  # noqa: F811
    """A real file system remounted read-only (root: permissions alone would not stop writes)."""
    def remount():
        done = subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot remount read-only: {done.stderr.strip()}")
    yield small_disk, remount
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], capture_output=True)


def test_a_read_only_data_folder_cannot_be_opened(read_only_folder):
    folder, remount = read_only_folder
    remount()
    with pytest.raises(StoreUnavailable, match=r"could not be saved to the folder .*: it cannot be written") as raised:
        open_store(f"sqlite:///{folder / 'home' / 'workspace.sqlite3'}")
    assert "SEGMENTER_HOME" in raised.value.hint


def test_a_store_whose_folder_turns_read_only_refuses_saves_and_keeps_what_it_had(read_only_folder):
    folder, remount = read_only_folder
    store = open_store(f"sqlite:///{folder / 'workspace.sqlite3'}")
    kept = store.add_file("alice@example.com", "a.csv", b"kept before")
    store.close()
    remount()
    again = None
    with pytest.raises(StoreUnavailable, match="it cannot be written"):
        again = open_store(f"sqlite:///{folder / 'workspace.sqlite3'}")
        again.add_file("alice@example.com", "b.csv", b"after")
    assert again is None or again.file_bytes("alice@example.com", kept.id) == b"kept before"


def test_a_full_data_folder_refuses_the_file_and_keeps_the_store(small_disk):  # noqa: F811
    store = open_store(f"sqlite:///{small_disk / 'workspace.sqlite3'}")
    kept = store.add_file("alice@example.com", "small.csv", b"small")
    fill(small_disk)
    with pytest.raises(StoreUnavailable, match="it is full"):
        store.add_file("alice@example.com", "big.csv", os.urandom(200_000))
    (small_disk / "filler").unlink()
    assert [f.name for f in store.files_of("alice@example.com")] == ["small.csv"]
    assert store.file_bytes("alice@example.com", kept.id) == b"small"
    store.close()


def test_an_unreachable_postgresql_is_a_clear_message_without_the_password():
    with pytest.raises(StoreUnavailable, match="cannot be reached") as raised:
        open_store("postgresql://keeper:Sup3rSecret@127.0.0.1:9/workspace")
    assert "Sup3rSecret" not in str(raised.value) and "***" in raised.value.message
    assert "SEGMENTER_STORE" in raised.value.hint
