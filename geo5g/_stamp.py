"""Compiled kernels that stamp the sites' disks on a raster (:mod:`geo5g.popcover`).

The same rule as :mod:`geo5g.popcover`'s NumPy path, operation for operation (so
both give the same pixels): a site is an ellipse on the pixel grid, centre
``(row, col)`` in fractional pixels and semi-axes ``(ry, rx)`` in pixels; on each
pixel row it crosses it covers the pixel centres ``[j0, j1]``. Compiled, a band
of rows is one pass over the sites that can reach it, with no per-run
temporaries (the NumPy path builds eight arrays per run, ~75 MB per chunk of
sites), and the sites are ordered by row with a counting sort in two passes.

The kernels live in their own module because numba caches compiled code keyed to
this file (editing :mod:`geo5g.popcover` does not force a recompilation).
"""

from __future__ import annotations

import functools
import math
import sys

import numpy as np

__all__ = ["compiled", "kernels"]

#: Below this many sites NumPy is used unless numba is loaded already: importing it
#: costs ~0.3 s, more than a province's sites take in NumPy.
_COMPILED_FROM = 300_000


def compiled(n: int) -> bool:
    """Whether ``n`` sites go through the compiled kernels."""
    return n >= _COMPILED_FROM or "numba" in sys.modules


def _prepare(x, y, rx, ry, c, a, f, e, height):
    """Sites by whole pixel row: ``starts`` of each row key, and row, col, rx, ry in order.

    Key ``k + 1`` for pixel row ``k`` clipped to ``[-1, height]`` (sites beyond the
    raster reach no band anyway); sites with a non-finite position are dropped.
    """
    n = x.size
    nk = height + 2
    starts = np.zeros(nk + 1, np.int64)
    for i in range(n):
        row = (y[i] - f) / e
        if not (math.isfinite(x[i]) and math.isfinite(row)):
            continue
        k = int(min(max(math.floor(row), -1.0), float(height))) + 1
        starts[k + 1] += 1
    for k in range(nk):
        starts[k + 1] += starts[k]
    fill = starts[:-1].copy()
    m = starts[nk]
    rows = np.empty(m, np.float64)
    cols = np.empty(m, np.float64)
    rxs = np.empty(m, np.float64)
    rys = np.empty(m, np.float64)
    for i in range(n):
        row = (y[i] - f) / e
        if not (math.isfinite(x[i]) and math.isfinite(row)):
            continue
        k = int(min(max(math.floor(row), -1.0), float(height))) + 1
        p = fill[k]
        fill[k] = p + 1
        rows[p] = row
        cols[p] = (x[i] - c) / a
        rxs[p] = rx[i]
        rys[p] = ry[i]
    return starts, rows, cols, rxs, rys


def _band(row, col, rx, ry, lo, hi, r0, r1, width, out):
    """Mark in ``out`` (``(r1 - r0, width)`` bool) the pixel centres sites ``lo:hi`` reach.

    Every pixel holds the furthest end of the runs that start on it; a running
    maximum along the row then tells whether some run started at or before the
    pixel reaches it (the NumPy path's ``maximum.at`` and ``maximum.accumulate``).
    """
    nrows = r1 - r0
    end = np.full(nrows * width, -1, np.int32)
    for i in range(lo, hi):
        r = row[i]
        ay = ry[i]
        first = max(math.ceil(r - ay - 0.5), float(r0))
        last = min(math.floor(r + ay - 0.5), r1 - 1.0)
        if not first <= last:  # also false for NaN: nothing is stamped
            continue
        cx = col[i]
        ax = rx[i]
        for k in range(int(first), int(last) + 1):
            dy = (k + 0.5 - r) / ay
            half = ax * math.sqrt(max(1.0 - dy * dy, 0.0))
            j0 = max(math.ceil(cx - half - 0.5), 0.0)
            j1 = min(math.floor(cx + half - 0.5), width - 1.0)
            if j0 <= j1:
                p = (k - r0) * width + int(j0)
                v = int(j1)
                if end[p] < v:
                    end[p] = v
    for k in range(nrows):
        run = -1
        base = k * width
        for j in range(width):
            v = end[base + j]
            if v > run:
                run = v
            out[k, j] = run >= j


@functools.cache
def kernels():
    """``(prepare, band)`` compiled by numba (cached on disk), or None without numba."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    jit = numba.njit(cache=True, nogil=True)
    return jit(_prepare), jit(_band)
