"""Compiled kernels of the urban/rural density rule (:func:`geo5g.coverage.urban_from_density`).

The three kernels only ever run compiled by numba (:func:`kernels`), one call per
block of strips on each core; as plain Python they would take minutes. They
live in their own module because numba caches the compiled code keyed to this
file: editing :mod:`geo5g.coverage` does not force a recompilation (3–5 s).
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["kernels"]


def _by_strip(strip, nstrips, x, y):
    """Counting sort of the sites by strip: order, strip starts, and x, y in that order."""
    n = strip.size
    starts = np.zeros(nstrips + 1, np.int64)
    for i in range(n):
        starts[strip[i] + 1] += 1
    for j in range(nstrips):
        starts[j + 1] += starts[j]
    fill = starts[:-1].copy()
    perm = np.empty(n, np.int64)
    xs = np.empty(n, np.float64)
    ys = np.empty(n, np.float64)
    for i in range(n):
        p = fill[strip[i]]
        fill[strip[i]] = p + 1
        perm[p] = i
        xs[p] = x[i]
        ys[p] = y[i]
    return perm, starts, xs, ys


def _sort_strips(j0, j1, starts, perm, xs, ys, x0, q, ibits):
    """Sort the sites of strips ``j0 .. j1 - 1`` by x (in place)."""
    mask = (np.int64(1) << ibits) - 1
    for j in range(j0, j1):
        a, b = starts[j], starts[j + 1]
        m = b - a
        if m < 2:
            continue
        key = np.empty(m, np.int64)
        for i in range(m):
            key[i] = (np.int64((xs[a + i] - x0) / q) << ibits) | i
        key.sort()
        sx, sy, sp = xs[a:b].copy(), ys[a:b].copy(), perm[a:b].copy()
        for i in range(m):
            o = key[i] & mask
            xs[a + i] = sx[o]
            ys[a + i] = sy[o]
            perm[a + i] = sp[o]


def _count_strips(j0, j1, xs, ys, starts, offsets, y0, h, r, t, tol, k, flags):
    """Flag the sites of strips ``j0 .. j1 - 1`` having >= k sites with d² <= t."""
    nstrips = starts.size - 1
    m = offsets.size
    lo = np.empty(m, np.int64)  # per neighbour strip: first site not left of every window
    hi = np.empty(m, np.int64)
    for j in range(j0, j1):
        a, b = starts[j], starts[j + 1]
        for s in range(m):
            jj = j + offsets[s]
            inside = 0 <= jj < nstrips
            lo[s] = starts[jj] if inside else 0
            hi[s] = starts[jj + 1] if inside else 0
        base = y0 + j * h
        for i in range(a, b):
            px, py = xs[i], ys[i]
            fy = py - base
            c = 0
            for s in range(m):  # own strip first, then outwards: dense sites stop early
                p, end = lo[s], hi[s]
                if p >= end:
                    continue
                d = offsets[s]
                gap = d * h - fy if d > 0 else ((-d - 1) * h + fy if d < 0 else 0.0)
                gap -= tol
                if gap > r:
                    continue
                # sites arrive sorted by x, so each strip's left edge only moves right
                left = px - r - tol
                while p < end and xs[p] < left:
                    p += 1
                lo[s] = p
                right = px + (np.sqrt(r * r - gap * gap) if gap > 0 else r) + tol
                while p < end and xs[p] <= right:
                    dx = xs[p] - px
                    dy = ys[p] - py
                    if dx * dx + dy * dy <= t:
                        c += 1
                        if c >= k:
                            break
                    p += 1
                if c >= k:
                    break
            flags[i] = c >= k


@functools.cache
def kernels():
    """The strip kernels compiled by numba (cached on disk), or None without numba."""
    try:
        import numba
    except ImportError:
        return None
    jit = numba.njit(cache=True, nogil=True)
    return jit(_by_strip), jit(_sort_strips), jit(_count_strips)
