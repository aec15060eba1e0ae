"""The app's stability check in its own low-priority process (ui/stability_worker.py): the same
result as in this process, its progress relayed, its priority lowered, stopped at once when
cancelled, and its failures brought back as the core's errors."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from segmentation import stability
from segmentation.errors import ParameterError, SegmenterError
from tests.test_stability import planted_customers
from ui import stability_worker

LINUX = sys.platform.startswith("linux")


def _children() -> dict[int, int]:
    """pid → niceness of this process's children running the worker (read from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state, ppid, ...
        if int(fields[1]) == os.getpid() and b"ui.stability_worker" in cmdline and fields[0] != "Z":
            found[int(entry.name)] = int(fields[16])  # field 19 of stat: nice
    return found


def _autogroup(pid: int) -> str | None:
    """The scheduling group of ``pid`` ("/autogroup-N nice M"); None where the kernel has none."""
    try:
        return Path(f"/proc/{pid}/autogroup").read_text().strip()
    except OSError:
        return None


@pytest.fixture(scope="module")
def customers():
    return planted_customers(n_per_type=60)


def test_the_child_computes_what_this_process_computes_and_reports_progress(customers):
    lines: list[tuple[str, float]] = []
    result = stability_worker.run_in_child(customers, k_values=(2, 4), seed=42,
                                           progress=lambda message, fraction: lines.append((message, fraction)))
    here = stability.stability_scan(customers, k_values=(2, 4), seed=42)
    assert result.table().equals(here.table())
    assert np.array_equal(result.by_k[4].labels, here.by_k[4].labels)
    fractions = [fraction for _, fraction in lines]
    assert len(lines) == 2 * (stability.STABILITY_RESAMPLES + 1)  # one line per fit
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(message.startswith("Stability: ") for message, _ in lines)


@pytest.mark.skipif(not LINUX, reason="reads the child's priority from /proc")
def test_the_child_runs_at_a_lower_priority_and_is_gone_once_cancelled(customers):
    """The first progress line comes from a child at NICENESS above this process; raising from
    the callback (as a cancelled check does) ends the child at once."""
    seen: dict[int, int] = {}

    class Stop(Exception):
        pass

    autogroups: list[str] = []

    def progress(message, fraction):
        seen.update(_children())
        autogroups.extend(filter(None, map(_autogroup, seen)))
        raise Stop

    with pytest.raises(Stop):
        stability_worker.run_in_child(customers, k_values=(2, 3, 4, 5), seed=42, progress=progress)
    assert len(seen) == 1
    assert list(seen.values()) == [min(19, os.nice(0) + stability_worker.NICENESS)]
    if autogroups:  # its own scheduling group, at the lower priority too: it yields to the browser
        assert autogroups[0] != _autogroup(os.getpid())
        assert autogroups[0].endswith(f"nice {stability_worker.NICENESS}")
    assert _children() == {}  # terminated and reaped, not left to finish its fits


def test_a_core_error_in_the_child_comes_back_with_its_type_and_message(customers):
    few = customers.head(3)  # 3 distinct customers: K=4 cannot be bootstrapped
    with pytest.raises(ParameterError) as raised:
        stability_worker.run_in_child(few, k_values=(4,), seed=42, progress=lambda *_: None)
    assert "K=4 cannot be bootstrapped on 3 distinct customer profiles" in raised.value.message


def test_a_child_that_dies_without_a_result_is_a_clear_error(customers, monkeypatch):
    """Killed (e.g. out of memory) between two progress lines: an error saying so, not a hang."""
    def kill_it(message, fraction):
        for pid in _children():
            os.kill(pid, 9)

    if not LINUX:
        pytest.skip("finds the child through /proc")
    with pytest.raises(SegmenterError) as raised:
        stability_worker.run_in_child(customers, k_values=(2, 3, 4, 5), seed=42, progress=kill_it)
    assert "stopped without a result (exit code -9)" in raised.value.message
    assert "segments themselves are not affected" in raised.value.hint
