"""A group commit: one thread of the store's own writes what many page threads hand it, several at a time.

A class's guesses are many tiny writes from as many threads (Streamlit runs each session's script in a thread of
its own). Written by each page thread in its own transaction, every statement gives back the interpreter lock, which
a hundred sessions' threads contend for, so each transaction held the database's write lock (SQLite's one lock, or
PostgreSQL's row of the room) across those waits, and the writers queued behind one another. Here a page thread
only queues its item and waits for its outcome; the writer takes everything that is waiting and writes it in one
transaction, so a process holds the lock once for the lot (40 threads recording 800 characters at once: 42
transactions; tests/test_store.py counts them).

    writer = Batcher(write_many, name="unrolled-store-writer")
    outcome = writer.submit(item, timeout=25.0)   # write_many's outcome for this item, or its exception raised

`write_many(items)` returns one outcome per item, in order; an outcome that is an exception is raised in the thread
that submitted the item. Threads: the queue is shared; `thread` is read and written under `lock` only.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from core.errors import UnrolledError

log = logging.getLogger(__name__)

MAX_BATCH = 256  # items in one transaction: far more than a class sends while one commits
IDLE_SECONDS = 30.0  # the thread ends after this long with nothing to write; the next item starts another


class Batcher:
    def __init__(self, write_many: Callable[[list], list], name: str):
        self.write_many = write_many
        self.name = name
        self.items: queue.SimpleQueue[tuple[object, Future]] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def submit(self, item, timeout: float):
        """Write `item` with whatever else is waiting; its outcome, or the exception write_many gave it. A
        TimeoutError after `timeout` seconds (the item may still be written later)."""
        future: Future = Future()
        self.items.put((item, future))
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, name=self.name, daemon=True)
                self.thread.start()
        try:
            return future.result(timeout)
        except FutureTimeout:
            raise TimeoutError(f"not written within {timeout:g} s") from None

    def run(self) -> None:
        while True:
            try:
                first = self.items.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self.lock:  # submit() puts before it looks at the thread: an item put now is seen here
                    if self.items.empty():
                        self.thread = None
                        return
                continue
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.items.get_nowait())
                except queue.Empty:
                    break
            self.settle(batch)

    def settle(self, batch: list[tuple[object, Future]]) -> None:
        try:
            outcomes = self.write_many([item for item, _ in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"{len(outcomes)} outcomes for {len(batch)} items")
        except Exception as e:  # whatever happens, every waiting thread hears of it and the thread stays up
            if not isinstance(e, UnrolledError):  # a StoreError says itself to each page; anything else is a bug
                log.exception("a batch of %d items failed", len(batch))
            outcomes = [e] * len(batch)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
