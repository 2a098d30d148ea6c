"""Coverage along roads: 5G gaps on expressways, and RSU road-km.

The method is exact (no buffers, no polygon unions):

1. Roads are exploded into line parts; every vertex gets its chainage (metres from
   the start of its line), and every line a *global* offset so that one sorted
   array of chainages covers all lines (lines are 1 m apart in it).
2. Segments are cut into pieces of at most ``piece_m``; a KD-tree on the piece
   midpoints finds, per radius bin of the sites (reaches within a factor 1.25), every
   (piece, site) pair closer than the bin's largest reach plus half a piece. Binning
   by radius matters: the nearest site not covering a point does not prove that a
   farther site with a larger reach does not.
3. For each pair the segment–circle intersection is a quadratic in the piece
   parameter t; its roots, clipped to [0, 1], are the covered interval. The union of
   intervals is one sort and a running maximum (``np.maximum.accumulate``).
4. City boundaries become intervals too (``shapely.intersection`` of lines and city
   polygons, located along the line). All interval ends and vertices cut the lines
   into elementary stretches; each gets its line, city, covered flag and whether it
   repeats a segment already counted (two refs sharing a carriageway) by
   ``searchsorted``; consecutive stretches with the same line, city and flag merge
   into runs.

Everything is arrays; the only Python loop is over the (few) radius bins.

The main entry points are :func:`road_coverage` (5G gaps per road ref, city and
province) and :func:`rsu_road_km` (road-km within range of a roadside unit); both
return frozen result objects holding pure DataFrames indexed by ref / adcode and a
GeoDataFrame of runs. :func:`cover_lines` is the underlying primitive and
:func:`summarise` turns its runs into totals.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.spatial import cKDTree

from .coverage import (
    CoverageModel,
    CoverageSettings,
    load_settings,
    point_xy,
    site_reach,
    sites_near,
)
from .errors import CRSError, DataError
from .project import metric_crs, to_metric, to_wgs84

__all__ = [
    "RUN_COLUMNS",
    "CorridorCoverage",
    "PreparedRoads",
    "RSUCoverage",
    "cover_lines",
    "prepare_roads",
    "road_coverage",
    "rsu_road_km",
    "summarise",
    "synthetic_rsu",
]

#: Columns of the runs GeoDataFrame returned by :func:`cover_lines`.
RUN_COLUMNS = (
    "ref",
    "name",
    "city_adcode",
    "covered",
    "start_m",
    "end_m",
    "length_m",
    "route_m",
    "network_m",
    "schematic",
    "geometry",
)

_TOL = 1e-6  # metres: interval ends closer than this are the same point
_BIN_RATIO = 1.25  # reaches within this factor share a KD-tree search radius
_LINE_GAP = 1.0  # metres between consecutive lines in the global chainage
_PAIRS_PER_CHUNK = 2_000_000  # (piece, site) pairs handled at once: ~250 MB of arrays


# ------------------------------------------------------------------ line geometry


@dataclass(frozen=True)
class _Lines:
    """Line parts as vertex arrays, with chainages."""

    parts: np.ndarray  # LineString per line
    feature: np.ndarray  # source row position per line
    offset: np.ndarray  # chainage of the line's start within its feature
    length: np.ndarray  # per line
    base: np.ndarray  # global chainage of each line's start
    x: np.ndarray  # per vertex
    y: np.ndarray
    vline: np.ndarray  # line of each vertex
    g: np.ndarray  # global chainage of each vertex (strictly increasing)


def _explode(geoms: np.ndarray) -> _Lines:
    parts, feature = shapely.get_parts(geoms, return_index=True)
    plen = shapely.length(parts)
    # multi-part features: a part's chainage continues from the parts before it
    offset = pd.Series(plen).groupby(feature).cumsum().to_numpy() - plen
    keep = plen > 0
    parts, feature, offset = parts[keep], feature[keep], offset[keep]
    xy, vline = shapely.get_coordinates(parts, return_index=True)
    repeat = np.zeros(len(vline), dtype=bool)
    repeat[1:] = (vline[1:] == vline[:-1]) & (xy[1:] == xy[:-1]).all(axis=1)
    xy, vline = xy[~repeat], vline[~repeat]
    same = vline[1:] == vline[:-1]
    step = np.r_[0.0, np.where(same, np.hypot(*(xy[1:] - xy[:-1]).T), 0.0)][: len(vline)]
    cum = np.cumsum(step)
    first = np.flatnonzero(np.r_[True, ~same][: len(vline)])  # first vertex of each line
    chain = cum - cum[first][vline]
    length = chain[np.r_[first[1:] - 1, len(vline) - 1]] if len(first) else np.zeros(0)
    base = np.r_[0.0, np.cumsum(length + _LINE_GAP)[:-1]] if len(first) else np.zeros(0)
    g = chain + base[vline]
    return _Lines(parts, feature, offset, length, base, xy[:, 0], xy[:, 1], vline, g)


def _segments(lines: _Lines):
    """Indices of vertices that start a segment (the next vertex is on the same line)."""
    return np.flatnonzero(lines.vline[1:] == lines.vline[:-1])


def _pieces(lines: _Lines, piece_m: float):
    """Cut segments into pieces of at most ``piece_m``: arrays x0, y0, dx, dy, g0, length."""
    k = _segments(lines)
    x0, y0 = lines.x[k], lines.y[k]
    dx, dy = lines.x[k + 1] - x0, lines.y[k + 1] - y0
    slen = lines.g[k + 1] - lines.g[k]
    n = np.maximum(np.ceil(slen / piece_m).astype(np.int64), 1)
    seg = np.repeat(np.arange(len(k)), n)
    j = np.arange(len(seg)) - np.repeat(np.cumsum(n) - n, n)
    t0 = j / n[seg]
    frac = 1.0 / n[seg]
    return (
        x0[seg] + dx[seg] * t0,
        y0[seg] + dy[seg] * t0,
        dx[seg] * frac,
        dy[seg] * frac,
        lines.g[k][seg] + slen[seg] * t0,
        slen[seg] * frac,
    )


def _union(a: np.ndarray, b: np.ndarray):
    """Union of intervals [a, b]: sorted, disjoint (touching intervals merge)."""
    if len(a) == 0:
        return a, b
    order = np.argsort(a)
    a, b = a[order], b[order]
    reach = np.maximum.accumulate(b)
    start = np.r_[True, a[1:] > reach[:-1] + _TOL]
    idx = np.flatnonzero(start)
    return a[idx], np.maximum.reduceat(b, idx)


def _bin_intervals(tree, half, pieces, x, y, r):
    """Pieces covered whole, and partly covered intervals, by one chunk of circles."""
    px, py, dx, dy, g0, plen = pieces
    sites = cKDTree(np.column_stack([x, y]))
    pairs = tree.sparse_distance_matrix(sites, r.max() + half, output_type="ndarray")
    i, j = pairs["i"], pairs["j"]
    # |P0 + t·d − C|² = r²  →  a t² + b t + c = 0   (in place: millions of pairs)
    ddx, ddy = dx[i], dy[i]
    fx = px[i]
    fx -= x[j]
    fy = py[i]
    fy -= y[j]
    qa = ddx**2
    qa += ddy**2
    qb = fx * ddx
    qb += fy * ddy
    qb *= 2.0
    qc = fx**2
    qc += fy**2
    qc -= r[j] ** 2
    del fx, fy, ddx, ddy
    disc = qb**2
    disc -= 4.0 * qa * qc
    hit = disc > 0
    root = np.sqrt(disc[hit])
    t0 = np.clip((-qb[hit] - root) / (2.0 * qa[hit]), 0.0, 1.0)
    t1 = np.clip((-qb[hit] + root) / (2.0 * qa[hit]), 0.0, 1.0)
    ih = i[hit]
    whole = (t0 == 0.0) & (t1 == 1.0)
    part = ~whole & (t1 > t0)
    ip = ih[part]
    return np.unique(ih[whole]), ip, g0[ip] + t0[part] * plen[ip], g0[ip] + t1[part] * plen[ip]


def _chunks(radius: np.ndarray, half: float, piece_len: float) -> list[np.ndarray]:
    """Circles grouped by radius bin, each bin cut so a chunk makes ~2 million pairs."""
    bins = np.floor(np.log(radius) / np.log(_BIN_RATIO)).astype(np.int64)
    out = []
    for b in np.unique(bins):  # a handful of radius bins, never a loop over sites
        members = np.flatnonzero(bins == b)
        per_site = 2.0 * (radius[members].max() + half) / piece_len + 1.0
        size = max(10_000, int(_PAIRS_PER_CHUNK / per_site))
        out.extend(members[k : k + size] for k in range(0, len(members), size))
    return out


def _covered_intervals(net: PreparedRoads, x, y, radius):
    """Union of the chainage intervals within reach of any circle (x, y, radius)."""
    pieces, tree = net.pieces, net.tree
    px, py, dx, dy, g0, plen = pieces
    if len(px) == 0 or len(x) == 0:
        return np.zeros(0), np.zeros(0)
    mx, my = px + dx / 2, py + dy / 2
    half = plen.max() / 2
    # most of a country's sites are far from its roads: they never enter a KD-tree
    near = sites_near(mx, my, x, y, radius.max() + half)
    x, y, radius = x[near], y[near], radius[near]
    if len(x) == 0:
        return np.zeros(0), np.zeros(0)
    groups = _chunks(radius, half, float(np.median(plen)))

    def one(members):
        return _bin_intervals(tree, half, pieces, x[members], y[members], radius[members])

    # Chunks of circles, never a loop over sites; memory stays bounded by the chunk size.
    # The KD-tree searches and the array arithmetic release the GIL: chunks run on all cores.
    with ThreadPoolExecutor(max_workers=max(1, min(len(groups), os.cpu_count() or 1))) as pool:
        found = list(pool.map(one, groups))
    full = np.zeros(len(px), dtype=bool)  # pieces some site covers end to end
    for whole, _, _, _ in found:
        full[whole] = True
    # in dense areas most pairs cover their piece whole: one interval per such piece
    piece = np.concatenate([f[1] for f in found])
    partial = ~full[piece]
    whole = np.flatnonzero(full)
    starts = np.concatenate([f[2] for f in found])
    ends = np.concatenate([f[3] for f in found])
    return _union(
        np.concatenate([starts[partial], g0[whole]]),
        np.concatenate([ends[partial], g0[whole] + plen[whole]]),
    )


def _zone_intervals(lines: _Lines, zones: gpd.GeoDataFrame):
    """Chainage intervals of each line inside each zone: (start, end, zone position)."""
    li, zi = zones.sindex.query(lines.parts, predicate="intersects")
    pieces = shapely.intersection(lines.parts[li], zones.geometry.values[zi])
    sub, k = shapely.get_parts(pieces, return_index=True)
    keep = (shapely.get_type_id(sub) == 1) & (shapely.length(sub) > 0)
    sub, k = sub[keep], k[keep]
    # GEOS keeps the direction of the input line, so a piece runs forward from its start.
    s0 = shapely.line_locate_point(lines.parts[li[k]], shapely.get_point(sub, 0))
    g0 = s0 + lines.base[li[k]]
    order = np.argsort(g0, kind="stable")
    return g0[order], (g0 + shapely.length(sub))[order], zi[k][order]


def _lookup(starts, ends, values, at, missing):
    """Value of the interval containing each point of ``at`` (sorted ``starts``)."""
    if len(starts) == 0:
        return np.full(len(at), missing)
    k = np.maximum(np.searchsorted(starts, at, side="right") - 1, 0)
    inside = (at >= starts[k]) & (at < ends[k])
    return np.where(inside, values[k], missing)


def _duplicated(keys: np.ndarray) -> np.ndarray:
    """Rows of an int64 table equal to an earlier row (``DataFrame.duplicated()``, faster).

    One 64-bit polynomial hash per row and a sort find the rows whose hash repeats;
    only those are compared exactly (so a hash collision never marks a row).
    """
    n = len(keys)
    dup = np.zeros(n, dtype=bool)
    if n < 2:
        return dup
    h = np.zeros(n, dtype=np.uint64)
    for col in keys.T:  # a handful of columns
        h = h * np.uint64(0x9E3779B97F4A7C15) + col.view(np.uint64)
    hs = np.sort(h)
    twice = hs[1:][hs[1:] == hs[:-1]]
    if not len(twice):
        return dup
    repeated = np.isin(h, twice)
    cand = np.flatnonzero(repeated)  # original order, so the first occurrence stays unmarked
    sub = keys[cand]
    o = np.lexsort(sub.T[::-1])  # stable
    equal = (sub[o][1:] == sub[o][:-1]).all(axis=1)
    dup[cand[o[1:][equal]]] = True
    return dup


def _segment_keys(lines: _Lines) -> tuple[np.ndarray, np.ndarray]:
    """Segment starts (vertex positions) and their undirected ends to the centimetre."""
    k = _segments(lines)
    xi = np.round(lines.x * 100.0).astype(np.int64)
    yi = np.round(lines.y * 100.0).astype(np.int64)
    ax, ay, bx, by = xi[k], yi[k], xi[k + 1], yi[k + 1]
    swap = (ax > bx) | ((ax == bx) & (ay > by))
    ends = np.empty((len(k), 4), dtype=np.int64)  # (lower end, upper end), column by column
    for col, (lo, hi) in enumerate([(ax, bx), (ay, by), (bx, ax), (by, ay)]):
        ends[:, col] = np.where(swap, hi, lo)
    return k, ends


def _duplicate_segments(lines: _Lines, group: np.ndarray | None, keys=None) -> np.ndarray:
    """Per vertex: True when the segment it starts repeats one seen earlier (in ``group``)."""
    k, ends = _segment_keys(lines) if keys is None else keys
    if group is not None:
        ends = np.column_stack([ends, np.asarray(group, dtype=np.int64)[lines.vline[k]]])
    dup = np.zeros(len(lines.vline), dtype=bool)
    dup[k] = _duplicated(ends)
    return dup


def _substrings(lines: _Lines, line: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """LineStrings of the stretches [a, b] (global chainage) of ``line``, vectorised."""
    if len(a) == 0:
        return np.empty(0, dtype=object)
    g = lines.g
    i0 = np.searchsorted(g, a, side="right")  # first vertex after a
    i1 = np.searchsorted(g, b, side="left")  # first vertex at or after b
    inner = np.maximum(i1 - i0, 0)
    count = inner + 2
    run = np.repeat(np.arange(len(a)), count)
    pos = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)

    def point(at, right):
        lo = np.clip(right - 1, 0, len(g) - 2)
        t = np.clip((at - g[lo]) / (g[lo + 1] - g[lo]), 0.0, 1.0)
        return lines.x[lo] + t * (lines.x[lo + 1] - lines.x[lo]), lines.y[lo] + t * (
            lines.y[lo + 1] - lines.y[lo]
        )

    ax, ay = point(a, i0)
    bx, by = point(b, np.maximum(i1, 1))
    vert = np.clip(i0[run] + pos - 1, 0, len(g) - 1)
    xs, ys = lines.x[vert], lines.y[vert]
    head, tail = pos == 0, pos == count[run] - 1
    xs = np.where(head, ax[run], np.where(tail, bx[run], xs))
    ys = np.where(head, ay[run], np.where(tail, by[run], ys))
    return shapely.linestrings(xs, ys, indices=run)


# ------------------------------------------------------------------ the primitive


@dataclass(frozen=True, eq=False)
class PreparedRoads:
    """A road network made ready for :func:`cover_lines`, once for many sets of circles.

    Everything that depends on the roads and zones only (line parts and chainages,
    the pieces and their KD-tree, the zone intervals, which segments repeat) is
    computed here, so that the 5G gaps and the RSU road-km share one preparation.
    Build it with :func:`prepare_roads`; treat it as opaque.

    Attributes
    ----------
    roads : geopandas.GeoDataFrame
        The roads in the metric CRS ``crs``.
    zones : geopandas.GeoDataFrame or None
        The zones (cities) in ``crs``, indexed by adcode, or None (nothing split).
    crs : pyproj.CRS
        The metric CRS.
    piece_m : float
        Longest piece handed to the KD-tree search.
    """

    roads: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame | None
    crs: CRS | None
    piece_m: float
    lines: _Lines = field(repr=False)
    pieces: tuple = field(repr=False)
    tree: cKDTree | None = field(repr=False)
    zone_cut: tuple = field(repr=False)  # (start, end, zone position) chainage intervals
    edges: np.ndarray = field(repr=False)  # sorted distinct static cut points
    dup_route: np.ndarray = field(repr=False)  # per vertex: segment repeats within its ref
    dup_network: np.ndarray = field(repr=False)  # per vertex: segment repeats anywhere


def _prepare(roads: gpd.GeoDataFrame, zones, piece_m: float, crs=None) -> PreparedRoads:
    """:class:`PreparedRoads` of metric ``roads`` and ``zones`` (same CRS)."""
    lines = _explode(roads.geometry.values)
    pieces = _pieces(lines, piece_m)
    px, py, dx, dy = pieces[:4]
    tree = cKDTree(np.column_stack([px + dx / 2, py + dy / 2])) if len(px) else None
    cuts = [lines.base, lines.base + lines.length, lines.g]
    if zones is not None and len(lines.parts):
        zone_cut = _zone_intervals(lines, zones)
        cuts += list(zone_cut[:2])
    else:
        zone_cut = (np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64))
    ref = roads["ref"].to_numpy(dtype=object)[lines.feature]  # per line
    keys = _segment_keys(lines)
    return PreparedRoads(
        roads=roads,
        zones=zones,
        crs=roads.crs if crs is None else crs,
        piece_m=float(piece_m),
        lines=lines,
        pieces=pieces,
        tree=tree,
        zone_cut=zone_cut,
        edges=np.unique(np.concatenate(cuts)),
        dup_route=_duplicate_segments(lines, pd.factorize(ref)[0], keys),
        dup_network=_duplicate_segments(lines, None, keys),
    )


def prepare_roads(
    roads: gpd.GeoDataFrame,
    cities: gpd.GeoDataFrame | None = None,
    crs=None,
    *,
    piece_m: float = 500.0,
) -> PreparedRoads:
    """Prepare a road network once for several coverage measurements.

    The result can be passed instead of the roads to :func:`cover_lines`,
    :func:`road_coverage` and :func:`rsu_road_km` (the 5G gaps and the RSU road-km
    of the same roads then share the work that depends on the roads only).

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        Validated roads (Roads contract), any CRS.
    cities : geopandas.GeoDataFrame, optional
        City polygons indexed by adcode; roads are split at their borders and
        stretches outside every city are left out.
    crs : pyproj.CRS, optional
        Metric CRS; default a transverse Mercator centred on the roads.
    piece_m : float
        Longest piece handed to the KD-tree search (any value gives the same answer).

    Returns
    -------
    PreparedRoads
    """
    crs, roads_m = _metric(roads, crs, roads.attrs.get("source", "roads"))
    zones = None if cities is None else to_metric(cities, crs, "cities")
    return _prepare(roads_m, zones, piece_m, crs)


def _merged_edges(static: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """``np.unique(np.concatenate([static, extra]))`` for sorted distinct ``static``."""
    extra = np.unique(extra)
    merged = np.insert(static, np.searchsorted(static, extra), extra)  # linear, no sort
    return merged[np.r_[True, merged[1:] != merged[:-1]]] if len(merged) else merged


def cover_lines(
    roads: gpd.GeoDataFrame | PreparedRoads,
    x,
    y,
    radius,
    zones: gpd.GeoDataFrame | None = None,
    *,
    piece_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Cut roads into runs that are (or are not) within reach of a set of circles.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame or PreparedRoads
        Roads (the Roads contract: ``ref``, ``name``, ``schematic``, optional ``weight``)
        in a **metric** CRS, or a network from :func:`prepare_roads` (then ``zones``
        and ``piece_m`` are the prepared ones and must not be given again).
    x, y, radius : array_like
        Circle centres (same CRS) and radii in metres (finite, > 0). A point exactly
        at a radius counts as covered.
    zones : geopandas.GeoDataFrame, optional
        Polygons indexed by adcode in the same CRS. Roads are split at their borders
        and only stretches inside some zone are kept; without zones everything is
        kept and ``city_adcode`` is -1.
    piece_m : float, optional
        Longest piece handed to the KD-tree search (default 500; any value gives the
        same answer).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per maximal run of the same road line, zone and covered state, in
        order along each line, with :data:`RUN_COLUMNS`: ``start_m``/``end_m`` are
        chainages from the first vertex of the road feature, ``length_m`` the run's
        length; ``route_m`` is the length counted for its ``ref`` (× ``weight``,
        stretches repeated within the ref counted once) and ``network_m`` the length
        counted in zone and total figures (also once across refs).
    """
    x = np.asarray(x, dtype="float64").ravel()
    y = np.asarray(y, dtype="float64").ravel()
    radius = np.broadcast_to(np.asarray(radius, dtype="float64"), x.shape)
    if not np.all(np.isfinite(radius) & (radius > 0)):
        raise DataError("reach: every radius must be finite and > 0 metres")
    if isinstance(roads, PreparedRoads):
        if zones is not None or piece_m is not None:
            raise DataError("cover_lines: zones and piece_m come with the prepared roads")
        net = roads
    else:
        net = _prepare(roads, zones, 500.0 if piece_m is None else piece_m)
    roads, zones, lines = net.roads, net.zones, net.lines
    if len(lines.parts) == 0:
        empty = {c: [] for c in RUN_COLUMNS if c != "geometry"}
        return gpd.GeoDataFrame(empty, geometry=np.empty(0, dtype=object), crs=roads.crs)
    u0, u1 = _covered_intervals(net, x, y, radius)
    line_g0, line_g1 = lines.base, lines.base + lines.length
    z0, z1, zpos = net.zone_cut
    edges = _merged_edges(net.edges, np.concatenate([u0, u1]))
    e0, e1 = edges[:-1], edges[1:]
    mid = (e0 + e1) / 2
    line = np.searchsorted(line_g0, mid, side="right") - 1
    keep = (e1 - e0 > _TOL) & (line >= 0) & (mid < line_g1[np.maximum(line, 0)])
    if zones is not None:
        adcodes = np.asarray(zones.index, dtype="int64")
        city = _lookup(z0, z1, adcodes[zpos] if len(zpos) else zpos, mid, -1)
        keep &= city >= 0
    else:
        city = np.full(len(mid), -1, dtype="int64")
    e0, e1, mid, line, city = e0[keep], e1[keep], mid[keep], line[keep], city[keep]
    covered = _lookup(u0, u1, np.ones(len(u0), dtype=bool), mid, False).astype(bool)

    feature = lines.feature[line]
    weight = (
        roads["weight"].to_numpy("float64")[lines.feature]
        if "weight" in roads.columns
        else np.ones(len(lines.feature))
    )
    vertex = np.searchsorted(lines.g, mid, side="right") - 1
    dup_route = net.dup_route[vertex]
    dup_network = net.dup_network[vertex]
    seg_len = (e1 - e0) * weight[line]

    brk = np.r_[True, (line[1:] != line[:-1]) | (city[1:] != city[:-1])]
    brk[1:] |= (covered[1:] != covered[:-1]) | (e0[1:] > e1[:-1] + 10 * _TOL)
    first = np.flatnonzero(brk)
    a = e0[first]
    b = np.maximum.reduceat(e1, first) if len(first) else e1
    run_line = line[first]
    route_m = np.add.reduceat(np.where(dup_route, 0.0, seg_len), first) if len(first) else a
    network_m = np.add.reduceat(np.where(dup_network, 0.0, seg_len), first) if len(first) else a
    chain0 = a - lines.base[run_line] + lines.offset[run_line]
    feat = feature[first]
    runs = gpd.GeoDataFrame(
        {
            "ref": roads["ref"].to_numpy(dtype=object)[feat].astype(str),
            "name": roads["name"].to_numpy(dtype=object)[feat].astype(str),
            "city_adcode": city[first].astype("int64"),
            "covered": covered[first],
            "start_m": chain0,
            "end_m": chain0 + (b - a),
            "length_m": b - a,
            "route_m": route_m,
            "network_m": network_m,
            "schematic": roads["schematic"].to_numpy(dtype=bool)[feat]
            if "schematic" in roads.columns
            else np.zeros(len(first), dtype=bool),
        },
        geometry=_substrings(lines, run_line, a, b),
        crs=roads.crs,
    )
    runs.attrs["schematic"] = bool(runs["schematic"].any())
    return runs


def summarise(runs: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Road km, covered km, gap km and coverage % from runs of :func:`cover_lines`.

    Parameters
    ----------
    runs : pandas.DataFrame
        The runs (``covered``, ``route_m``, ``network_m`` and the ``by`` column).
    by : {"ref", "city_adcode"} or None
        ``"ref"`` totals each road (``route_m``: a stretch shared by two refs counts
        for both); ``"city_adcode"`` totals each zone and ``None`` the whole network
        (``network_m``: shared stretches count once).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``ref`` / ``adcode`` (one row named ``"total"`` for ``None``), with
        float columns ``length_km``, ``covered_km``, ``gap_km``, ``coverage_pct``
        (NaN for zero length).
    """
    metres = runs["route_m"] if by == "ref" else runs["network_m"]
    frame = pd.DataFrame(
        {
            "key": runs[by].to_numpy() if by else np.zeros(len(runs), dtype="int64"),
            "length_km": metres.to_numpy("float64") / 1000.0,
            "covered_km": np.where(runs["covered"], metres, 0.0) / 1000.0,
        }
    )
    if by is None:
        out = frame[["length_km", "covered_km"]].sum().to_frame("total").T
    else:
        out = frame.groupby("key", sort=True).sum()
        out.index.name = "adcode" if by == "city_adcode" else by
    out["gap_km"] = out["length_km"] - out["covered_km"]
    out["coverage_pct"] = (100.0 * out["covered_km"] / out["length_km"]).where(out["length_km"] > 0)
    return out


# ------------------------------------------------------------------ analyses


def _metric(layer, crs: CRS | None, name: str):
    if crs is None:
        crs = metric_crs(to_wgs84(layer, name).total_bounds)
    return crs, to_metric(layer, crs, name)


def _network(roads, cities, crs, settings: CoverageSettings, caller: str) -> PreparedRoads:
    """``roads`` as prepared (given so, or prepared now with ``cities`` and ``crs``)."""
    if not isinstance(roads, PreparedRoads):
        return prepare_roads(roads, cities, crs, piece_m=settings.piece_m)
    if cities is not None or crs is not None:
        raise DataError(f"{caller}: cities and crs come with the prepared roads; leave them out")
    return roads


@dataclass(frozen=True)
class CorridorCoverage:
    """5G coverage of roads.

    Attributes
    ----------
    runs : geopandas.GeoDataFrame
        All runs, covered and not (:func:`cover_lines`), in ``crs``.
    by_ref, by_city, total : pandas.DataFrame
        :func:`summarise` per road ref, per city adcode, and for the whole network.
    gaps : geopandas.GeoDataFrame
        Uncovered runs at least ``min_gap_m`` long: ref, name, city_adcode, start_m,
        end_m, length_m, schematic, geometry.
    covered : geopandas.GeoDataFrame
        Covered runs (for maps), same columns.
    crs : pyproj.CRS
        The metric CRS of the measurements.
    min_gap_m : float
    """

    runs: gpd.GeoDataFrame
    by_ref: pd.DataFrame
    by_city: pd.DataFrame
    total: pd.DataFrame
    gaps: gpd.GeoDataFrame
    covered: gpd.GeoDataFrame
    crs: CRS
    min_gap_m: float


_OUT = ["ref", "name", "city_adcode", "start_m", "end_m", "length_m", "schematic", "geometry"]


def road_coverage(
    roads: gpd.GeoDataFrame | PreparedRoads,
    sites: gpd.GeoDataFrame,
    cities: gpd.GeoDataFrame | None = None,
    *,
    settings: CoverageSettings | None = None,
    model: CoverageModel | None = None,
    counties: gpd.GeoDataFrame | None = None,
    urban=None,
    crs=None,
    min_gap_m: float | None = None,
    xy=None,
    reach_m=None,
) -> CorridorCoverage:
    """Where roads lie beyond the reach of every site: gap runs and km totals.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame or PreparedRoads
        Validated roads (:func:`geo5g.roads.read_roads`), any CRS; or a network from
        :func:`prepare_roads` (its cities and CRS are used: ``cities`` and ``crs``
        must then be left out).
    sites : geopandas.GeoDataFrame
        Validated point sites (Sites contract: ``band``, ``radius_m``), any CRS.
    cities : geopandas.GeoDataFrame, optional
        City polygons indexed by adcode; roads are split at their borders and
        stretches outside every city are left out. Without cities nothing is split.
    settings : CoverageSettings, optional
        Default :func:`geo5g.coverage.load_settings`.
    model : CoverageModel, optional
        Default :class:`geo5g.coverage.BandTableModel` of ``settings``.
    counties : geopandas.GeoDataFrame, optional
        Counties with an ``urban`` flag, to tell each site's environment; without
        them (and without ``urban``) the density rule of ``settings`` decides.
    urban : array_like of bool, optional
        Environment per site, overriding ``counties`` and the density rule.
    crs : pyproj.CRS, optional
        Metric CRS; default a transverse Mercator centred on the roads.
    min_gap_m : float, optional
        Shortest gap run listed (default ``settings.min_gap_m``); totals count all.
    xy, reach_m : optional
        The sites' coordinates in the metric CRS and their reach, already computed
        (see :func:`geo5g.coverage.site_reach`).

    Returns
    -------
    CorridorCoverage
    """
    settings = settings or load_settings()
    if xy is not None and crs is None and not isinstance(roads, PreparedRoads):
        raise CRSError("road_coverage: xy needs the crs it is in")
    net = _network(roads, cities, crs, settings, "road_coverage")
    crs, zoned = net.crs, net.zones is not None
    x, y, reach = site_reach(
        sites, crs, settings, model=model, counties=counties, urban=urban, xy=xy, reach_m=reach_m
    )
    runs = cover_lines(net, x, y, reach)
    min_gap = settings.min_gap_m if min_gap_m is None else float(min_gap_m)
    gaps = runs.loc[~runs["covered"] & (runs["length_m"] >= min_gap), _OUT]
    return CorridorCoverage(
        runs=runs,
        by_ref=summarise(runs, "ref"),
        by_city=summarise(runs if zoned else runs[:0], "city_adcode"),
        total=summarise(runs),
        gaps=gaps.reset_index(drop=True),
        covered=runs.loc[runs["covered"], _OUT].reset_index(drop=True),
        crs=crs,
        min_gap_m=min_gap,
    )


@dataclass(frozen=True)
class RSUCoverage:
    """Road-km within range of roadside units (RSU).

    Attributes
    ----------
    runs : geopandas.GeoDataFrame
        All runs (:func:`cover_lines`); ``covered`` = within some RSU's range.
    by_ref, by_city : pandas.DataFrame
        Indexed by ref / adcode: ``road_km`` and ``rsu_km`` (equipped road-km).
    total : pandas.Series
        ``road_km``, ``rsu_km``, ``target_km`` (NaN if none), ``shortfall_km``
        (0 when met), ``meets_target`` (float 1/0, NaN without target).
    equipped : geopandas.GeoDataFrame
        The equipped runs (for maps).
    crs : pyproj.CRS
    """

    runs: gpd.GeoDataFrame
    by_ref: pd.DataFrame
    by_city: pd.DataFrame
    total: pd.Series
    equipped: gpd.GeoDataFrame
    crs: CRS


def _rsu_table(summary: pd.DataFrame) -> pd.DataFrame:
    return summary[["length_km", "covered_km"]].rename(
        columns={"length_km": "road_km", "covered_km": "rsu_km"}
    )


def rsu_road_km(
    roads: gpd.GeoDataFrame | PreparedRoads,
    rsu: gpd.GeoDataFrame,
    cities: gpd.GeoDataFrame | None = None,
    *,
    settings: CoverageSettings | None = None,
    crs=None,
    target_km: float | None = None,
) -> RSUCoverage:
    """RSU road-km: length of road within range of at least one roadside unit.

    Overlapping ranges count once (the covered stretches are a union).

    Parameters
    ----------
    roads : geopandas.GeoDataFrame or PreparedRoads
        Validated roads, any CRS; or a network from :func:`prepare_roads` (then
        ``cities`` and ``crs`` must be left out).
    rsu : geopandas.GeoDataFrame
        Validated RSU points (:func:`geo5g.roads.read_rsu`); ``range_m`` per RSU,
        NaN → ``settings.rsu_range_m``.
    cities : geopandas.GeoDataFrame, optional
        City polygons indexed by adcode (see :func:`road_coverage`).
    settings : CoverageSettings, optional
    crs : pyproj.CRS, optional
    target_km : float, optional
        The plan's target (Jiangsu: 300 km).

    Returns
    -------
    RSUCoverage
    """
    settings = settings or load_settings()
    net = _network(roads, cities, crs, settings, "rsu_road_km")
    crs, zoned = net.crs, net.zones is not None
    x, y = point_xy(rsu, crs, rsu.attrs.get("source", "rsu"))
    rng = (
        pd.to_numeric(rsu["range_m"], errors="coerce").to_numpy("float64", na_value=np.nan)
        if "range_m" in rsu.columns
        else np.full(len(x), np.nan)
    )
    rng = np.where(np.isfinite(rng) & (rng > 0), rng, settings.rsu_range_m)
    runs = cover_lines(net, x, y, rng)
    total = _rsu_table(summarise(runs)).iloc[0]
    target = np.nan if target_km is None else float(target_km)
    total = pd.Series(
        {
            "road_km": total["road_km"],
            "rsu_km": total["rsu_km"],
            "target_km": target,
            "shortfall_km": max(target - total["rsu_km"], 0.0) if target == target else np.nan,
            "meets_target": float(total["rsu_km"] >= target) if target == target else np.nan,
        },
        name="total",
    )
    return RSUCoverage(
        runs=runs,
        by_ref=_rsu_table(summarise(runs, "ref")),
        by_city=_rsu_table(summarise(runs if zoned else runs[:0], "city_adcode")),
        total=total,
        equipped=runs.loc[runs["covered"], _OUT].reset_index(drop=True),
        crs=crs,
    )


def synthetic_rsu(
    roads: gpd.GeoDataFrame,
    cities: gpd.GeoDataFrame,
    km_by_city: Mapping[int, float],
    *,
    spacing_m: float = 500.0,
    range_m: float = 300.0,
    seed: int = 2024,
) -> gpd.GeoDataFrame:
    """A reproducible synthetic RSU deployment along stretches of expressway.

    For each city in ``km_by_city`` the city's road runs are shuffled (seeded) and
    stretches are taken from them, each starting at a random point of its run, until
    the city's kilometres are reached; RSUs are placed every ``spacing_m`` along each
    stretch, the first and last ``spacing_m / 2`` in.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        Roads with a CRS.
    cities : geopandas.GeoDataFrame
        City polygons indexed by adcode.
    km_by_city : Mapping[int, float]
        City adcode → kilometres of road to equip.
    spacing_m, range_m : float
        Distance between consecutive RSUs, and the range written to ``range_m``.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    geopandas.GeoDataFrame
        Points in EPSG:4326 with ``rsu_id``, ``city_adcode``, ``ref``, ``range_m``,
        ``synthetic`` (True).
    """
    crs, roads_m = _metric(roads, None, "roads")
    runs = cover_lines(roads_m, [], [], [], to_metric(cities, crs, "cities"))
    rng = np.random.default_rng(seed)
    runs = runs.iloc[rng.permutation(len(runs))]
    want = pd.Series(km_by_city, dtype="float64") * 1000.0
    runs = runs[runs["city_adcode"].isin(want.index)].sort_values("city_adcode", kind="stable")
    # Take whole runs (shortened to what is still wanted) in shuffled order per city.
    before = runs.groupby("city_adcode")["length_m"].cumsum() - runs["length_m"]
    still = want.reindex(runs["city_adcode"]).to_numpy() - before.to_numpy()
    take = np.minimum(runs["length_m"].to_numpy(), np.maximum(still, 0.0))
    use = take >= spacing_m
    runs, take = runs[use], take[use]
    start = rng.uniform(0.0, 1.0, len(runs)) * (runs["length_m"].to_numpy() - take)
    count = np.floor(take / spacing_m).astype(np.int64)
    which = np.repeat(np.arange(len(runs)), count)
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    along = start[which] + spacing_m / 2 + k * spacing_m
    points = shapely.line_interpolate_point(runs.geometry.values[which], along)
    out = gpd.GeoDataFrame(
        {
            "rsu_id": [f"RSU-SYN-{i + 1:04d}" for i in range(len(which))],
            "city_adcode": runs["city_adcode"].to_numpy()[which],
            "ref": runs["ref"].to_numpy()[which],
            "range_m": float(range_m),
            "synthetic": True,
        },
        geometry=points,
        crs=crs,
    )
    return to_wgs84(out, "synthetic RSU")
