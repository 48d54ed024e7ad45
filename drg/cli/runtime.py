"""Process settings for the batch commands (applied by the ``drg`` command line, never by the library).

:func:`keep_freed_memory` (``drg points`` and ``drg weights`` by default, :data:`MALLOC_KEEP_COMMANDS`; any
other command with ``DRG_MALLOC_KEEP=1``, none with ``DRG_MALLOC_KEEP=0``): a command allocates and frees the
same large numpy buffers over and over. glibc hands blocks above its mmap threshold back to the operating
system as soon as they are freed, and trims the top of its heaps, so the next buffer faults fresh pages in and
the kernel zeroes each of them; on the 2-core machine (a virtual machine) that zeroing was a quarter of the
CPU samples of ``drg points``. With the blocks kept, at 10 M cases on 2026-12-05, alternating:

- ``drg points``: 22.4 / 23.8 / 23.2 / 23.1 s against 29.3 / 25.8 / 24.7 / 30.0 s, system time 7.6–10.2 s
  against 9.8–15.9 s, peak 1.79–1.84 GB against 1.78–1.83 GB (its whole-year pricing columns are numpy
  arrays of 40–80 MB, made and dropped step by step);
- ``drg weights``: 4.56 / 5.02 / 4.86 / 4.93 s against 4.79 / 5.70 / 5.32 / 5.58 s, peak +30–80 MB;
- ``drg group``: no fewer page faults (its allocations are Arrow's, batch by batch) and no faster; kept heaps
  made its peak grow with the length of the run (830–849 MB against 775–785 MB for every column of 10 M cases),
  which breaks the bound that it must not grow with the file (docs/reliability.md): not kept;
- ``drg settle year``: 19.4 / 18.7 / 18.8 s against 24.1 / 19.4 / 19.2 s (and 18.4 / 17.4 against 17.1 / 17.5 s
  the day before), peak +30–70 MB: no clear gain, not kept.

:func:`lean_arrow_pool`: Arrow allocates from mimalloc by default, which keeps the memory of freed read
buffers mapped; reading the pricing columns of a 5-million-case file left 921 MB resident for 529 MB of data
under mimalloc and 661 MB under jemalloc. Measured on the 2-core machine, jemalloc against mimalloc:
``drg points`` over 5 million cases 2.30 GB / 22.5–24.3 s against 2.71–2.76 GB / 23.4–28.7 s; ``drg group``
over 10 million cases 659 MB / 15.4–17.3 s against 737–782 MB / 15.8–19.6 s, and its peak 1.08 × the peak at
one million cases (1.10–1.17 under mimalloc). ``ARROW_DEFAULT_MEMORY_POOL`` set in the environment is left
as it is.

:func:`short_gil_turns`: a streaming command runs three threads (read, group, write) that spend most of
their time in native code (Arrow, polars, numba) and hand the interpreter lock back and forth between calls.
A thread whose native call has finished waits for the lock until the thread holding it reaches a switch
point, by default every 5 ms, which happens dozens of times a batch; 1 ms turns cut that waiting (measured:
the median of ``drg group --slim`` over 2 million cases 0.83 -> 0.74 s).

:func:`numpy_small_pages`: numpy asks the kernel for transparent huge pages (``madvise(MADV_HUGEPAGE)``) for
every array of 4 MB or more. Where the system's huge-page policy is ``madvise`` with ``defrag`` ``madvise``
(the 2-core machine's, a common default), the first touch of such an array makes the kernel compact memory
until it finds free 2 MB blocks, which on a machine whose memory is full of page cache takes longer than the
work: a fresh 500 MB array filled in 2.4–5.0 s with huge pages and in 0.21–0.26 s without (three runs each).
Measured on the 10-million-case province, with against without, two alternating runs each: ``drg weights``
7.74 / 7.65 s against 5.42 / 5.20 s, ``drg points`` 36.99 / 33.35 s against 32.13 / 27.07 s, ``drg settle
year`` 31.64 / 27.36 s against 27.46 / 23.91 s, same outputs and peak memory. ``NUMPY_MADVISE_HUGEPAGE`` set
in the environment is left as it is (numpy reads it when it is imported).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

_applied = False


#: Commands that keep freed glibc blocks for their next buffers unless ``DRG_MALLOC_KEEP=0`` (module docstring).
MALLOC_KEEP_COMMANDS = ("points", "weights")


def keep_freed_memory(mmap_threshold: int = 64 << 20, trim_threshold: int = 256 << 20, *,
                      default: bool = False) -> bool:
    """Ask glibc's malloc to serve blocks up to ``mmap_threshold`` bytes from its heaps and to keep up to
    ``trim_threshold`` free bytes at their top: when ``default`` (a command of :data:`MALLOC_KEEP_COMMANDS`)
    unless ``DRG_MALLOC_KEEP=0``, and for any command with ``DRG_MALLOC_KEEP=1``. Returns whether the settings
    took effect (False when not asked for, or off glibc)."""
    global _applied
    if _applied:
        return True
    asked = os.environ.get("DRG_MALLOC_KEEP")
    if asked == "0" or (asked != "1" and not default):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    _applied = mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1 and mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1
    return _applied


def short_gil_turns(seconds: float = 0.001) -> None:
    """Let a thread waiting for the interpreter lock have it after ``seconds`` at most (default 1 ms)."""
    import sys

    if sys.getswitchinterval() > seconds:
        sys.setswitchinterval(seconds)


def lean_arrow_pool() -> str | None:
    """Make jemalloc Arrow's default memory pool, unless ``ARROW_DEFAULT_MEMORY_POOL`` chooses one or this
    pyarrow has no jemalloc; returns the pool's backend name when it was set."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return None
    import pyarrow as pa

    try:
        pool = pa.jemalloc_memory_pool()
    except (NotImplementedError, AttributeError):  # pragma: no cover - a build without jemalloc
        return None
    pa.set_memory_pool(pool)
    return pool.backend_name


#: Commands that answer one case: no batch setting is applied to them (it would only cost start-up time).
ONE_CASE_COMMANDS = ("estimate", "explain")


#: Arrow's dirty-page decay per command, in milliseconds (:func:`release_at_once`; Arrow's own, 1000 ms, for
#: the commands not named).
#:
#: ``drg group`` and ``drg check`` stream a file of any size through a pipeline of a few batches: their memory
#: must not grow with the file (issue 16), which Arrow's default decay broke (the pages it kept grew with the
#: length of the run). ``drg check`` gives freed pages back at once. ``drg group`` keeps them 100 ms: at once
#: cost refaulting them for every batch (10 M ordinary cases, alternating, on a fresh machine 2026-12-05:
#: 11.2 / 12.1 / 11.5 s, 1.69 M page faults, 543–547 MB at once against 11.0 / 9.9 / 10.4 s, 0.49–0.55 M
#: faults, 579–593 MB with 100 ms; 2–4 s more when the machine's fresh pages are dear). A decay of 100 ms
#: bounds what is kept by what a run frees in 100 ms, not by its length: ``bench_shapes.py``'s 10 M / 1 M peaks
#: with 100 ms were at most 1.19, 1.16 and 1.21 in three runs (the 1 M base moving by 50 MB between runs),
#: against 1.18, 1.19 and 1.22 at once (docs/reliability.md).
#:
#: ``drg points``' first pass holds the pricing columns of every case, and pages Arrow's steps freed a second
#: before were still held at its peak: at 10 M cases (numpy on small pages, runs alternating with the default)
#: it peaked at 1.78–1.83 GB with 100 ms against 1.97–2.06 GB with Arrow's decay, in 20.3 / 22.7 s against
#: 19.6 / 23.9 s and 1.38 M page faults against 1.26 M; at once (0 ms) it peaked at 1.78–1.79 GB but took
#: 22.4–26.0 s, refaulting 2.6 M pages.
ARROW_DECAY_MS = {"group": 100, "check": 0, "points": 100}


def release_at_once(decay_ms: int = 0) -> bool:
    """Have Arrow's jemalloc return freed pages to the system at once (or after ``decay_ms``) instead of after
    its default decay time, unless ``JE_ARROW_MALLOC_CONF`` sets its own. With the default decay, the pages
    jemalloc kept grew with the length of a run: `drg group` of 10 M cases of one shape peaked at 667–676 MB
    against 530–564 MB for 1 M (up to 1.28×); at once, 574–578 against 531–541 MB (≤ 1.09×), at the cost of
    refilling them (10 M: 16.6–19.2 s against 14.0–14.3 s; docs/reliability.md)."""
    if os.environ.get("JE_ARROW_MALLOC_CONF"):
        return False
    import pyarrow as pa

    if pa.default_memory_pool().backend_name != "jemalloc":
        return False
    try:
        pa.jemalloc_set_decay_ms(int(decay_ms))
    except (NotImplementedError, AttributeError, pa.ArrowException):  # pragma: no cover - no jemalloc
        return False
    return True


#: polars' own jemalloc (its symbols prefixed ``_rjem_``) reads its settings from this variable when the
#: library first allocates, that is when polars is imported.
POLARS_MALLOC_CONF = "_RJEM_MALLOC_CONF"


#: polars' dirty-page decay per command, in milliseconds (:func:`polars_releases_at_once`; 0 for the others)
POLARS_DECAY_MS = {"settle": 50}


def polars_releases_at_once(decay_ms: int = 0) -> bool:
    """Have polars' jemalloc return freed pages to the system at once (``dirty_decay_ms:0``), or after
    ``decay_ms``, unless the environment sets :data:`POLARS_MALLOC_CONF` or polars is already imported (then it
    is too late).

    polars sets its own decay (``dirty_decay_ms:500,muzzy_decay_ms:1000``) and appends this variable's
    settings, which take precedence. With its decay the pages of a group-by's hash tables stay resident for a
    while after it, held by an allocator the Arrow and numpy steps that follow cannot use: at 10 M cases,
    ``drg settle``'s group-by of the finest grain (5.7 M cells) into the DRG view left 1.52 GB resident after
    it with the setting, 2.03 GB without, in the same time (0.88 s); every later step of the run started
    0.5 GB higher (docs/benchmarks.md).

    At once is not free either: a scan that decodes a file row group by row group gets fresh pages for every
    row group. ``drg settle``'s statements scan the priced file for the outlier cases: at 10 M, 0.94 s and
    460 K page faults at once, 0.46 s and 106 K faults with a decay of 50 ms; the whole ``drg settle year``
    28.50 / 28.97 / 24.85 s, 1.69–1.72 GB with decay 0 against 25.25 / 25.61 / 22.82 s, 1.78–1.82 GB with 50 ms
    (interleaved; 1.45–1.54 M against 0.88 M page faults). So settle keeps freed pages for 50 ms
    (:data:`POLARS_DECAY_MS`); ``drg monitor`` gained nothing from it (14.2 / 15.2 s against 16.7 / 17.9 s)."""
    import sys

    if os.environ.get(POLARS_MALLOC_CONF) is not None or "polars" in sys.modules:
        return False
    os.environ[POLARS_MALLOC_CONF] = f"dirty_decay_ms:{int(decay_ms)},muzzy_decay_ms:0"
    return True


#: numpy reads whether to ask for huge pages from this variable when it is imported (its global-state docs)
NUMPY_HUGEPAGE = "NUMPY_MADVISE_HUGEPAGE"


def numpy_small_pages() -> bool:
    """Have numpy allocate its arrays on ordinary pages (no ``madvise(MADV_HUGEPAGE)``), unless the environment
    sets :data:`NUMPY_HUGEPAGE` or numpy is already imported (then it is too late). The variable is inherited
    by the processes a command starts (the statements' workbooks, Dask workers)."""
    import sys

    if os.environ.get(NUMPY_HUGEPAGE) is not None or "numpy" in sys.modules:
        return False
    os.environ[NUMPY_HUGEPAGE] = "0"
    return True


def openmp_workers_sleep() -> bool:
    """Have the OpenMP workers of numba's ``parallel=True`` kernels sleep when idle
    (``OMP_WAIT_POLICY=PASSIVE``) instead of spinning for a while after each parallel loop, unless the
    environment sets its own. libgomp reads the variable once, when numba first starts its threads (the
    first parallel kernel, or ``numba.get_num_threads``): the kernel modules set it on import
    (:mod:`grouper.kernel`), but `drg group` asked numba for its thread count before importing the kernel,
    and its OpenMP worker then spun between batches — 19 % of the command's CPU samples, 3.6 s of CPU over
    10 M cases, taken from the reading and writing threads (10.1–10.9 s against 8.8–9.2 s with the workers
    asleep, alternating, 2026-12-05). Set here for every batch command, before anything starts threads."""
    if os.environ.get("OMP_WAIT_POLICY") is not None:
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


def batch_process(command: str | None = None) -> None:
    """The settings the command line applies before any batch command (numpy on ordinary pages; freed glibc
    blocks kept for the next buffers in :data:`MALLOC_KEEP_COMMANDS` or when asked for; freed Arrow pages
    returned at once, or after :data:`ARROW_DECAY_MS`; polars' freed pages returned at once, or after
    :data:`POLARS_DECAY_MS`; OpenMP's idle workers asleep)."""
    openmp_workers_sleep()
    numpy_small_pages()
    polars_releases_at_once(POLARS_DECAY_MS.get(command, 0))
    keep_freed_memory(default=command in MALLOC_KEEP_COMMANDS)
    lean_arrow_pool()
    if command in ARROW_DECAY_MS:
        release_at_once(ARROW_DECAY_MS[command])
    short_gil_turns()


#: ``DRG_FULL_EXIT=1``: the ordinary interpreter shutdown at the end of a command (:func:`leave`)
FULL_EXIT = "DRG_FULL_EXIT"


def leave(code: int):
    """End the ``drg`` process with ``code`` once its command has returned: Python's exit handlers run (thread
    and process pools, temporary directories, logging, Dask clients), the standard streams are flushed, and
    the process exits without tearing the interpreter down — no finalization of every module and object, no
    static destructors of the libraries (LLVM's, loaded by numba, took 0.06 s; all of it 0.13–0.18 s at the
    end of `drg weights` over 20 M history cases, 2026-12-06). Every file a command writes is closed (and
    renamed into place) before it returns, so nothing is left half-written. ``DRG_FULL_EXIT=1`` keeps the
    ordinary shutdown."""
    import atexit
    import sys

    if os.environ.get(FULL_EXIT) == "1":
        sys.exit(code)
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed or broken pipe: nothing more can be said on it
                pass
        os._exit(code)
