"""Coverage of ports and other points of interest.

For every port (a point, or a polygon for a port area): is it within reach of a
site, how far is the nearest site, and which site serves it. Points are covered or
not; for polygons the covered share of the area is computed geometrically (the
polygon intersected with the union of the disks of the sites that reach it, disks
drawn with 64 segments per quarter: within 0.01 % of the exact circle area), and
the polygon is covered when that share reaches ``settings.port_min_share``. A
regular grid of about ``settings.port_sample_points`` points inside each polygon
decides which site serves it.

All ports are handled in one pass: the sample points of every port are queried
against a KD-tree of the sites per radius bin (reaches within a factor 1.25), so
that a farther site with a larger reach is never missed.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from .coverage import CoverageModel, CoverageSettings, load_settings, site_reach, sites_near
from .errors import CRSError
from .project import metric_crs, to_metric, to_wgs84

__all__ = ["PORT_COLUMNS", "port_coverage", "summarise_ports"]

#: Columns of the table returned by :func:`port_coverage` (besides ``geometry``).
PORT_COLUMNS = (
    "name",
    "kind",
    "covered",
    "covered_share",
    "status",
    "distance_m",
    "nearest_site_id",
    "serving_site_id",
    "serving_operator",
    "serving_reach_m",
    "synthetic",
)

_AT_REACH_M = 1e-3  # a port exactly at a site's reach is covered (1 mm for rounding)
_BIN_RATIO = 1.25


def _samples(geoms: np.ndarray, n_target: int):
    """Sample points: the point itself, or a grid inside each polygon.

    Returns x, y, the port of each sample.
    """
    is_poly = np.isin(shapely.get_type_id(geoms), (3, 6))
    pts = np.flatnonzero(~is_poly)
    xy = shapely.get_coordinates(shapely.centroid(geoms[pts]))
    xs, ys, owner = [xy[:, 0]], [xy[:, 1]], [pts]
    polys = np.flatnonzero(is_poly)
    if len(polys):
        g = geoms[polys]
        shapely.prepare(g)
        b = shapely.bounds(g)
        step = np.sqrt(shapely.area(g) / n_target)
        nx = np.maximum(np.ceil((b[:, 2] - b[:, 0]) / step), 1).astype(np.int64)
        ny = np.maximum(np.ceil((b[:, 3] - b[:, 1]) / step), 1).astype(np.int64)
        count = nx * ny
        which = np.repeat(np.arange(len(g)), count)
        k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        gx = b[which, 0] + (k % nx[which] + 0.5) * step[which]
        gy = b[which, 1] + (k // nx[which] + 0.5) * step[which]
        inside = shapely.contains_xy(g[which], gx, gy)
        xs.append(gx[inside])
        ys.append(gy[inside])
        owner.append(polys[which[inside]])
        # a thin polygon may catch no grid point: use its representative point
        empty = np.bincount(which[inside], minlength=len(g)) == 0
        rep = shapely.get_coordinates(shapely.point_on_surface(g[empty]))
        xs.append(rep[:, 0])
        ys.append(rep[:, 1])
        owner.append(polys[empty])
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(owner)


def _pick(values: np.ndarray, pos: np.ndarray, dtype="string"):
    """``values[pos]``, missing where ``pos`` is -1."""
    out = np.full(len(pos), None, dtype=object)
    ok = pos >= 0
    out[ok] = values[pos[ok]]
    if dtype == "float64":
        return np.where(ok, out, np.nan).astype("float64")
    return pd.array(out, dtype=dtype)


def _nearest_covering(qx, qy, x, y, reach):
    """Per query point: the nearest site whose reach covers it (-1 if none), and its distance.

    Per radius bin, one nearest-neighbour query settles most points: covered when the
    nearest site of the bin reaches them, out of reach of the whole bin when it is
    farther than the bin's largest reach. Only the points in between (a nearer site
    with a smaller reach) are matched against every site of the bin in range.
    """
    best = np.full(len(qx), -1, dtype=np.int64)
    dist = np.full(len(qx), np.inf)
    if len(qx) == 0 or len(x) == 0:
        return best, dist
    bins = np.floor(np.log(reach) / np.log(_BIN_RATIO)).astype(np.int64)
    for b in np.unique(bins):  # a few radius bins, never a loop over sites
        members = np.flatnonzero(bins == b)
        tree = cKDTree(np.column_stack([x[members], y[members]]))
        limit = reach[members].max() + _AT_REACH_M
        # only the query points this bin's sites can reach are looked up
        ask = np.flatnonzero(sites_near(x[members], y[members], qx, qy, limit))
        query = np.column_stack([qx[ask], qy[ask]])
        d, k = tree.query(query, k=1, distance_upper_bound=limit, workers=-1)
        found = np.isfinite(d)
        site = np.where(found, members[np.minimum(k, len(members) - 1)], -1)
        covers = found & (d <= reach[np.maximum(site, 0)] + _AT_REACH_M)
        better = covers & (d < dist[ask])
        best[ask[better]], dist[ask[better]] = site[better], d[better]
        unsure = np.flatnonzero(found & ~covers)
        if len(unsure):
            pairs = cKDTree(query[unsure]).sparse_distance_matrix(
                tree, limit, output_type="ndarray"
            )
            j = members[pairs["j"]]
            ok = pairs["v"] <= reach[j] + _AT_REACH_M
            i, j, v = ask[unsure[pairs["i"][ok]]], j[ok], pairs["v"][ok]
            order = np.lexsort((v, i))
            first = order[np.r_[True, i[order][1:] != i[order][:-1]]] if len(i) else order
            i, j, v = i[first], j[first], v[first]
            better = v < dist[i]
            best[i[better]], dist[i[better]] = j[better], v[better]
    return best, dist


def _area_share(polys: np.ndarray, x, y, reach) -> np.ndarray:
    """Share of each polygon within reach of some site (geometric, not sampled)."""
    share = np.zeros(len(polys))
    if len(polys) == 0 or len(x) == 0:
        return share
    # candidate pairs: sites whose disk may touch the polygon's circumscribed circle
    b = shapely.bounds(polys)
    centre = np.column_stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2])
    radius = np.hypot(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) / 2
    tree = cKDTree(np.column_stack([x, y]))
    near = tree.query_ball_point(centre, radius + reach.max() + _AT_REACH_M)
    counts = np.fromiter((len(v) for v in near), dtype=np.int64, count=len(near))
    if counts.sum() == 0:
        return share
    poly = np.repeat(np.arange(len(polys)), counts)
    site = np.concatenate([np.asarray(v, dtype=np.int64) for v in near if len(v)])
    pts = shapely.points(x[site], y[site])
    keep = shapely.distance(polys[poly], pts) <= reach[site] + _AT_REACH_M
    poly, site, pts = poly[keep], site[keep], pts[keep]
    # a disk holding every vertex holds the whole polygon (the farthest point of a
    # polygon from a point is a vertex): share 1 without drawing any disk
    whole = shapely.hausdorff_distance(polys[poly], pts) <= reach[site] + _AT_REACH_M
    full = np.unique(poly[whole])
    share[full] = 1.0
    rest = ~np.isin(poly, full)
    poly, site, pts = poly[rest], site[rest], pts[rest]
    if len(poly) == 0:
        return share
    disks = gpd.GeoDataFrame(
        {"poly": poly}, geometry=shapely.buffer(pts, reach[site] + _AT_REACH_M, quad_segs=64)
    ).dissolve("poly")
    idx = disks.index.to_numpy()
    inter = shapely.intersection(polys[idx], disks.geometry.values)
    share[idx] = np.clip(shapely.area(inter) / shapely.area(polys[idx]), 0.0, 1.0)
    return share


def _near_ports(geoms: np.ndarray, x, y, dist: float) -> np.ndarray:
    """Positions of the sites that may lie within ``dist`` of some port (a superset).

    Each port's bounding box is covered with query points ``dist`` apart, so that
    every point of the port is within ``0.71 dist`` of one; the coarse grid of
    :func:`geo5g.coverage.sites_near` then keeps every site within ``dist`` of a port.
    """
    b = shapely.bounds(geoms)
    nx = np.floor((b[:, 2] - b[:, 0]) / dist).astype(np.int64) + 2
    ny = np.floor((b[:, 3] - b[:, 1]) / dist).astype(np.int64) + 2
    count = nx * ny
    port = np.repeat(np.arange(len(geoms)), count)
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    qx = np.minimum(b[port, 0] + (k % nx[port]) * dist, b[port, 2])
    qy = np.minimum(b[port, 1] + (k // nx[port]) * dist, b[port, 3])
    return np.flatnonzero(sites_near(qx, qy, x, y, dist * (1.0 + np.sqrt(0.5))))


#: Radii (metres) of the widening search for each port's nearest site: most ports
#: have one within the first, and only the others look farther. A small first step
#: keeps the KD-tree of a city's port small (nation: 1.6 → 1.2 s with 1 km, not 10 km).
_NEAREST_STEPS = (1_000.0, 5_000.0, 50_000.0, np.inf)


def _nearest_sites(geoms: np.ndarray, x, y):
    """Distance to, and position of, the nearest site of every port (exact, areas too).

    A widening search (:data:`_NEAREST_STEPS`): the candidates within radius ``R`` of
    the ports still open (a superset, :func:`_near_ports`) go into one small KD-tree;
    a port whose nearest candidate is within ``R`` is done (any nearer site would be a
    candidate too), the others ask again with the next radius, the last one all sites.
    Millions of sites are never put in a tree for a few thousand ports.
    """
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    distance = np.full(len(geoms), np.nan)
    nearest = np.full(len(geoms), -1, dtype=np.int64)
    todo = np.arange(len(geoms))
    for radius in _NEAREST_STEPS:
        if not len(todo) or not len(x):
            break
        wide = not np.isfinite(radius)
        cand = np.arange(len(x)) if wide else _near_ports(geoms[todo], x, y, radius)
        if not len(cand):
            continue
        d, j = _nearest_among(geoms[todo], x[cand], y[cand])
        done = d <= radius
        distance[todo[done]] = d[done]
        nearest[todo[done]] = cand[j[done]]
        todo = todo[~done]
    return distance, nearest


def _nearest_among(geoms: np.ndarray, x, y):
    """Distance to, and position of, the nearest of the sites ``x, y`` (exact, areas too).

    One KD-tree of the sites. A point port asks it directly. For an area, the site
    nearest to a point inside it (distance ``d``) bounds the answer, so the nearest
    site lies within ``d`` plus the area's reach from that point: only those few
    candidates are measured exactly with ``shapely.distance``.
    """
    distance = np.full(len(geoms), np.nan)
    nearest = np.full(len(geoms), -1, dtype=np.int64)
    if len(x) == 0 or len(geoms) == 0:
        return distance, nearest
    # unbalanced, and without shrinking nodes: builds in half the time for millions of sites
    tree = cKDTree(np.column_stack([x, y]), balanced_tree=False, compact_nodes=False)
    is_point = shapely.get_type_id(geoms) == 0
    if is_point.any():
        d, j = tree.query(shapely.get_coordinates(geoms[is_point]))
        distance[is_point], nearest[is_point] = d, j
    areas = np.flatnonzero(~is_point)
    if len(areas):
        rep = shapely.get_coordinates(shapely.point_on_surface(geoms[areas]))
        d0, _ = tree.query(rep)
        b = shapely.bounds(geoms[areas])
        corner_x = np.maximum(np.abs(b[:, 0] - rep[:, 0]), np.abs(b[:, 2] - rep[:, 0]))
        corner_y = np.maximum(np.abs(b[:, 1] - rep[:, 1]), np.abs(b[:, 3] - rep[:, 1]))
        found = tree.query_ball_point(rep, d0 + np.hypot(corner_x, corner_y) + _AT_REACH_M)
        counts = np.fromiter((len(v) for v in found), dtype=np.int64, count=len(found))
        which = np.repeat(np.arange(len(areas)), counts)
        site = np.concatenate([np.asarray(v, dtype=np.int64) for v in found])
        dist = shapely.distance(geoms[areas[which]], shapely.points(x[site], y[site]))
        order = np.lexsort((dist, which))
        first = order[np.r_[True, which[order][1:] != which[order][:-1]]]
        distance[areas[which[first]]] = dist[first]
        nearest[areas[which[first]]] = site[first]
    return distance, nearest


def _column_at(sites, column: str, pos: np.ndarray) -> np.ndarray:
    """``sites[column]`` at the positions ``pos`` (>= 0 only), as an object array."""
    out = np.full(len(pos), None, dtype=object)
    ok = pos >= 0
    if column in sites.columns:
        out[ok] = sites[column].iloc[pos[ok]].astype("string").to_numpy(dtype=object)
    elif column == "site_id":
        out[ok] = np.asarray(sites.index[pos[ok]].astype(str), dtype=object)
    return out


def port_coverage(
    ports: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    *,
    settings: CoverageSettings | None = None,
    model: CoverageModel | None = None,
    counties: gpd.GeoDataFrame | None = None,
    urban=None,
    crs=None,
    xy=None,
    reach_m=None,
    scale=None,
) -> gpd.GeoDataFrame:
    """Coverage status of every port (or other point of interest).

    Parameters
    ----------
    ports : geopandas.GeoDataFrame
        Validated ports (:func:`geo5g.roads.read_ports`): points or polygons with
        ``port_id`` and ``name``, any CRS.
    sites : geopandas.GeoDataFrame
        Validated point sites (``site_id``, ``operator``, ``band``, ``radius_m``).
    settings : CoverageSettings, optional
        Default :func:`geo5g.coverage.load_settings`.
    model : CoverageModel, optional
        Default band table of ``settings``.
    counties : geopandas.GeoDataFrame, optional
        Counties with an ``urban`` flag for the sites' environment.
    urban : array_like of bool, optional
        Environment per site (overrides ``counties`` and the density rule).
    crs : pyproj.CRS, optional
        Metric CRS; default a transverse Mercator centred on the ports.
    xy, reach_m : optional
        The sites' coordinates in ``crs`` and their reach, already computed
        (see :func:`geo5g.coverage.site_reach`; ``xy`` needs ``crs``).
    scale : callable, optional
        ``scale(x, y)``, the point scale factor of ``crs`` (a conformal zone of
        :func:`geo5g.project.measure_frame`): ``reach_m`` is then in projected units
        (true reach × scale at the site) and distances are returned in true metres
        (projected / scale at the port).

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by ``port_id``, in the ports' CRS, with :data:`PORT_COLUMNS`:
        ``kind`` ("point"/"area"); ``covered`` (bool); ``covered_share`` (share of
        the area in reach; 1.0/0.0 for points); ``status`` ("covered", "partial",
        "not covered"); ``distance_m`` to the nearest site (0 for a site inside an
        area; NaN without sites); ``nearest_site_id``; ``serving_site_id``,
        ``serving_operator`` and ``serving_reach_m`` of the serving site: the
        nearest covering site (for an area, the one that is the nearest covering
        site for most of its sample points; ties: the nearer), NA when not covered.
    """
    settings = settings or load_settings()
    if xy is not None and crs is None:
        raise CRSError("port_coverage: xy needs the crs it is in")
    if crs is None:
        crs = metric_crs(to_wgs84(ports, ports.attrs.get("source", "ports")).total_bounds)
    ports_m = to_metric(ports, crs, ports.attrs.get("source", "ports"))
    x, y, reach = site_reach(
        sites, crs, settings, model=model, counties=counties, urban=urban, xy=xy, reach_m=reach_m
    )
    geoms = ports_m.geometry.values
    n = len(geoms)
    qx, qy, owner = _samples(geoms, settings.port_sample_points)
    # only the sites that can reach some port take part (most of a country's cannot)
    near = (
        _near_ports(geoms, x, y, float(reach.max()) + _AT_REACH_M)
        if len(x) and n
        else np.zeros(0, dtype=np.int64)
    )
    # and only the sample points that some site can reach are looked up
    ask = np.flatnonzero(
        sites_near(x[near], y[near], qx, qy, float(reach.max()) + _AT_REACH_M)
        if len(near)
        else np.zeros(len(qx), dtype=bool)
    )
    site = np.full(len(qx), -1, dtype=np.int64)
    dist = np.full(len(qx), np.inf)
    found, d = _nearest_covering(qx[ask], qy[ask], x[near], y[near], reach[near])
    site[ask] = np.where(found >= 0, near[np.maximum(found, 0)] if len(near) else -1, -1)
    dist[ask] = d

    hit = site >= 0
    is_area = np.isin(shapely.get_type_id(geoms), (3, 6))
    share = (np.bincount(owner, weights=hit, minlength=n) > 0).astype("float64")
    share[is_area] = _area_share(geoms[is_area], x[near], y[near], reach[near])
    # serving: the site that is the nearest covering one for most of the port's samples
    port, site, dist = owner[hit], site[hit], dist[hit]
    key, inverse, count = np.unique(port * len(x) + site, return_inverse=True, return_counts=True)
    mean_d = np.bincount(inverse, weights=dist, minlength=len(key)) / np.maximum(count, 1)
    port_k = key // max(len(x), 1)
    order = np.lexsort((mean_d, -count, port_k))
    lead = order[np.r_[True, port_k[order][1:] != port_k[order][:-1]]] if len(order) else order
    serving = np.full(n, -1, dtype=np.int64)
    serving[port_k[lead]] = key[lead] % max(len(x), 1)

    distance, nearest = _nearest_sites(geoms, x, y)
    ids_nearest = _column_at(sites, "site_id", nearest)
    ids_serving = _column_at(sites, "site_id", serving)
    ops_serving = _column_at(sites, "operator", serving)

    serving_reach = _pick(reach, serving, dtype="float64")
    if scale is not None and n:
        here = shapely.get_coordinates(shapely.point_on_surface(geoms))
        k = np.asarray(scale(here[:, 0], here[:, 1]), dtype="float64")
        distance = distance / k
        serving_reach = serving_reach / k
    covered = share >= settings.port_min_share
    status = np.where(covered, "covered", np.where(share > 0, "partial", "not covered"))
    out = gpd.GeoDataFrame(
        {
            "name": ports["name"].to_numpy(dtype=object) if "name" in ports else "",
            "kind": np.where(shapely.get_type_id(geoms) == 0, "point", "area"),
            "covered": covered,
            "covered_share": share,
            "status": status,
            "distance_m": distance,
            "nearest_site_id": pd.array(ids_nearest, dtype="string"),
            "serving_site_id": pd.array(ids_serving, dtype="string"),
            "serving_operator": pd.array(ops_serving, dtype="string"),
            "serving_reach_m": serving_reach,
            "synthetic": ports["synthetic"].to_numpy(dtype=bool) if "synthetic" in ports else False,
        },
        geometry=ports.geometry.values,
        crs=ports.crs,
        index=pd.Index(ports["port_id"].astype(str).to_numpy(), name="port_id"),
    )
    return out


def summarise_ports(table: pd.DataFrame) -> pd.Series:
    """Counts and share of covered ports from :func:`port_coverage`.

    Returns
    -------
    pandas.Series
        ``n_ports``, ``n_covered``, ``n_partial``, ``covered_pct`` (NaN for no ports),
        named ``"ports"``.
    """
    n = len(table)
    covered = int(table["covered"].sum())
    return pd.Series(
        {
            "n_ports": n,
            "n_covered": covered,
            "n_partial": int((table["status"] == "partial").sum()),
            "covered_pct": 100.0 * covered / n if n else np.nan,
        },
        name="ports",
    )
