"""The exact line-cover engine: which stretches of lines lie within reach of a set of circles.

The method is exact (no buffers, no polygon unions):

1. Roads are exploded into line parts; every vertex gets its chainage (metres from
   the start of its line), and every line a *global* offset so that one sorted
   array of chainages covers all lines (lines are 1 m apart in it).
2. Segments are cut into pieces of at most ``piece_m``. The sites are binned by
   radius (reaches within a factor 1.25): the nearest site not covering a point does
   not prove that a farther site with a larger reach does not. For a bin of large
   reach, consecutive pieces of a line are taken together in groups spanning about
   the reach, each held by a circle; a KD-tree on the group centres finds every
   (group, site) pair that may meet. A group whose circle lies inside a site's circle
   is covered end to end (most of a dense network, found without looking at its
   pieces); only the pieces of groups on a circle's edge go on. Bins of small reach
   search the single pieces the same way.
3. For each remaining (piece, site) pair the segment–circle intersection is a
   quadratic in the piece parameter t; its roots, clipped to [0, 1], are the covered
   interval. The union of intervals is one sort and a running maximum
   (``np.maximum.accumulate``).
4. City boundaries become intervals too (``shapely.intersection`` of lines and city
   polygons, located along the line). Vertices and zone borders cut the lines into
   static stretches, each with its line, city and whether it repeats a segment
   already counted (two refs sharing a carriageway), once per network; the covered
   interval ends cut them further, and consecutive stretches with the same line,
   city and covered flag merge into runs.

Everything is arrays; the only Python loops are over the (few) radius bins and
groupings. The KD-tree searches, GEOS and the array arithmetic release the GIL, so
independent chunks run on all cores.

:func:`prepare_roads` makes a network ready once (for several sets of circles:
5G sites, RSUs), :func:`cover_lines` cuts it into covered and uncovered runs and
:func:`summarise` turns runs into totals. The analyses built on it (5G gaps, RSU
road-km) are in :mod:`geo5g.corridors`.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.spatial import cKDTree

from .coverage import sites_near
from .errors import DataError
from .project import metric_crs, to_metric, to_wgs84

__all__ = [
    "RUN_COLUMNS",
    "PreparedRoads",
    "cover_lines",
    "prepare_roads",
    "summarise",
]

#: Columns of the runs GeoDataFrame returned by :func:`cover_lines`.
RUN_COLUMNS = (
    "ref",
    "name",
    "kind",
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
_PAIRS_PER_CHUNK = 1_000_000  # (group or piece, site) pairs at once: ~125 MB of arrays
_MAX_WORKERS = 4  # threads searching at once (memory grows with the chunks in flight)
_GROUP_SHARE = 1.0  # pieces are searched in groups spanning about this share of the radius
_GROUP_PIECES = 3.0  # groups must span this many pieces, else pieces are searched alone
_SLACK = 1e-3  # metres: pairs this close to a group test's threshold get the exact test


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
    gp: np.ndarray  # the same in projected units (equal to g when no scale is given)


def _explode(geoms: np.ndarray, scale=None, chain_offset=None) -> _Lines:
    """Line parts of ``geoms`` as vertex arrays with their chainage in metres.

    ``scale(x, y)`` is the point scale factor of the (conformal) projection the
    coordinates are in: a segment's length is its projected length divided by the
    factor at its midpoint (:meth:`geo5g.project.Zone.scale`); None means 1.
    ``chain_offset`` (per feature) is added to every chainage of the feature (a feature
    cut at zone edges continues its chainage from the part before).
    """
    parts, feature = shapely.get_parts(geoms, return_index=True)
    keep = shapely.length(parts) > 0
    parts, feature = parts[keep], feature[keep]
    xy, vline = shapely.get_coordinates(parts, return_index=True)
    repeat = np.zeros(len(vline), dtype=bool)
    repeat[1:] = (vline[1:] == vline[:-1]) & (xy[1:] == xy[:-1]).all(axis=1)
    xy, vline = xy[~repeat], vline[~repeat]
    same = vline[1:] == vline[:-1]
    d = xy[1:] - xy[:-1]
    projected = np.r_[0.0, np.where(same, np.hypot(*d.T), 0.0)][: len(vline)]
    if scale is None:
        step = projected
    else:
        mid = (xy[1:] + xy[:-1]) / 2
        k = np.r_[1.0, np.asarray(scale(mid[:, 0], mid[:, 1]), dtype="float64")][: len(vline)]
        step = projected / k
    first = np.flatnonzero(np.r_[True, ~same][: len(vline)])  # first vertex of each line
    last = np.r_[first[1:] - 1, len(vline) - 1] if len(first) else first

    def global_chain(steps):
        cum = np.cumsum(steps)
        chain = cum - cum[first][vline]
        length = chain[last] if len(first) else np.zeros(0)
        base = np.r_[0.0, np.cumsum(length + _LINE_GAP)[:-1]] if len(first) else np.zeros(0)
        return chain + base[vline], length, base

    g, length, base = global_chain(step)
    gp = g if scale is None else global_chain(projected)[0]
    # multi-part features: a part's chainage continues from the parts before it
    offset = pd.Series(length).groupby(feature).cumsum().to_numpy() - length
    if chain_offset is not None:
        offset = offset + np.asarray(chain_offset, dtype="float64")[feature]
    return _Lines(parts, feature, offset, length, base, xy[:, 0], xy[:, 1], vline, g, gp)


def _segments(lines: _Lines):
    """Indices of vertices that start a segment (the next vertex is on the same line)."""
    return np.flatnonzero(lines.vline[1:] == lines.vline[:-1])


def _union(a: np.ndarray, b: np.ndarray):
    """Union of intervals [a, b]: sorted, disjoint (touching intervals merge).

    Fastest when ``a`` is made of a few sorted runs (the sort is a timsort).
    """
    if len(a) == 0:
        return a, b
    order = np.argsort(a, kind="stable")
    a, b = a[order], b[order]
    reach = np.maximum.accumulate(b)
    start = np.r_[True, a[1:] > reach[:-1] + _TOL]
    idx = np.flatnonzero(start)
    return a[idx], np.maximum.reduceat(b, idx)


@dataclass(frozen=True)
class _Pieces:
    """Segments cut into straight pieces of at most ``piece_m``, in order along each line."""

    x: np.ndarray  # start of each piece
    y: np.ndarray
    dx: np.ndarray  # end minus start
    dy: np.ndarray
    g0: np.ndarray  # global chainage of the start
    length: np.ndarray
    line: np.ndarray  # line of each piece (int32)


def _pieces(lines: _Lines, piece_m: float) -> _Pieces:
    """Cut segments into pieces of at most ``piece_m``."""
    k = _segments(lines)
    x0, y0 = lines.x[k], lines.y[k]
    dx, dy = lines.x[k + 1] - x0, lines.y[k + 1] - y0
    slen = lines.g[k + 1] - lines.g[k]
    n = np.maximum(np.ceil(slen / piece_m).astype(np.int64), 1)
    seg = np.repeat(np.arange(len(k)), n)
    j = np.arange(len(seg)) - np.repeat(np.cumsum(n) - n, n)
    t0 = j / n[seg]
    frac = 1.0 / n[seg]
    return _Pieces(
        x0[seg] + dx[seg] * t0,
        y0[seg] + dy[seg] * t0,
        dx[seg] * frac,
        dy[seg] * frac,
        lines.g[k][seg] + slen[seg] * t0,
        slen[seg] * frac,
        lines.vline[k][seg].astype(np.int32),
    )


@dataclass(frozen=True)
class _Groups:
    """Runs of consecutive pieces of one line, each run held by a circle (for the search)."""

    first: np.ndarray | None  # first piece of each group; None: every piece alone
    count: np.ndarray | None  # pieces in each group
    reach: np.ndarray  # radius of a circle around the tree's point that holds the group
    tree: cKDTree  # on the circles' centres

    def spread(self, flags: np.ndarray) -> np.ndarray:
        """Per-group flags → per-piece flags."""
        return flags if self.first is None else np.repeat(flags, self.count)

    def all_of(self, flags: np.ndarray) -> np.ndarray:
        """Per-piece flags → per group: set for all its pieces."""
        return flags if self.first is None else np.logical_and.reduceat(flags, self.first)


def _piece_tree(pieces: _Pieces) -> cKDTree | None:
    """KD-tree on the piece midpoints (the groups of single pieces)."""
    if not len(pieces.x):
        return None
    mid = np.column_stack([pieces.x + pieces.dx / 2, pieces.y + pieces.dy / 2])
    # unbalanced: half the build time, and searched as fast here
    return cKDTree(mid, balanced_tree=False, compact_nodes=False)


def _groups(net: PreparedRoads, span: float) -> _Groups:
    """The pieces grouped by line and by ``span`` metres of chainage (0: one piece a group)."""
    p, n = net.pieces, len(net.pieces.x)
    if span == 0:
        return _Groups(None, None, np.hypot(p.dx, p.dy) / 2, net.tree)
    cell = np.floor(p.g0 / span)  # lines are apart in the global chainage
    first = np.flatnonzero(np.r_[True, (p.line[1:] != p.line[:-1]) | (cell[1:] != cell[:-1])])
    del cell
    last = np.r_[first[1:], n] - 1
    # a group's vertices are its pieces' starts and its last piece's end; the circle
    # around its bounding box holds them all
    box = []
    for start, step in ((p.x, p.dx), (p.y, p.dy)):
        end = start[last] + step[last]
        box.append(np.minimum(np.minimum.reduceat(start, first), end))
        box.append(np.maximum(np.maximum.reduceat(start, first), end))
    x0, x1, y0, y1 = box
    tree = cKDTree(
        np.column_stack([(x0 + x1) / 2, (y0 + y1) / 2]), balanced_tree=False, compact_nodes=False
    )
    return _Groups(first, np.diff(np.r_[first, n]), np.hypot(x1 - x0, y1 - y0) / 2, tree)


def _bins(radius: np.ndarray) -> np.ndarray:
    """Radius bin of each circle: reaches within a factor ``_BIN_RATIO`` share a bin."""
    return np.floor(np.log(radius) / np.log(_BIN_RATIO)).astype(np.int64)


def _span(b: int, piece_len: float) -> float:
    """Chainage span of the groups searched for the circles of bin ``b`` (0: single pieces).

    About half the bin's smallest radius, so that most groups near a circle lie wholly
    inside it and only the few on its edge are examined piece by piece; a power of two
    so that neighbouring bins share a grouping.
    """
    span = 2.0 ** np.floor(np.log2(_GROUP_SHARE * _BIN_RATIO**b))
    return float(span) if span >= _GROUP_PIECES * piece_len else 0.0


def _chunks(radius: np.ndarray, piece_len: float) -> list[tuple[float, np.ndarray]]:
    """Circles by radius bin, with the bin's group span; bins cut to ~2 million pairs."""
    if not len(radius):
        return []
    bins = _bins(radius)
    lowest = bins.min()
    out = []
    for b in lowest + np.flatnonzero(np.bincount(bins - lowest)):  # a handful of radius bins
        members = np.flatnonzero(bins == b)
        span = _span(b, piece_len)
        step = max(span, piece_len)
        per_site = 2.0 * (radius[members].max() + step) / step + 1.0
        size = max(10_000, int(_PAIRS_PER_CHUNK / per_site))
        out.extend((span, members[k : k + size]) for k in range(0, len(members), size))
    return out


def _near_groups(groups: _Groups, x, y, r):
    """Groups wholly inside some circle, and the (group, circle) pairs on a circle's edge.

    A group whose circle lies inside a site's circle is covered end to end; one whose
    circle lies outside is missed; pairs in between (with a margin of ``_SLACK`` so
    that rounding never decides) go to the exact test.
    """
    sites = cKDTree(np.column_stack([x, y]), balanced_tree=False, compact_nodes=False)
    far = r.max() + groups.reach.max() + _SLACK
    pairs = groups.tree.sparse_distance_matrix(sites, far, output_type="ndarray")
    i, j, d = pairs["i"], pairs["j"], pairs["v"]
    gr, rj = groups.reach[i], r[j]
    inside = d + gr <= rj - _SLACK
    edge = ~inside & (d - gr <= rj + _SLACK)
    return i[inside], i[edge], j[edge]


def _exact_intervals(p: _Pieces, x, y, r, i, j):
    """Pieces covered whole, and partly covered intervals, of the (piece, circle) pairs."""
    # |P0 + t·d − C|² = r²  →  a t² + b t + c = 0   (in place: millions of pairs)
    ddx, ddy = p.dx[i], p.dy[i]
    fx = p.x[i]
    fx -= x[j]
    fy = p.y[i]
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
    g0, plen = p.g0[ip], p.length[ip]
    return ih[whole], ip, g0 + t0[part] * plen, g0 + t1[part] * plen


def _expand(groups: _Groups, gi: np.ndarray, sj: np.ndarray, full: np.ndarray, parts: int):
    """(group, circle) pairs → (piece, circle) pairs of pieces not ``full``, in slices.

    At least ``parts`` slices, each from at most ``_PAIRS_PER_CHUNK`` pairs.
    """
    alone = groups.first is None
    count = np.ones(len(gi), dtype=np.int64) if alone else groups.count[gi]
    total = int(count.sum())
    parts = max(parts, -(-total // _PAIRS_PER_CHUNK))
    cut = np.searchsorted(np.cumsum(count), np.arange(1, parts) * (total / parts))
    for a, b in itertools.pairwise(np.r_[0, cut, len(gi)]):
        if a == b:
            continue
        c = count[a:b]
        pair = np.repeat(np.arange(a, b), c)
        piece = gi[pair] if alone else groups.first[gi[pair]]
        piece += np.arange(len(pair)) - np.repeat(np.cumsum(c) - c, c)
        keep = ~full[piece]
        yield piece[keep], sj[pair[keep]]


def _covered_intervals(net: PreparedRoads, x, y, radius):
    """Union of the chainage intervals within reach of any circle (x, y, radius).

    Two passes, both over chunks of circles on all cores (KD-tree searches and array
    arithmetic release the GIL), never a loop over sites:

    1. groups of consecutive pieces against each radius bin: groups inside some
       circle are covered whole without looking at their pieces (most of a dense
       network), pairs on a circle's edge are kept;
    2. the pieces of those edge pairs, except pieces already covered whole, get the
       exact segment–circle intersection.
    """
    p = net.pieces
    if len(p.x) == 0 or len(x) == 0:
        return np.zeros(0), np.zeros(0)
    piece_len = float(np.median(p.length))
    lowest, highest = _bins(np.array([radius.min(), radius.max()]))
    spans = sorted({_span(b, piece_len) for b in range(lowest, highest + 1)})
    workers = max(1, min(os.cpu_count() or 1, _MAX_WORKERS))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # the groupings of every bin between the extremes (a few) build meanwhile
        building = {span: pool.submit(_groups, net, span) for span in spans}
        if len(x) > len(p.x):
            # most of a country's sites are far from its roads: they never enter a KD-tree
            mx, my = p.x + p.dx / 2, p.y + p.dy / 2
            near = sites_near(mx, my, x, y, radius.max() + np.hypot(p.dx, p.dy).max() / 2)
        else:
            near = np.isfinite(x) & np.isfinite(y)  # a circle without a centre covers nothing
        x, y, radius = x[near], y[near], radius[near]
        chunks = _chunks(radius, piece_len)
        groups = {span: job.result() for span, job in building.items()}

        def coarse(chunk):
            span, members = chunk
            inside, gi, sj = _near_groups(groups[span], x[members], y[members], radius[members])
            return span, inside, gi, members[sj]

        found = list(pool.map(coarse, chunks))
        full = np.zeros(len(p.x), dtype=bool)  # pieces some circle covers end to end
        for span, g in groups.items():
            inside = np.zeros(len(g.reach), dtype=bool)
            for s, whole, _, _ in found:
                if s == span:
                    inside[whole] = True
            full |= g.spread(inside)
        pairs, none = [], [np.zeros(0, dtype=np.int64)]
        for span, g in groups.items():
            gi = np.concatenate([f[2] for f in found if f[0] == span] + none)
            sj = np.concatenate([f[3] for f in found if f[0] == span] + none)
            # edge pairs of groups whose pieces are all covered whole already add nothing
            keep = ~g.all_of(full)[gi]
            pairs.extend(_expand(g, gi[keep], sj[keep], full, workers))
        del found

        def exact(pair):
            return _exact_intervals(p, x, y, radius, *pair)

        found = list(pool.map(exact, pairs))
    for whole, _, _, _ in found:
        full[whole] = True
    # in dense areas most pairs cover their piece whole: one interval per such piece
    piece = np.concatenate([f[1] for f in found] + none)
    partial = ~full[piece]
    whole = np.flatnonzero(full)
    starts = np.concatenate([f[2] for f in found] + none)
    ends = np.concatenate([f[3] for f in found] + none)
    return _union(  # whole pieces first: one long sorted run
        np.concatenate([p.g0[whole], starts[partial]]),
        np.concatenate([p.g0[whole] + p.length[whole], ends[partial]]),
    )


def _zone_intervals(lines: _Lines, zones: gpd.GeoDataFrame):
    """Chainage intervals of each line inside each zone: (start, end, zone position)."""
    li, zi = zones.sindex.query(lines.parts, predicate="intersects")
    pieces = shapely.intersection(lines.parts[li], zones.geometry.values[zi])
    sub, k = shapely.get_parts(pieces, return_index=True)
    keep = (shapely.get_type_id(sub) == 1) & (shapely.length(sub) > 0)
    sub, k = sub[keep], k[keep]
    # GEOS keeps the direction of the input line, so a piece runs forward from its start.
    # Positions along the line are projected lengths: the vertices' two chainages
    # (projected and true) convert them, piecewise linearly.
    line = li[k]
    s0 = shapely.line_locate_point(lines.parts[line], shapely.get_point(sub, 0))
    base_p = lines.gp[np.searchsorted(lines.vline, np.arange(len(lines.parts)))]
    p0 = s0 + base_p[line]
    p1 = p0 + shapely.length(sub)
    g0, g1 = np.interp(p0, lines.gp, lines.g), np.interp(p1, lines.gp, lines.g)
    order = np.argsort(g0, kind="stable")
    return g0[order], g1[order], zi[k][order]


def _lookup(starts, ends, values, at, missing):
    """Value of the interval containing each point of ``at`` (sorted ``starts``)."""
    if len(starts) == 0:
        return np.full(len(at), missing)
    k = np.maximum(np.searchsorted(starts, at, side="right") - 1, 0)
    inside = (at >= starts[k]) & (at < ends[k])
    return np.where(inside, values[k], missing)


def _repeats(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of an int64 table equal to an earlier row, and rows equal to any other row.

    One 64-bit polynomial hash per row and a sort find the rows whose hash repeats;
    only those are compared exactly (so a hash collision never marks a row).
    """
    n = len(keys)
    dup, repeated = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    if n < 2:
        return dup, repeated
    h = np.zeros(n, dtype=np.uint64)
    for col in keys.T:  # a handful of columns
        h = h * np.uint64(0x9E3779B97F4A7C15) + col.view(np.uint64)
    hs = np.sort(h)
    twice = hs[1:][hs[1:] == hs[:-1]]
    if not len(twice):
        return dup, repeated
    cand = np.flatnonzero(np.isin(h, twice))  # original order: first occurrences stay unmarked
    sub = keys[cand]
    o = np.lexsort(sub.T[::-1])  # stable
    equal = (sub[o][1:] == sub[o][:-1]).all(axis=1)
    dup[cand[o[1:][equal]]] = True
    repeated[cand[o[1:][equal]]] = repeated[cand[o[:-1][equal]]] = True
    return dup, repeated


def _duplicated(keys: np.ndarray) -> np.ndarray:
    """Rows of an int64 table equal to an earlier row (``DataFrame.duplicated()``, faster)."""
    return _repeats(keys)[0]


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


def _duplicate_segments(lines: _Lines, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per vertex: does the segment it starts repeat one seen earlier in its ``group`` of
    lines (the same ref), and anywhere in the network?"""
    k, ends = _segment_keys(lines)
    in_network, repeated = _repeats(ends)
    # a segment repeated within its group is repeated in the network: compare those only
    r = np.flatnonzero(repeated)
    in_group = np.zeros(len(k), dtype=bool)
    owner = np.asarray(group, dtype=np.int64)[lines.vline[k[r]]]
    in_group[r] = _duplicated(np.column_stack([ends[r], owner]))
    dup_group, dup_network = np.zeros((2, len(lines.vline)), dtype=bool)
    dup_group[k], dup_network[k] = in_group, in_network
    return dup_group, dup_network


def _substrings(lines: _Lines, line: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """LineStrings of the stretches [a, b] (global chainage) of ``line``, vectorised."""
    if len(a) == 0:
        return np.empty(0, dtype=object)
    g = lines.g
    i0 = np.searchsorted(g, a, side="right")  # first vertex after a
    i1 = np.searchsorted(g, b, side="left")  # first vertex at or after b
    count = np.maximum(i1 - i0, 0) + 2  # the vertices in between, and both ends
    head = np.cumsum(count) - count  # position of each run's first point

    def point(at, right):
        lo = np.clip(right - 1, 0, len(g) - 2)
        t = np.clip((at - g[lo]) / (g[lo + 1] - g[lo]), 0.0, 1.0)
        return lines.x[lo] + t * (lines.x[lo + 1] - lines.x[lo]), lines.y[lo] + t * (
            lines.y[lo + 1] - lines.y[lo]
        )

    ax, ay = point(a, i0)
    bx, by = point(b, np.maximum(i1, 1))
    # point k of a run is vertex i0 + k - 1; its ends are then replaced by a and b
    vert = np.arange(count.sum()) - np.repeat(head - i0 + 1, count)
    np.clip(vert, 0, len(g) - 1, out=vert)
    xs, ys = lines.x[vert], lines.y[vert]
    xs[head], ys[head] = ax, ay
    xs[head + count - 1], ys[head + count - 1] = bx, by
    return shapely.linestrings(xs, ys, indices=np.repeat(np.arange(len(a)), count))


# ------------------------------------------------------------------ the primitive


@dataclass(frozen=True, eq=False)
class PreparedRoads:
    """A road network made ready for :func:`cover_lines`, once for many sets of circles.

    Everything that depends on the roads and zones only (line parts and chainages,
    the pieces and their KD-tree, the stretches between vertices and zone borders with
    their line, zone and whether they repeat a segment) is computed here, so that the
    5G gaps and the RSU road-km share one preparation.
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
    pieces: _Pieces = field(repr=False)
    tree: cKDTree | None = field(repr=False)
    edges: np.ndarray = field(repr=False)  # sorted distinct static cut points
    # per static stretch (edges[k], edges[k + 1]), and one more for "beyond the last edge":
    line: np.ndarray = field(repr=False)  # its line, -1 between lines or outside every zone
    city: np.ndarray = field(repr=False)  # adcode of its zone, -1 without zones
    dup_route: np.ndarray = field(repr=False)  # its segment repeats one within its ref
    dup_network: np.ndarray = field(repr=False)  # its segment repeats one anywhere


def _pieces_and_tree(lines: _Lines, piece_m: float) -> tuple[_Pieces, cKDTree | None]:
    """The pieces of :func:`_pieces` and their KD-tree (one task of the preparation)."""
    pieces = _pieces(lines, piece_m)
    return pieces, _piece_tree(pieces)


def _prepare(roads: gpd.GeoDataFrame, zones, piece_m: float, crs=None, scale=None) -> PreparedRoads:
    """:class:`PreparedRoads` of metric ``roads`` and ``zones`` (same CRS)."""
    offset = roads["chain_offset_m"].to_numpy("float64") if "chain_offset_m" in roads else None
    lines = _explode(roads.geometry.values, scale, offset)
    zoned = zones is not None and len(lines.parts) > 0
    ref = roads["ref"].to_numpy(dtype=object)[lines.feature]  # per line
    # Three independent parts on all cores (GEOS, the KD-tree build and sorts release the
    # GIL): the zone borders along the lines, the pieces and their tree, repeated segments.
    with ThreadPoolExecutor(max_workers=2) as pool:
        zone_job = pool.submit(_zone_intervals, lines, zones) if zoned else None
        piece_job = pool.submit(_pieces_and_tree, lines, piece_m)
        dup_route, dup_network = _duplicate_segments(lines, pd.factorize(ref)[0])
        if zoned:
            z0, z1, zpos = zone_job.result()
            adcodes = np.asarray(zones.index, dtype="int64")
            zone_cut = (z0, z1, adcodes[zpos])
        else:
            zone_cut = None
        # a line's first and last vertex are its ends: the vertices are the line cuts
        extra = np.concatenate(zone_cut[:2]) if zoned else np.zeros(0)
        edges, vertex = _merged_edges(lines.g, extra)
        stretch_vertex = np.maximum(vertex[:-1], 0)
        line, city = _stretches(lines, edges, vertex[:-1], zone_cut)
        pieces, tree = piece_job.result()
    return PreparedRoads(
        roads=roads,
        zones=zones,
        crs=roads.crs if crs is None else crs,
        piece_m=float(piece_m),
        lines=lines,
        pieces=pieces,
        tree=tree,
        edges=edges,
        line=line,
        city=city,
        dup_route=np.r_[dup_route[stretch_vertex], False],
        dup_network=np.r_[dup_network[stretch_vertex], False],
    )


def _stretches(lines: _Lines, edges: np.ndarray, vertex: np.ndarray, zone_cut):
    """Line and zone adcode of each stretch between consecutive edges.

    ``vertex`` is the last vertex at or before each stretch. Every line end, vertex and
    zone border is an edge, so any stretch cut out of a static stretch later (at a
    coverage boundary) has the same line, zone and segment. Line and zone get one more
    entry, -1, for "beyond the last edge".
    """
    nxt = np.minimum(vertex + 1, len(lines.vline) - 1)
    # inside a line when the vertex starts a segment; between lines otherwise
    line = np.where(
        (vertex >= 0) & (lines.vline[nxt] == lines.vline[vertex]) & (nxt > vertex),
        lines.vline[vertex],
        -1,
    )
    if zone_cut is None:
        city = np.full(len(line), -1, dtype="int64")
    else:
        city = _lookup(*zone_cut, (edges[:-1] + edges[1:]) / 2, -1)
        line[city < 0] = -1
    return np.r_[line, -1].astype(np.int32), np.r_[city, -1]


def _metric(layer, crs: CRS | None, name: str):
    if crs is None:
        crs = metric_crs(to_wgs84(layer, name).total_bounds)
    return crs, to_metric(layer, crs, name)


def prepare_roads(
    roads: gpd.GeoDataFrame,
    cities: gpd.GeoDataFrame | None = None,
    crs=None,
    *,
    piece_m: float = 500.0,
    scale=None,
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
    scale : callable, optional
        ``scale(x, y)``: the point scale factor of ``crs`` (a conformal projection) at
        projected coordinates, e.g. :meth:`geo5g.project.Zone.scale`. Lengths and
        chainages are then true metres (projected length / scale), and the circles
        given to :func:`cover_lines` must be in projected units (reach × scale at the
        centre). Default: lengths in the units of ``crs``.

    Returns
    -------
    PreparedRoads
    """
    crs, roads_m = _metric(roads, crs, roads.attrs.get("source", "roads"))
    zones = None if cities is None else to_metric(cities, crs, "cities")
    return _prepare(roads_m, zones, piece_m, crs, scale)


def _merged_edges(static: np.ndarray, extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(np.concatenate([static, extra]))`` for sorted distinct ``static``.

    Also returns, per merged edge, the position in ``static`` of the last static edge
    at or before it (-1 before the first), i.e. the static stretch it starts in.
    """
    extra = np.unique(extra)
    at = np.searchsorted(static, extra, side="right")  # an equal extra follows its twin
    merged = np.insert(static, at, extra)  # linear, no sort
    is_static = np.insert(np.ones(len(static), dtype=bool), at, False)
    if len(merged):
        distinct = np.r_[True, merged[1:] != merged[:-1]]
        merged, is_static = merged[distinct], is_static[distinct]
    return merged, np.cumsum(is_static) - 1


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
    roads, lines = net.roads, net.lines
    if len(lines.parts) == 0:
        empty = {c: [] for c in RUN_COLUMNS if c != "geometry"}
        return gpd.GeoDataFrame(empty, geometry=np.empty(0, dtype=object), crs=roads.crs)
    u0, u1 = _covered_intervals(net, x, y, radius)
    # the coverage boundaries cut the static stretches; each part keeps its stretch's
    # line, zone and repeat flags
    edges, static = _merged_edges(net.edges, np.concatenate([u0, u1]))
    e0, e1, static = edges[:-1], edges[1:], static[:-1]
    line = net.line[static]
    keep = (e1 - e0 > _TOL) & (line >= 0)
    e0, e1, line, static = e0[keep], e1[keep], line[keep], static[keep]
    city = net.city[static]
    mid = (e0 + e1) / 2
    covered = _lookup(u0, u1, np.ones(len(u0), dtype=bool), mid, False).astype(bool)

    feature = lines.feature[line]
    weight = (
        roads["weight"].to_numpy("float64")[lines.feature]
        if "weight" in roads.columns
        else np.ones(len(lines.feature))
    )
    dup_route = net.dup_route[static]
    dup_network = net.dup_network[static]
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
            # expressway, main_road, railway, metro or tunnel (geo5g.roads.LINE_KINDS)
            "kind": roads["kind"].to_numpy(dtype=object)[feat].astype(str)
            if "kind" in roads.columns
            else np.full(len(first), "expressway", dtype=object),
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
