"""The point scale factor of the frame's transverse Mercator zones, compiled.

Every site and road vertex put into a zone of the measurement frame
(:func:`geo5g.project.measure_frame`) needs the zone's point scale factor ``k``
(:meth:`geo5g.project.Zone.scale`): millions of values per national run. In NumPy
the series took two table look-ups (``np.interp``, a binary search each) and ten
temporary arrays, longer than PROJ's transformation itself; compiled, it is one
pass over the points on every core.

The kernel lives in its own module because numba caches compiled code keyed to
this file (editing :mod:`geo5g.project` does not force a recompilation).
"""

from __future__ import annotations

import functools
import math
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["scale_factor"]

_POINTS_PER_THREAD = 500_000  # below this a second thread costs more than it saves
#: Below this many points NumPy is used unless numba is loaded already: importing it
#: costs ~0.3 s and ~90 MB, more than the series takes in NumPy for a province's sites
#: (Jiangsu: 227,000); a national run's zones hold ~440,000 each.
_COMPILED_FROM = 300_000


def _compiled(n: int) -> bool:
    """Whether ``n`` points go through the compiled kernel."""
    return n >= _COMPILED_FROM or "numba" in sys.modules


def _scale(x, y, y0, step, n1_at, c1_at, x0, out):
    """Snyder 8-25 in ``D = (x − x0) / N1``, N1 and C1 interpolated by northing."""
    last = n1_at.size - 2
    for i in range(x.size):
        u = (y[i] - y0) / step
        if math.isnan(u):  # NaN in, NaN out
            out[i] = np.nan
            continue
        u = min(max(u, 0.0), last + 1.0)  # clamped at the table's ends, as np.interp
        j = min(int(u), last)
        f = u - j
        n1 = n1_at[j] + (n1_at[j + 1] - n1_at[j]) * f
        c1 = c1_at[j] + (c1_at[j + 1] - c1_at[j]) * f
        d = (x[i] - x0) / n1
        d2 = d * d
        out[i] = 1.0 + (1.0 + c1) * d2 / 2.0 + (1.0 + 6.0 * c1) * d2 * d2 / 24.0


@functools.cache
def _kernel():
    """The kernel compiled by numba (cached on disk), or the Python one without numba."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return _scale
    return numba.njit(cache=True, nogil=True)(_scale)


def scale_factor(x, y, grid: np.ndarray, n1_at: np.ndarray, c1_at: np.ndarray, x0: float):
    """Point scale factor at projected (x, y) from footpoint terms tabulated by northing.

    Parameters
    ----------
    x, y : array_like
        Projected coordinates (metres).
    grid : numpy.ndarray
        Northings of the table, evenly spaced.
    n1_at, c1_at : numpy.ndarray
        N1 (radius of curvature in the prime vertical) and C1 = e'² cos² φ1 at the
        footpoint latitude of each northing.
    x0 : float
        False easting.

    Returns
    -------
    numpy.ndarray
        ``k`` at each point (the shape of ``x``).
    """
    x = np.asarray(x, dtype="float64")
    shape = x.shape
    x = np.ascontiguousarray(x).ravel()
    y = np.ascontiguousarray(y, dtype="float64").ravel()
    if not _compiled(x.size):
        n1 = np.interp(y, grid, n1_at)
        c1 = np.interp(y, grid, c1_at)
        d2 = ((x - x0) / n1) ** 2
        return (1 + (1 + c1) * d2 / 2 + (1 + 6 * c1) * d2 * d2 / 24).reshape(shape)
    out = np.empty(x.size)
    kernel = _kernel()
    y0, step = float(grid[0]), float(grid[1] - grid[0])
    workers = max(1, min(os.cpu_count() or 1, x.size // _POINTS_PER_THREAD))
    cuts = np.linspace(0, x.size, workers + 1).astype(int)

    def part(k):
        sl = slice(cuts[k], cuts[k + 1])
        kernel(x[sl], y[sl], y0, step, n1_at, c1_at, float(x0), out[sl])

    if workers == 1:
        part(0)
    else:  # the kernel releases the GIL
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(part, range(workers)))
    return out.reshape(shape)
