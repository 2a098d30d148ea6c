"""Process-wide memory settings for large runs: called once by the CLI and the benchmark.

A national run makes and drops many arrays of tens of MB. On a virtual machine every
page a process touches for the first time is a fault the hypervisor serves (a
national run faulted 330,000 pages, 2–5 s of system time). These settings let freed
memory be reused instead of faulted in again; none changes a result.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys

__all__ = ["prepare_process", "release_arrow_memory"]


def prepare_process() -> None:
    """Keep freed blocks for reuse (glibc, one heap for all threads); Arrow on that heap."""
    _keep_freed_memory()
    _arrow_on_malloc()


def _keep_freed_memory() -> None:
    """Let glibc keep large freed blocks for reuse instead of returning them to the OS.

    By default each array above 128 kB is a fresh mmap whose pages are faulted in
    again (a second of system time for the nation). A high mmap threshold serves
    them from the heap. No effect outside Linux with glibc.
    """
    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(name)
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 1 << 30)
        libc.mallopt(m_trim_threshold, (1 << 31) - 1)
        # Each thread would otherwise get an arena of its own, whose freed blocks the
        # others cannot reuse; the pipeline's worker threads make and free large arrays
        # too (nation: 400,000 → 365,000 faults, peak 1.88 → 1.74 GB with one arena).
        m_arena_max = -8
        libc.mallopt(m_arena_max, 1)


def _arrow_on_malloc() -> None:
    """Arrow buffers from malloc, not Arrow's own mimalloc pool.

    A GeoParquet of sites is read into Arrow buffers and converted to NumPy; with
    its own pool the freed buffers cannot serve the NumPy arrays that follow, and
    the pool's fresh pages were most of the read's time (4.8 M sites: 1.7 s, of
    which 1.1 s system time; from malloc 0.8 s, 0.3 s).
    """
    with contextlib.suppress(ImportError, AttributeError, NotImplementedError):
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())


def release_arrow_memory() -> None:
    """Hand the buffers Arrow's own pool keeps back to the system, after a large read.

    Arrow's mimalloc/jemalloc pool keeps freed memory for itself: after parsing
    millions of sites that is hundreds of MB no NumPy array can reuse. On the system
    pool (:func:`prepare_process`) the freed buffers are already malloc's to reuse,
    and Arrow's release would be ``malloc_trim``: every freed page of the process
    given back and faulted in again by the next stage (4.8 M sites: ~600 MB).
    """
    with contextlib.suppress(ImportError):
        import pyarrow as pa

        pool = pa.default_memory_pool()
        if pool.backend_name != "system":
            pool.release_unused()
