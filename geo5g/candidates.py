"""Candidate sites: the fewest new sites that close corridor gaps, and sites that cover people.

Three planners' questions, each answered with a greedy method whose guarantee is known:

* :func:`gap_candidates` — how many new sites close each gap of a road, and where?
  Along a line a site within ``r`` of every point of its stretch closes ``2 r`` of it;
  the greedy interval cover (sites at ``r, 3r, 5r …`` from the gap start) is optimal in
  one dimension: ``ceil(L / 2r)`` sites for a gap of length ``L``.
* :func:`existing_first` — which existing towers (e.g. LTE sites, upgraded to 5G)
  close the most gap metres first? Weighted greedy maximum coverage over the exact
  intervals of the gap lines inside each tower's disk (segment–circle intersections,
  as in :mod:`geo5g.lines`); the gap metres a set of towers closes is submodular, so
  greedy closes at least ``1 − 1/e`` of the best possible with as many towers.
* :func:`population_candidates` — where do ``n`` new sites cover the most residents not
  yet covered? Lazy greedy maximum coverage on a population grid (same guarantee).

All distances are in metres: layers and grids must be in a projected CRS in metres
(e.g. the local transverse Mercator of :func:`geo5g.project.metric_crs`, or UTM).
"""

from __future__ import annotations

import heapq

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import CRS
from scipy.spatial import cKDTree

from .errors import CRSError, DataError
from .lines import cover_lines

__all__ = [
    "existing_first",
    "gap_candidates",
    "population_candidates",
]

_GAP_COLUMNS = ("ref", "city_adcode", "start_m", "end_m", "length_m")
_TOL = 1e-9  # relative: a point this close to the reach is within it
_TIE_M = 1e-6  # metres: gains this close are a tie (the first tower wins)
_LINE_GAP = 1.0  # metres between consecutive gaps in the global chainage
_PAIRS = 2_000_000  # (candidate, pixel) pairs made at once
_SMALL_KERNEL = 64  # disks of more pixels are convolved by FFT


# --------------------------------------------------------------------------- checks


def _reach(reach_m, name: str = "reach_m") -> float:
    try:
        r = float(reach_m)
    except (TypeError, ValueError):
        raise DataError(f"{name}: {reach_m!r} is not a number; give the reach in metres") from None
    if not np.isfinite(r) or r <= 0:
        raise DataError(f"{name}: {reach_m!r} must be finite and > 0 metres")
    return r


def _metric(crs, name: str) -> CRS:
    """The CRS, which must be projected with axes in metres."""
    if crs is None:
        raise CRSError(f"{name}: no CRS; geo5g never guesses one, set it (GeoDataFrame.set_crs)")
    crs = CRS.from_user_input(crs)
    factors = [axis.unit_conversion_factor for axis in crs.axis_info[:2]]
    if not crs.is_projected or not np.allclose(factors, 1.0):
        raise CRSError(
            f"{name}: CRS {crs.to_string()} is not projected in metres; "
            "project it first (geo5g.project.to_metric)"
        )
    return crs


def _gaps(gaps: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The gap runs (``covered`` False when there is that column) with some length."""
    missing = [c for c in _GAP_COLUMNS if c not in gaps.columns]
    if missing:
        raise DataError(
            f"gaps: missing columns {', '.join(missing)}; pass runs of geo5g.lines.cover_lines"
        )
    _metric(gaps.crs, "gaps")
    keep = gaps["length_m"].to_numpy("float64") > 0
    if "covered" in gaps.columns:
        keep &= ~gaps["covered"].to_numpy(dtype=bool)
    geoms = np.asarray(gaps.geometry.values, dtype=object)
    keep &= ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    keep &= shapely.length(np.where(keep, geoms, None)) > 0
    return gaps[keep]


# --------------------------------------------------------------------------- new sites on gaps


def gap_candidates(gaps: gpd.GeoDataFrame, reach_m: float) -> gpd.GeoDataFrame:
    """The fewest new sites on each gap so that every point of it is within reach.

    Parameters
    ----------
    gaps : geopandas.GeoDataFrame
        Gap runs in a metric CRS with ``ref, city_adcode, start_m, end_m, length_m``
        and line geometries (runs of :func:`geo5g.lines.cover_lines`; with a
        ``covered`` column only the uncovered ones are used).
    reach_m : float
        Reach of a new site along the line, metres.

    Returns
    -------
    geopandas.GeoDataFrame
        One point per new site, in the gaps' CRS: ``gap`` (index label of the gap
        row), ``ref``, ``name`` (when the gaps have it), ``city_adcode``,
        ``chainage_m`` (``start_m`` + the offset along the gap), ``offset_m`` and
        ``closes_m`` (metres of gap the site closes; per gap they sum to its length).
        A gap of length ``L`` gets ``ceil(L / 2r)`` sites at ``r, 3r, 5r …`` from its
        start, the last one moved back to the gap's end if it would lie beyond it.

    Examples
    --------
    >>> line = shapely.LineString([(0, 0), (10_000, 0)])
    >>> gaps = gpd.GeoDataFrame({"ref": ["G2"], "city_adcode": [320100], "start_m": [0.0],
    ...     "end_m": [10_000.0], "length_m": [10_000.0]}, geometry=[line], crs="EPSG:32650")
    >>> gap_candidates(gaps, 1_000)["chainage_m"].tolist()
    [1000.0, 3000.0, 5000.0, 7000.0, 9000.0]
    """
    r = _reach(reach_m)
    gaps = _gaps(gaps)
    length = gaps["length_m"].to_numpy("float64")
    n = np.ceil(length / (2 * r) * (1 - _TOL)).astype(np.int64)
    n = np.maximum(n, (length > 0).astype(np.int64))
    gap = np.repeat(np.arange(len(gaps)), n)
    k = np.arange(len(gap)) - np.repeat(np.cumsum(n) - n, n)
    L = length[gap]
    offset = np.minimum((2 * k + 1) * r, L)
    last = k == n[gap] - 1
    closes = np.where(last, L - 2 * k * r, 2 * r)
    geoms = np.asarray(gaps.geometry.values, dtype=object)[gap]
    points = shapely.line_interpolate_point(geoms, offset / L, normalized=True)
    data = {
        "gap": gaps.index.to_numpy()[gap],
        "ref": gaps["ref"].to_numpy(dtype=object)[gap],
    }
    if "name" in gaps.columns:
        data["name"] = gaps["name"].to_numpy(dtype=object)[gap]
    data.update(
        city_adcode=gaps["city_adcode"].to_numpy()[gap],
        chainage_m=gaps["start_m"].to_numpy("float64")[gap] + offset,
        offset_m=offset,
        closes_m=closes,
    )
    return gpd.GeoDataFrame(data, geometry=points, crs=gaps.crs)


# --------------------------------------------------------------------------- existing towers


def _tower_xy(towers, crs):
    """Tower coordinates and labels: a point layer in ``crs``, an (n, 2) array, or (x, y)."""
    if isinstance(towers, gpd.GeoDataFrame | gpd.GeoSeries):
        if towers.crs is None or not CRS.from_user_input(towers.crs).equals(crs):
            raise CRSError("towers: CRS differs from the gaps'; project them to the gaps' CRS")
        geoms = np.asarray(towers.geometry.values, dtype=object)
        if len(geoms) and not np.all(shapely.get_type_id(geoms) == 0):
            raise DataError("towers: every feature must be a single point")
        return shapely.get_x(geoms), shapely.get_y(geoms), towers.index.to_numpy()
    if isinstance(towers, tuple) and len(towers) == 2:
        x, y = (np.asarray(v, dtype="float64").ravel() for v in towers)
    else:
        xy = np.asarray(towers, dtype="float64")
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise DataError(f"towers: shape {xy.shape} is not (n, 2); give (x, y) per tower")
        x, y = xy[:, 0], xy[:, 1]
    if x.shape != y.shape:
        raise DataError(f"towers: x and y have different lengths ({x.size} and {y.size})")
    return x, y, np.arange(x.size)


def _segments(gaps: gpd.GeoDataFrame, piece: float):
    """Straight pieces of at most ``piece`` metres of the gap lines, with global chainages.

    Returns ``x0, y0, dx, dy, c0, clen, base`` where ``c0``/``clen`` are a piece's
    start and length in metres of the global chainage (gap ``g`` starts at ``base[g]``;
    the geometry's length is scaled to ``length_m``).
    """
    geoms = np.asarray(gaps.geometry.values, dtype=object)
    length = gaps["length_m"].to_numpy("float64")
    base = np.r_[0.0, np.cumsum(length + _LINE_GAP)[:-1]]
    factor = length / shapely.length(geoms)
    parts, feature = shapely.get_parts(geoms, return_index=True)
    # multi-part gaps: each part's chainage continues from the parts before it
    plen = shapely.length(parts)
    pstart = pd.Series(plen).groupby(feature).cumsum().to_numpy() - plen
    xy, vpart = shapely.get_coordinates(parts, return_index=True)
    seg = np.flatnonzero(vpart[1:] == vpart[:-1])
    d = xy[seg + 1] - xy[seg]
    slen = np.hypot(d[:, 0], d[:, 1])
    step = np.where(vpart[1:] == vpart[:-1], np.hypot(*(xy[1:] - xy[:-1]).T), 0.0)
    cum = np.r_[0.0, np.cumsum(step)]
    first = np.searchsorted(vpart, vpart)  # first vertex of each vertex's part
    chain = cum - cum[first]  # chainage along the part (geometry units)
    g = feature[vpart[seg]]
    s0 = (pstart[vpart[seg]] + chain[seg]) * factor[g] + base[g]
    keep = slen > 0
    seg, d, slen, g, s0 = seg[keep], d[keep], slen[keep], g[keep], s0[keep]
    n = np.maximum(np.ceil(slen / piece).astype(np.int64), 1)
    i = np.repeat(np.arange(len(seg)), n)
    t0 = (np.arange(len(i)) - np.repeat(np.cumsum(n) - n, n)) / n[i]
    frac = 1.0 / n[i]
    return (
        xy[seg, 0][i] + d[i, 0] * t0,
        xy[seg, 1][i] + d[i, 1] * t0,
        d[i, 0] * frac,
        d[i, 1] * frac,
        s0[i] + slen[i] * factor[g[i]] * t0,
        slen[i] * factor[g[i]] * frac,
        base,
    )


def _tower_intervals(pieces, tx, ty, r: float):
    """Per tower, the disjoint chainage intervals of the gap lines inside its disk.

    Returns ``tower, a, b`` sorted by tower then ``a``.
    """
    x0, y0, dx, dy, c0, clen, _ = pieces
    empty = np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    if not len(x0) or not len(tx):
        return empty
    half = np.hypot(dx, dy) / 2
    mids = cKDTree(np.column_stack([x0 + dx / 2, y0 + dy / 2]))
    sites = cKDTree(np.column_stack([tx, ty]))
    pairs = mids.sparse_distance_matrix(sites, r + half.max() + 1e-6, output_type="ndarray")
    i, j = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
    # |P0 + t·d − C|² = r²: a quadratic in the piece parameter t
    fx, fy = x0[i] - tx[j], y0[i] - ty[j]
    qa = dx[i] ** 2 + dy[i] ** 2
    qb = 2.0 * (fx * dx[i] + fy * dy[i])
    qc = fx**2 + fy**2 - r * r  # the rule of geo5g.lines: exactly at the reach is within
    disc = qb**2 - 4.0 * qa * qc
    hit = disc > 0
    root = np.sqrt(disc[hit])
    t0 = np.clip((-qb[hit] - root) / (2.0 * qa[hit]), 0.0, 1.0)
    t1 = np.clip((-qb[hit] + root) / (2.0 * qa[hit]), 0.0, 1.0)
    i, j = i[hit], j[hit]
    a, b = c0[i] + t0 * clen[i], c0[i] + t1 * clen[i]
    keep = b > a
    tower, a, b = j[keep], a[keep], b[keep]
    if not len(tower):
        return empty
    # union per tower: one sort, a running maximum within each tower
    order = np.lexsort((a, tower))
    tower, a, b = tower[order], a[order], b[order]
    reach = pd.Series(b).groupby(tower).cummax().to_numpy()
    start = np.r_[True, (tower[1:] != tower[:-1]) | (a[1:] > reach[:-1] + 1e-6)]
    idx = np.flatnonzero(start)
    return tower[idx], a[idx], np.maximum.reduceat(b, idx)


def _covered_below(us: np.ndarray, ue: np.ndarray, cum: np.ndarray, x: np.ndarray):
    """Length of the union of sorted disjoint intervals ``[us, ue]`` below each ``x``."""
    if not len(us):
        return np.zeros(len(x))
    k = np.searchsorted(us, x, side="right") - 1
    inside = np.clip(x - us[np.maximum(k, 0)], 0.0, (ue - us)[np.maximum(k, 0)])
    return np.where(k >= 0, cum[np.maximum(k, 0)] + inside, 0.0)


def existing_first(
    gaps: gpd.GeoDataFrame,
    reach_m: float,
    towers_xy,
    *,
    min_gain_m: float = 50.0,
):
    """Existing towers that close the most gap metres, chosen greedily; and what is left.

    Parameters
    ----------
    gaps : geopandas.GeoDataFrame
        Gap runs as for :func:`gap_candidates` (metric CRS).
    reach_m : float
        Reach of a tower once it carries 5G, metres.
    towers_xy : geopandas.GeoSeries or geopandas.GeoDataFrame or array_like
        Existing towers: points in the gaps' CRS, an ``(n, 2)`` array or ``(x, y)``.
    min_gain_m : float
        Stop when no tower closes more than this many metres of the gaps left.

    Returns
    -------
    chosen : pandas.DataFrame
        The towers in the order chosen (index ``rank`` from 1): ``tower`` (index label
        of the layer, or position in the array), ``x``, ``y``, ``closes_m`` (gap metres
        it closes that no tower chosen before it closes) and ``cumulative_m``.
    remaining : geopandas.GeoDataFrame
        The stretches of the gaps no chosen tower reaches (``gap``, ``ref``, ``name``,
        ``city_adcode``, ``start_m``, ``end_m``, ``length_m``, ``covered`` False,
        geometry), to pass to :func:`gap_candidates`.

    Notes
    -----
    Each round computes, for every tower still in the running, the metres of its
    exact intervals (segment–circle intersections) not yet closed, with one sort of
    the closed intervals; a tower whose gain fell to ``min_gain_m`` or less leaves the
    running (gains only fall). Ties (within a micrometre) go to the tower given first.
    A tower covering nothing is never chosen.
    """
    r = _reach(reach_m)
    gaps = _gaps(gaps)
    crs = _metric(gaps.crs, "gaps")
    tx, ty, labels = _tower_xy(towers_xy, crs)
    finite = np.isfinite(tx) & np.isfinite(ty)
    pieces = _segments(gaps, r)
    tower, a, b = _tower_intervals(pieces, tx[finite], ty[finite], r)
    tower = np.flatnonzero(finite)[tower]
    alive = np.unique(tower)
    us, ue, cum = np.zeros(0), np.zeros(0), np.zeros(1)
    picks, gains = [], []
    while len(alive):  # one round per tower chosen
        sel = np.isin(tower, alive)
        tower, a, b = tower[sel], a[sel], b[sel]
        closed = _covered_below(us, ue, cum, b) - _covered_below(us, ue, cum, a)
        gain = np.bincount(
            np.searchsorted(alive, tower), weights=(b - a) - closed, minlength=len(alive)
        )
        alive = alive[gain > min_gain_m]
        gain = gain[gain > min_gain_m]
        if not len(alive):
            break
        best = int(np.flatnonzero(gain >= gain.max() - _TIE_M)[0])  # ties: the first tower
        pick = alive[best]
        picks.append(pick)
        gains.append(float(gain[best]))
        mine = tower == pick
        both_s, both_e = np.r_[us, a[mine]], np.r_[ue, b[mine]]
        order = np.argsort(both_s, kind="stable")
        both_s, both_e = both_s[order], both_e[order]
        run = np.maximum.accumulate(both_e)
        start = np.flatnonzero(np.r_[True, both_s[1:] > run[:-1]])
        us, ue = both_s[start], np.maximum.reduceat(both_e, start)
        cum = np.r_[0.0, np.cumsum(ue - us)]
        alive = np.delete(alive, best)
    picks = np.asarray(picks, dtype=np.int64)
    chosen = pd.DataFrame(
        {
            "tower": labels[picks],
            "x": tx[picks],
            "y": ty[picks],
            "closes_m": np.asarray(gains, dtype="float64"),
        },
        index=pd.RangeIndex(1, len(picks) + 1, name="rank"),
    )
    chosen["cumulative_m"] = chosen["closes_m"].cumsum()
    return chosen, _remaining(gaps, tx[picks], ty[picks], r)


def _remaining(gaps: gpd.GeoDataFrame, x, y, r: float) -> gpd.GeoDataFrame:
    """The stretches of ``gaps`` outside every disk, by the exact line-cover engine."""
    lines = gpd.GeoDataFrame(
        {
            "ref": np.arange(len(gaps)).astype(str),
            "name": "",
            "chain_offset_m": gaps["start_m"].to_numpy("float64"),
        },
        geometry=np.asarray(gaps.geometry.values, dtype=object),
        crs=gaps.crs,
    )
    runs = cover_lines(lines, x, y, r)
    runs = runs[~runs["covered"].to_numpy(dtype=bool)]
    pos = runs["ref"].astype("int64").to_numpy()
    data = {
        "gap": gaps.index.to_numpy()[pos],
        "ref": gaps["ref"].to_numpy(dtype=object)[pos],
        "name": gaps["name"].to_numpy(dtype=object)[pos] if "name" in gaps.columns else "",
        "city_adcode": gaps["city_adcode"].to_numpy()[pos],
        "start_m": runs["start_m"].to_numpy("float64"),
        "end_m": runs["end_m"].to_numpy("float64"),
        "length_m": runs["length_m"].to_numpy("float64"),
        "covered": np.zeros(len(runs), dtype=bool),
    }
    return gpd.GeoDataFrame(
        data, geometry=np.asarray(runs.geometry.values, dtype=object), crs=gaps.crs
    ).reset_index(drop=True)


# --------------------------------------------------------------------------- people


class _Grid:
    """A north-up grid in metres: pixel centres and the pixels within reach of a point."""

    def __init__(self, transform, shape, reach: float):
        t = Affine(*tuple(transform)[:6])
        if t.b != 0 or t.d != 0:
            raise DataError("population: rotated grids are not supported; warp it north-up first")
        if t.a == 0 or t.e == 0:
            raise DataError("population: the grid's pixel size is 0; check the transform")
        self.t, self.shape, self.r = t, shape, reach
        self.sx, self.sy = abs(t.a), abs(t.e)
        self.ri = int(np.floor(reach / self.sy)) + 1  # rows a disk spans either side
        self.rj = int(np.floor(reach / self.sx)) + 1

    def fractional(self, x, y):
        """Row and column of points, in pixel units (pixel centres at whole numbers)."""
        return (y - self.t.f) / self.t.e - 0.5, (x - self.t.c) / self.t.a - 0.5

    def centre(self, i, j):
        return self.t.c + (j + 0.5) * self.t.a, self.t.f + (i + 0.5) * self.t.e

    def pixels(self, row, col):
        """``(point, i, j)`` of every pixel in the grid whose centre is within reach."""
        di, dj = np.mgrid[-self.ri : self.ri + 1, -self.rj : self.rj + 1]
        di, dj = di.ravel(), dj.ravel()
        i0, j0 = np.rint(row).astype(np.int64), np.rint(col).astype(np.int64)
        per = len(di)
        out = []
        step = max(1, _PAIRS // per)
        for s in range(0, len(row), step):  # chunks of points, for memory
            p = np.repeat(np.arange(s, min(s + step, len(row))), per)
            i = i0[p] + np.tile(di, len(p) // per)
            j = j0[p] + np.tile(dj, len(p) // per)
            d2 = ((i - row[p]) * self.sy) ** 2 + ((j - col[p]) * self.sx) ** 2
            h, w = self.shape
            ok = (d2 <= self.r**2 * (1 + _TOL)) & (i >= 0) & (i < h) & (j >= 0) & (j < w)
            out.append((p[ok], i[ok], j[ok]))
        if not out:
            return (np.zeros(0, dtype=np.int64),) * 3
        return tuple(np.concatenate(v) for v in zip(*out, strict=True))

    def kernel(self) -> np.ndarray:
        """The disk around a pixel centre, as a boolean window of pixels (not clipped)."""
        di, dj = np.mgrid[-self.ri : self.ri + 1, -self.rj : self.rj + 1]
        d2 = (di * self.sy) ** 2 + (dj * self.sx) ** 2
        return d2 <= self.r**2 * (1 + _TOL)


def _heap_less(ga, ka, gb, kb) -> bool:
    # the order of heapq on (−gain, k): larger gain first, then the smaller index
    return ga > gb or (ga == gb and ka < kb)


def _lazy_greedy_grid(left, rows, cols, gains, di, dj, n_sites):
    """Lazy greedy maximum coverage on a grid (compiled with numba when available).

    The same choices as the Python loop of :func:`population_candidates`: a binary
    heap ordered as ``heapq`` orders ``(−gain, k)``; a popped candidate whose gain
    has fallen below the heap's top goes back with its gain now.
    """
    return _lazy_kernel()(left, rows, cols, gains, di, dj, n_sites)


def _lazy_greedy_py(left, rows, cols, gains, di, dj, n_sites):
    h, w = left.shape
    m = rows.shape[0]
    hg = gains.copy()
    hk = np.arange(m)
    size = m

    def down(pos, size):
        while True:
            child = 2 * pos + 1
            if child >= size:
                return
            if child + 1 < size and _heap_less(hg[child + 1], hk[child + 1], hg[child], hk[child]):
                child += 1
            if _heap_less(hg[child], hk[child], hg[pos], hk[pos]):
                hg[pos], hg[child] = hg[child], hg[pos]
                hk[pos], hk[child] = hk[child], hk[pos]
                pos = child
            else:
                return

    def up(pos):
        while pos > 0:
            parent = (pos - 1) // 2
            if _heap_less(hg[pos], hk[pos], hg[parent], hk[parent]):
                hg[pos], hg[parent] = hg[parent], hg[pos]
                hk[pos], hk[parent] = hk[parent], hk[pos]
                pos = parent
            else:
                return

    for pos in range(m // 2 - 1, -1, -1):
        down(pos, size)
    picks = np.empty(max(n_sites, 0), dtype=np.int64)
    people = np.empty(max(n_sites, 0), dtype=np.float64)
    count = 0
    while size > 0 and count < n_sites:
        k = hk[0]
        size -= 1
        hg[0], hk[0] = hg[size], hk[size]
        down(0, size)
        gain = 0.0
        for t in range(di.shape[0]):
            i, j = rows[k] + di[t], cols[k] + dj[t]
            if 0 <= i < h and 0 <= j < w:
                gain += left[i, j]
        if gain <= 0:
            continue
        if size > 0 and gain < hg[0]:
            hg[size], hk[size] = gain, k
            up(size)
            size += 1
            continue
        picks[count], people[count] = k, gain
        count += 1
        for t in range(di.shape[0]):
            i, j = rows[k] + di[t], cols[k] + dj[t]
            if 0 <= i < h and 0 <= j < w:
                left[i, j] = 0.0
    return picks[:count], people[:count]


_COMPILED: list = []


def _lazy_kernel():
    """The compiled lazy greedy, made on first use (importing numba costs every start)."""
    if not _COMPILED:
        try:  # compiled once and cached beside the package (as geo5g/_strips.py)
            from numba import njit

            global _heap_less
            _heap_less = njit(cache=True)(_heap_less)
            _COMPILED.append(njit(cache=True)(_lazy_greedy_py))
        except ImportError:  # pragma: no cover - numba is a dependency
            _COMPILED.append(_lazy_greedy_py)
    return _COMPILED[0]


def _convolve(values: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over the (symmetric) ``kernel`` around every pixel."""
    if kernel.sum() <= _SMALL_KERNEL:
        from scipy import ndimage  # imported here: scipy.signal costs 0.4 s at every start

        return ndimage.correlate(values, kernel.astype("float64"), mode="constant", cval=0.0)
    from scipy import signal

    return signal.fftconvolve(values, kernel.astype("float64"), mode="same")


def population_candidates(
    population,
    transform,
    crs,
    covered_mask,
    n_sites: int,
    reach_m: float,
    candidates_xy=None,
) -> pd.DataFrame:
    """New sites that cover the most residents not yet covered (lazy greedy).

    Parameters
    ----------
    population : numpy.ndarray
        2-D residents per pixel (NaN as 0), e.g. a WorldPop grid warped to ``crs``.
    transform : affine.Affine
        North-up geotransform of the grid.
    crs : pyproj.CRS or str
        The grid's CRS: **projected, in metres** (distances are measured on the grid).
    covered_mask : numpy.ndarray of bool
        Pixels already covered (:func:`geo5g.popcover.coverage_mask`), same shape.
    n_sites : int
        Number of sites to choose (fewer are returned when everyone is covered first).
    reach_m : float
        Reach of a new site: it covers the pixels whose centre is within ``reach_m``.
    candidates_xy : array_like, optional
        Possible sites, ``(n, 2)`` or ``(x, y)`` in ``crs``; default every pixel centre.

    Returns
    -------
    pandas.DataFrame
        The sites in the order chosen (index ``rank`` from 1): ``x``, ``y``,
        ``candidate`` (position in ``candidates_xy``, or the flat pixel index
        ``row * width + col``), ``people`` (residents it newly covers) and
        ``cumulative``. ``attrs["uncovered"]`` holds the residents not covered before.

    Notes
    -----
    The first gains are one convolution of the uncovered people with the disk (for
    pixel-centre candidates) or one pass over all (candidate, pixel) pairs; then a
    priority queue re-evaluates only the candidate on top (gains only fall, so a
    candidate whose fresh gain still tops the queue is the best one). Greedy covers at
    least ``1 − 1/e`` of the best ``n_sites`` sites could.

    Examples
    --------
    >>> pop = np.array([[0, 0, 0, 0], [0, 5, 0, 0], [0, 0, 0, 7], [0, 0, 0, 0]])
    >>> out = population_candidates(pop, Affine(100, 0, 0, 0, -100, 400), "EPSG:32650",
    ...                             np.zeros((4, 4), bool), 2, 50)
    >>> out["people"].tolist(), out["cumulative"].tolist()
    ([7.0, 5.0], [7.0, 12.0])
    """
    crs = _metric(crs, "population")
    values = np.asarray(population, dtype="float64")
    if values.ndim != 2:
        raise DataError(f"population: expected a 2-D array, got {values.ndim} dimensions")
    values = np.where(np.isfinite(values), values, 0.0)
    if (values < 0).any():
        raise DataError(
            f"population: {int((values < 0).sum())} pixels are negative (lowest "
            f"{values.min():g}); mask the raster's nodata first"
        )
    mask = np.asarray(covered_mask, dtype=bool)
    if mask.shape != values.shape:
        raise DataError(
            f"covered_mask: shape {mask.shape} differs from the population's {values.shape}; "
            "make it with geo5g.popcover.coverage_mask on the same grid"
        )
    if int(n_sites) != n_sites or n_sites < 0:
        raise DataError(f"n_sites: {n_sites!r} is not a whole number ≥ 0")
    grid = _Grid(transform, values.shape, _reach(reach_m))
    left = np.where(mask, 0.0, values)
    uncovered = float(left.sum())
    _, w = values.shape
    if candidates_xy is None:
        kernel = grid.kernel()
        gains = _convolve(left, kernel).ravel()
        anyone = _convolve((left > 0).astype("float64"), kernel).ravel() > 0.5
        idx = np.flatnonzero(anyone)
        rows, cols = (idx // w).astype("float64"), (idx % w).astype("float64")
        cx, cy = grid.centre(rows, cols)
    else:
        if isinstance(candidates_xy, tuple) and len(candidates_xy) == 2:
            cx, cy = (np.asarray(v, dtype="float64").ravel() for v in candidates_xy)
        else:
            xy = np.asarray(candidates_xy, dtype="float64").reshape(-1, 2)
            cx, cy = xy[:, 0], xy[:, 1]
        rows, cols = grid.fractional(cx, cy)
        p, i, j = grid.pixels(rows, cols)
        gains = np.bincount(p, weights=left[i, j], minlength=len(cx))
        idx = np.flatnonzero(np.bincount(p, weights=left[i, j] > 0, minlength=len(cx)) > 0)
        cx, cy, rows, cols = cx[idx], cy[idx], rows[idx], cols[idx]
    if candidates_xy is None and len(idx):
        # candidates on pixel centres: one disk of offsets for all; the lazy greedy runs
        # compiled (the Python loop below costs ~100 µs per evaluation)
        kernel = grid.kernel()
        di, dj = np.nonzero(kernel)
        di, dj = di - grid.ri, dj - grid.rj
        picks, people = _lazy_greedy_grid(
            left,
            rows.astype(np.int64),
            cols.astype(np.int64),
            np.ascontiguousarray(gains[idx], dtype=np.float64),
            di.astype(np.int64),
            dj.astype(np.int64),
            int(n_sites),
        )
        out = pd.DataFrame(
            {"x": cx[picks], "y": cy[picks], "candidate": idx[picks], "people": people},
            index=pd.RangeIndex(1, len(picks) + 1, name="rank"),
        )
        out["cumulative"] = out["people"].cumsum()
        out.attrs["uncovered"] = uncovered
        return out
    heap = list(zip((-gains[idx]).tolist(), range(len(idx)), strict=True))
    heapq.heapify(heap)
    picks, people = [], []
    while heap and len(picks) < n_sites:  # one pop per evaluation of a candidate
        _, k = heapq.heappop(heap)
        _, i, j = grid.pixels(rows[k : k + 1], cols[k : k + 1])
        gain = float(left[i, j].sum())
        if gain <= 0:
            continue
        if heap and gain < -heap[0][0]:
            heapq.heappush(heap, (-gain, k))  # stale: back in the queue with its gain now
            continue
        picks.append(k)
        people.append(gain)
        left[i, j] = 0.0
    picks = np.asarray(picks, dtype=np.int64)
    out = pd.DataFrame(
        {
            "x": cx[picks],
            "y": cy[picks],
            "candidate": idx[picks],
            "people": np.asarray(people, dtype="float64"),
        },
        index=pd.RangeIndex(1, len(picks) + 1, name="rank"),
    )
    out["cumulative"] = out["people"].cumsum()
    out.attrs["uncovered"] = uncovered
    return out
