"""Background stages for streaming files: read the next batch ahead, write the last one behind.

Arrow's Parquet reader and writer, polars and the numba kernels release the GIL, so a reader thread and a
writer thread overlap the work between them on a second core. Nothing is lost on either side: an error of
the background thread is raised in the caller.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

__all__ = ["WriteBehind", "available_cores", "prefetch"]


class WriteBehind:
    """Calls ``write`` on a background thread, at most ``depth`` items behind; an error of the writer is
    raised by the next ``write`` or by ``close`` (which always waits for the thread)."""

    def __init__(self, write: Callable, depth: int = 2) -> None:
        import queue
        import threading

        self._write = write
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="drg-write-behind", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self.error is None:
                try:
                    self._write(item)
                except BaseException as exc:  # handed to the producer
                    self.error = exc

    def write(self, item) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(item)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error


def prefetch(items: Iterable, depth: int = 2):
    """Iterate ``items`` with the next ones produced in a background thread (reading and validating the
    next batch overlaps grouping and writing this one; Arrow, polars and the kernel release the GIL).
    An exception raised by the producer is raised here."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def run():
        try:
            for x in items:
                if stop.is_set():
                    return
                q.put((True, x))
            q.put((True, done))
        except BaseException as exc:  # handed to the consumer
            q.put((False, exc))

    t = threading.Thread(target=run, name="drg-prefetch", daemon=True)
    t.start()
    try:
        while True:
            ok, x = q.get()
            if not ok:
                raise x
            if x is done:
                return
            yield x
    finally:
        stop.set()
        while t.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                t.join(0.05)


def available_cores() -> int:
    """The cores this process may use (its CPU affinity where the system reports one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1
