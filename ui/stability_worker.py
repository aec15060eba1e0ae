"""The app's stability check in its own low-priority process, so it never slows the marketer's pages.

A check run on a thread of the app's server shares that process's interpreter lock with the
server: measured in the browser, the real CSV dropped while the demo data's check was running
waited until the check finished before its first script run started (the upload and the rerun
message are handled by the same Python process, which the check's many small fits kept busy).
Here the check runs in a child Python process (a fresh interpreter running this module: not a fork
of the threaded server, and not multiprocessing's ``spawn``, which re-imports the caller's main
script) at a lower CPU priority (``nice``): it has the machine when the app is idle and yields it
when the marketer's file is read, cleaned and segmented.

The child reads the customers table and the check's parameters from its standard input and writes
each progress line and then the result (or the error) to a pipe of its own (its standard output
stays free for whatever a library prints). Both ends are this program, pickling its own objects:
nothing from the marketer's file is unpickled from anywhere else. The caller's progress callback may raise to
stop the check (ui/stability.py cancels a check nobody wants any more): the child is then
terminated at once, not at its next fit. This module does not import Streamlit, so the child
starts with only the core's imports.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from segmentation import errors
from segmentation.errors import SegmenterError
from segmentation.stability import Progress, Stability, stability_scan

__all__ = ["NICENESS", "run_in_child"]

NICENESS = 10  # CPU priority of the check's process, relative to the app's server (0 = the same)
_ROOT = Path(__file__).resolve().parent.parent  # where `ui` and `segmentation` are imported from


def _child(inbox, outbox) -> None:
    """The child process: the check of what ``inbox`` holds, its progress and outcome pickled to ``outbox``."""
    customers, seed, k_values, niceness = pickle.load(inbox)
    _lower_priority(niceness)

    def send(*message) -> None:
        pickle.dump(message, outbox, protocol=pickle.HIGHEST_PROTOCOL)
        outbox.flush()

    try:
        result = stability_scan(customers, k_values=k_values, seed=seed,
                                progress=lambda message, fraction: send("progress", message, fraction))
    except SegmenterError as error:
        send("error", type(error).__name__, error.message, error.hint)
    except Exception as error:  # an unexpected failure: its kind, not its text (which may quote data)
        send("error", "", f"{type(error).__name__} in the stability check", None)
    else:
        send("done", result)


def _lower_priority(niceness: int) -> None:
    """This process at ``niceness`` below the others, the browser included.

    Linux's scheduler shares the CPU fairly between sessions ("autogroups") before it looks at nice
    values, so a niced process yields only within its own session: the child starts a session of
    its own (``start_new_session``) and lowers that group's priority too, not only its own. Where
    either is not possible (another OS, a container that forbids it), the check runs unchanged.
    """
    with contextlib.suppress(OSError):
        os.nice(niceness)
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text(str(niceness))


def _error(name: str, message: str, hint: str | None) -> SegmenterError:
    kind = getattr(errors, name, None) if name else None
    if isinstance(kind, type) and issubclass(kind, SegmenterError):
        return kind(message, hint)
    return SegmenterError(message, hint)


def run_in_child(customers: pd.DataFrame, *, k_values: Sequence[int], seed: int, progress: Progress,
                 niceness: int = NICENESS,
                 on_start: Callable[[subprocess.Popen], None] | None = None) -> Stability:
    """`segmentation.stability.stability_scan` of ``customers`` in a child process at ``niceness``.

    ``progress(message, fraction)`` is called here for every line the child reports; if it raises,
    the child is terminated and the exception propagates. ``on_start(process)`` is told the child
    as soon as it exists, so that another thread can terminate it at once (ui/stability.py does when
    a check is cancelled: a child still importing its libraries sends no progress for seconds).
    A child that ends without an outcome (terminated, killed, out of memory) is a SegmenterError
    saying so.
    """
    read_end, write_end = os.pipe()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")])))
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "ui.stability_worker", str(write_end)], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, pass_fds=(write_end,), cwd=_ROOT, env=env,
            start_new_session=True)
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)  # the child holds the only writing end: its exit ends the pipe
    try:
        if on_start is not None:
            on_start(process)
        with os.fdopen(read_end, "rb") as inbox:
            with process.stdin:
                pickle.dump((customers, int(seed), tuple(int(k) for k in k_values), int(niceness)), process.stdin,
                            protocol=pickle.HIGHEST_PROTOCOL)
            while True:
                message = pickle.load(inbox)
                if message[0] == "progress":
                    progress(message[1], message[2])
                elif message[0] == "done":
                    return message[1]
                else:
                    raise _error(*message[1:])
    except (EOFError, BrokenPipeError, pickle.UnpicklingError):  # ended, or killed in the middle of a message
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
        raise SegmenterError(
            f"The stability check's process stopped without a result (exit code {process.returncode}).",
            "This can happen when the machine runs out of memory; the segments themselves are not affected.",
        ) from None
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


if __name__ == "__main__":  # the child: python -m ui.stability_worker FD
    with os.fdopen(int(sys.argv[1]), "wb") as _outbox:
        _child(sys.stdin.buffer, _outbox)
