"""Site density as hexagons: count points per hexagon of a regular grid.

A province has ~250,000 sites, far too many to draw one by one; a map shows
their density instead, as one polygon per non-empty hexagon.  Binning is pure
numpy: the points are projected into a metric CRS suited to their extent
(:func:`geo5g.project.metric_crs`), assigned to axial hexagon coordinates
``(q, r)`` by cube rounding, and counted with one :func:`numpy.unique`.

Hexagons are "pointy-top"; their *size* is the distance across flats (the
width a reader sees on the map), so a 3 km hexagon covers
``3**2 * sqrt(3) / 2`` ≈ 7.79 km².

Examples
--------
>>> import geopandas as gpd
>>> pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy([119.0, 119.0, 119.5], [32.0, 32.0, 32.0]),
...                        crs="EPSG:4326")
>>> hexes = hexbin(pts, size_m=2000.0)
>>> sorted(hexes["stations"].tolist())
[1, 2]
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .errors import DataError
from .project import is_site_table, metric_crs, metric_xy, require_crs, to_wgs84

__all__ = ["HEX_SIZES_M", "auto_hex_size", "hex_axial", "hexbin"]

#: The hexagon sizes (across flats, metres) :func:`auto_hex_size` picks from.
HEX_SIZES_M = (500.0, 1_000.0, 2_000.0, 3_000.0, 5_000.0, 10_000.0, 20_000.0, 30_000.0, 50_000.0)

# About 200 hexagons across the longer side of the extent: ~3 km for a
# province like Jiangsu (~530 km wide), ~30 km for the whole of China.
_HEXES_ACROSS = 200.0
_SQRT3 = np.sqrt(3.0)
# Points put into hexagons at a time (a few MB of temporaries per slice).
_SLICE = 1 << 18


def auto_hex_size(width_m: float, height_m: float) -> float:
    """Choose a hexagon size (across flats, metres) for an extent.

    Parameters
    ----------
    width_m, height_m : float
        Size of the area to cover, in metres.

    Returns
    -------
    float
        The smallest of :data:`HEX_SIZES_M` that is at least
        ``max(width_m, height_m) / 200``; the largest one for huge extents
        and the smallest one for an empty or degenerate extent.

    Examples
    --------
    >>> auto_hex_size(530_000, 400_000)
    3000.0
    >>> auto_hex_size(5_000_000, 3_500_000)
    30000.0
    >>> auto_hex_size(0, 0)
    500.0
    """
    wanted = max(float(width_m), float(height_m), 0.0) / _HEXES_ACROSS
    if not np.isfinite(wanted):
        return HEX_SIZES_M[-1]
    for size in HEX_SIZES_M:
        if size >= wanted:
            return size
    return HEX_SIZES_M[-1]


def hex_axial(x, y, size_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Axial coordinates ``(q, r)`` of the pointy-top hexagons holding points.

    Parameters
    ----------
    x, y : array_like
        Metric coordinates, same shape.
    size_m : float
        Hexagon size across flats, in metres (> 0).

    Returns
    -------
    tuple of numpy.ndarray
        ``(q, r)`` as int64 arrays; the hexagon centre is at
        ``x = size * (q + r / 2)``, ``y = size * r * sqrt(3) / 2``.

    Examples
    --------
    >>> q, r = hex_axial([0.0, 1000.0, 500.0], [0.0, 0.0, 870.0], 1000.0)
    >>> q.tolist(), r.tolist()
    ([0, 1, 0], [0, 0, 1])
    """
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    radius = size_m / _SQRT3  # centre to vertex
    qf = (_SQRT3 / 3.0 * x - y / 3.0) / radius
    rf = (2.0 / 3.0 * y) / radius
    # Cube rounding: round all three cube coordinates, then fix the one that
    # moved most so that q + r + s == 0 still holds.
    sf = -qf - rf
    q, r, s = np.rint(qf), np.rint(rf), np.rint(sf)
    dq, dr, ds = np.abs(q - qf), np.abs(r - rf), np.abs(s - sf)
    fix_q = (dq > dr) & (dq > ds)
    fix_r = ~fix_q & (dr > ds)
    q = np.where(fix_q, -r - s, q)
    r = np.where(fix_r, -q - s, r)
    return q.astype("int64"), r.astype("int64")


def _hex_polygons(q: np.ndarray, r: np.ndarray, size_m: float) -> np.ndarray:
    """Pointy-top hexagon polygons centred on axial cells, one per (q, r)."""
    cx = size_m * (q + r / 2.0)
    cy = size_m * r * _SQRT3 / 2.0
    radius = size_m / _SQRT3
    angles = np.deg2rad(30.0 + 60.0 * np.arange(7))  # closed ring: 7 vertices
    ring = np.empty((len(q), 7, 2))
    ring[:, :, 0] = cx[:, None] + radius * np.cos(angles)[None, :]
    ring[:, :, 1] = cy[:, None] + radius * np.sin(angles)[None, :]
    return shapely.polygons(ring)


def hexbin(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    size_m: float | None = None,
    *,
    crs=None,
) -> gpd.GeoDataFrame:
    """Count points per hexagon; one polygon per non-empty hexagon.

    Parameters
    ----------
    points : geopandas.GeoDataFrame or geopandas.GeoSeries or pandas.DataFrame
        Point layer with a CRS (sites), or a site table (``lon``/``lat``).
        Missing or empty geometries are ignored; non-point geometries are refused.
    size_m : float, optional
        Hexagon size across flats, in metres; chosen from the extent by
        :func:`auto_hex_size` when omitted.
    crs : pyproj.CRS, optional
        Metric CRS in which the grid is regular; by default
        :func:`geo5g.project.metric_crs` of the points' WGS-84 bounds.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, RangeIndex, columns ``q``, ``r`` (int64 axial cell),
        ``stations`` (int64 > 0) and the hexagon ``geometry``; sorted by
        ``(r, q)``. ``attrs["hex_size_m"]`` holds the size used. Empty (with
        these columns) when there are no points.

    Raises
    ------
    CRSError
        If ``points`` has no CRS.
    DataError
        If a geometry is not a point, or ``size_m`` is not positive.
    """
    if size_m is not None and not (np.isfinite(size_m) and size_m > 0):
        raise DataError(f"hexagon size must be a positive number of metres, not {size_m!r}")
    if is_site_table(points):  # lon/lat columns (WGS-84): no geometry to unpack
        lon = points["lon"].to_numpy("float64")
        lat = points["lat"].to_numpy("float64")
        if crs is None:
            bounds = (lon.min(), lat.min(), lon.max(), lat.max()) if len(lon) else (0.0,) * 4
            crs = metric_crs(bounds)
        return _hexbin_xy(*metric_xy(points, crs, "sites"), size_m, crs)
    require_crs(points, "sites")
    geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    arr = geoms.array.to_numpy()
    geoms = geoms[~shapely.is_missing(arr) & ~shapely.is_empty(arr)]
    types = shapely.get_type_id(geoms.array)
    if (bad := types != shapely.GeometryType.POINT).any():
        rows = ", ".join(map(str, geoms.index[bad][:5]))
        raise DataError(
            f"sites: {int(bad.sum())} geometries are not points (rows {rows}); "
            "hexagon density needs one point per site"
        )

    wgs = to_wgs84(geoms, "sites")
    if crs is None:
        bounds = wgs.total_bounds if len(wgs) else (0.0, 0.0, 0.0, 0.0)
        crs = metric_crs(bounds)
    x, y = metric_xy(wgs, crs, "sites")  # arrays only: no Point objects for millions of sites
    return _hexbin_xy(x, y, size_m, crs)


def _hexbin_xy(x, y, size_m, crs) -> gpd.GeoDataFrame:
    """:func:`hexbin` of metric coordinates ``x, y`` in ``crs``."""
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    if size_m is None:
        span = (np.ptp(x), np.ptp(y)) if len(x) else (0.0, 0.0)
        size_m = auto_hex_size(span[0], span[1])

    # in slices: cube rounding makes a dozen temporaries, which for millions of sites
    # (a national page: 4.8 M, 550 MB) would be fresh memory; a slice's are reused
    q = np.empty(len(x), dtype="int64")
    r = np.empty(len(x), dtype="int64")
    for start in range(0, len(x), _SLICE):
        sl = slice(start, start + _SLICE)
        q[sl], r[sl] = hex_axial(x[sl], y[sl], size_m)
    # One int64 key per cell (row-major in r, q): a 1-D unique sorts ~10x
    # faster than np.unique(..., axis=0) on pairs.
    q0 = q.min() if len(q) else 0
    r0 = r.min() if len(r) else 0
    width = (q.max() - q0 + 1) if len(q) else 1
    keys, counts = np.unique((r - r0) * width + (q - q0), return_counts=True)
    cell_r = keys // width + r0
    cell_q = keys % width + q0
    hexes = gpd.GeoDataFrame(
        {
            "q": pd.array(cell_q, dtype="int64"),
            "r": pd.array(cell_r, dtype="int64"),
            "stations": pd.array(counts, dtype="int64"),
        },
        geometry=_hex_polygons(cell_q, cell_r, size_m),
        crs=crs,
    )
    hexes = to_wgs84(hexes, "site hexagons")
    hexes.attrs["hex_size_m"] = float(size_m)
    return hexes
