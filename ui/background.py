"""The server's background work of one kind (the stability checks of ui/stability.py, the
predictions of ui/prediction.py): one thread that runs one job at a time, the last jobs by key, and
the lock they share. Each kind's owner extends :class:`OneAtATime` and is made once per server by a
``st.cache_resource`` whose release calls :meth:`OneAtATime.shutdown`. This module draws nothing."""
from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

__all__ = ["OneAtATime"]

Job = TypeVar("Job")


class OneAtATime(Generic[Job]):
    """One thread named ``name``, the last ``keep`` jobs by key, their lock (``with owner.lock``
    around :meth:`existing` and :meth:`remember`)."""

    def __init__(self, name: str, keep: int):
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.jobs: OrderedDict[tuple, Job] = OrderedDict()
        self.lock = threading.Lock()
        self.keep = keep

    def find(self, key: tuple) -> Job | None:
        with self.lock:
            return self.jobs.get(key)

    def existing(self, key: tuple) -> Job | None:
        """(Under the lock.) The job of ``key``, now the most recently wanted; None if there is none."""
        job = self.jobs.get(key)
        if job is not None:
            self.jobs.move_to_end(key)
        return job

    def remember(self, key: tuple, job: Job) -> None:
        """(Under the lock.) Keep ``job`` as the newest; beyond ``keep`` the oldest is forgotten (one
        still running simply finishes unseen)."""
        self.jobs[key] = job
        while len(self.jobs) > self.keep:
            self.jobs.popitem(last=False)

    def shutdown(self) -> None:
        """Cancel every job (a Future, or a job with its own ``cancel``), forget them, end the thread
        (without waiting for a job under way)."""
        with self.lock:
            for job in self.jobs.values():
                job.cancel()
            self.jobs.clear()
        self.pool.shutdown(wait=False, cancel_futures=True)
