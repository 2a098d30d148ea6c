"""The one place where data moves into metres, and back to degrees.

**Lengths and distances** are measured in a :class:`Frame` of local conformal
projections (:func:`measure_frame`): transverse Mercator zones no wider than
:data:`MAX_ZONE_WIDTH_DEG` (6°) of longitude, one for an area that narrow (a province
such as Jiangsu), several side by side for a wider one (Xinjiang, the nation). In a
conformal projection a small circle stays a circle and every direction at a point is
scaled alike, by the point scale factor ``k`` (:meth:`Zone.scale`, exact to 1e-9 within
a zone). geo5g divides projected lengths by ``k`` and multiplies reaches by it, so road
km, gap km and distances hold to far better than 0.1 % of the geodesic anywhere in
China (without the correction a zone's edge would be 0.14 % long at the equator, and a
gap — a small difference of lengths — ten times that). An equal-area projection is
never used for lengths: it keeps areas, but stretches distances east–west by
several percent at China's edges and turns a site's disk into an ellipse.

**Areas** (zone areas, hexagons, stations per km²) are measured in an Albers
equal-area conic fitted to the area (:func:`area_crs`).

Every function takes and returns GeoDataFrames/GeoSeries with a CRS; a layer
without a CRS is refused (never guessed). The coordinate functions also take a
*site table* (``lon``/``lat`` columns, ``attrs["crs"]`` EPSG:4326; see
:func:`geo5g.sites.read_sites`), whose coordinates need no geometry at all.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from .errors import CRSError

__all__ = [
    "MAX_ZONE_WIDTH_DEG",
    "WGS84",
    "Frame",
    "Zone",
    "area_crs",
    "conformal_crs",
    "is_site_table",
    "measure_frame",
    "metric_crs",
    "metric_xy",
    "points_xy",
    "require_crs",
    "table_crs",
    "to_metric",
    "to_wgs84",
    "transform_xy",
]

#: Geographic CRS of every layer geo5g stores and renders.
WGS84 = CRS.from_epsg(4326)

_MAX_TM_WIDTH_DEG = 12.0
_POINTS_PER_THREAD = 500_000  # below this a second thread costs more than it saves
#: Degrees from a zone's central meridian within which :meth:`Zone.forward` uses PROJ's
#: Evenden–Snyder series: measured against the exact (Poder–Engsager) algorithm on
#: WGS-84 at 0–56° N, 0.016 mm at 3°, 0.08 mm at 4°, 0.8 mm at 6°, 23 mm at 10°.
_APPROX_WITHIN_DEG = 4.0
_CHINA_ALBERS = CRS.from_proj4(
    "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
)


def is_site_table(sites) -> bool:
    """Whether ``sites`` is a site table: a DataFrame with ``lon``/``lat`` and no geometry.

    Examples
    --------
    >>> import pandas as pd
    >>> is_site_table(pd.DataFrame({"lon": [118.8], "lat": [32.1]}))
    True
    """
    return (
        isinstance(sites, pd.DataFrame)
        and not isinstance(sites, gpd.GeoDataFrame)  # a layer, not a table
        and "lon" in sites.columns
        and "lat" in sites.columns
    )


def table_crs(sites, name: str = "sites") -> CRS:
    """The CRS of a site table's ``lon``/``lat``: its ``attrs["crs"]``, which must be WGS-84.

    Raises
    ------
    CRSError
        ``attrs["crs"]`` is missing (geo5g never guesses) or is not EPSG:4326
        (``lon``/``lat`` of the Sites contract are WGS-84 degrees).
    """
    given = sites.attrs.get("crs")
    if given is None:
        raise CRSError(
            f"{name}: a table of lon/lat without a CRS; geo5g never guesses one. Read it "
            "with geo5g.read_sites(..., points=False) or set table.attrs['crs'] = 'EPSG:4326'"
        )
    crs = CRS.from_user_input(given)
    if not crs.equals(WGS84, ignore_axis_order=True):
        raise CRSError(
            f"{name}: lon/lat of a site table must be WGS-84 (EPSG:4326), not {crs.to_string()}; "
            "convert them with geo5g.coords.to_wgs84 first"
        )
    return WGS84


def require_crs(layer, name: str) -> None:
    """Raise :class:`~geo5g.errors.CRSError` if ``layer`` has no CRS.

    Parameters
    ----------
    layer : geopandas.GeoDataFrame or geopandas.GeoSeries or pandas.DataFrame
        The layer to check; a site table's CRS is its ``attrs["crs"]``
        (see :func:`table_crs`).
    name : str
        The layer's name, used in the message (e.g. ``"roads.gpkg"``).
    """
    if is_site_table(layer):
        table_crs(layer, name)
        return
    if layer.crs is None:
        raise CRSError(
            f"{name}: layer has no CRS; geo5g never guesses one. "
            "Set it in the file (e.g. ogr2ogr -a_srs EPSG:4326) or pass a layer with a CRS"
        )


def metric_crs(bounds) -> CRS:
    """Choose a metric CRS for an area given by its WGS-84 bounds.

    Parameters
    ----------
    bounds : sequence of float
        ``(minx, miny, maxx, maxy)`` in degrees (EPSG:4326).

    Returns
    -------
    pyproj.CRS
        A transverse Mercator centred on the area for regions up to 12° wide,
        else an Albers equal-area conic for China.

    Examples
    --------
    >>> metric_crs((116.3, 30.7, 121.9, 35.1)).coordinate_operation.method_name
    'Transverse Mercator'
    >>> metric_crs((73.5, 18.0, 135.1, 53.6)).coordinate_operation.method_name
    'Albers Equal Area'
    """
    minx, _, maxx, _ = (float(v) for v in bounds)
    if not np.isfinite([minx, maxx]).all() or maxx - minx > _MAX_TM_WIDTH_DEG:
        return _CHINA_ALBERS
    lon0 = round((minx + maxx) / 2.0, 1)
    return CRS.from_proj4(
        f"+proj=tmerc +lat_0=0 +lon_0={lon0} +k=1 +x_0=500000 +y_0=0 +datum=WGS84 +units=m +no_defs"
    )


#: Widest zone of a measurement frame, in degrees of longitude: at 3° from the central
#: meridian the scale factor is 1.0014 at the equator, which the correction removes.
MAX_ZONE_WIDTH_DEG = 6.0

# WGS-84 ellipsoid (the datum of every zone)
_A = 6_378_137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)
_EP2 = _E2 / (1 - _E2)
_FALSE_EASTING = 500_000.0


def _footpoint_latitude(y: np.ndarray) -> np.ndarray:
    """Latitude (radians) whose meridian arc from the equator is ``y`` metres (Snyder 3-26)."""
    e1 = (1 - np.sqrt(1 - _E2)) / (1 + np.sqrt(1 - _E2))
    mu = y / (_A * (1 - _E2 / 4 - 3 * _E2**2 / 64 - 5 * _E2**3 / 256))
    return (
        mu
        + (3 * e1 / 2 - 27 * e1**3 / 32) * np.sin(2 * mu)
        + (21 * e1**2 / 16 - 55 * e1**4 / 32) * np.sin(4 * mu)
        + (151 * e1**3 / 96) * np.sin(6 * mu)
    )


@lru_cache(maxsize=1)
def _footpoint_terms() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """N1 (radius of curvature in the prime vertical) and C1 = e'² cos² φ1 by northing.

    Tabulated every kilometre from 10,000 km south to 10,000 km north of the equator.
    """
    grid = np.arange(-10_000_000.0, 10_000_001.0, 1_000.0)
    phi = _footpoint_latitude(grid)
    sin, cos = np.sin(phi), np.cos(phi)
    return grid, _A / np.sqrt(1 - _E2 * sin * sin), _EP2 * cos * cos


@dataclass(frozen=True)
class Zone:
    """One transverse Mercator zone of a :class:`Frame`.

    Attributes
    ----------
    index : int
        Position in the frame.
    lon0 : float
        Central meridian (degrees).
    west, east : float
        Longitudes of the zone's edges: a feature belongs to the zone its longitude
        falls in (the first and last zones extend to the frame's edges and beyond).
    crs : pyproj.CRS
        ``+proj=tmerc +lon_0=lon0 +k=1 +x_0=500000`` on WGS-84.
    """

    index: int
    lon0: float
    west: float
    east: float
    crs: CRS

    def forward(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """WGS-84 longitudes and latitudes into this zone's metres.

        ``transform_xy(lon, lat, "EPSG:4326", self.crs)``, faster: points within
        :data:`_APPROX_WITHIN_DEG` of the central meridian (a zone's own and its
        neighbours' within any reach) take PROJ's Evenden–Snyder series (``+approx``),
        within 0.1 mm of the exact algorithm there at half its cost; the others the
        exact one.

        Examples
        --------
        >>> z = measure_frame((117.0, 30.0, 119.0, 34.0)).zones[0]
        >>> x, y = z.forward([118.0, 160.0], [0.0, 0.0])
        >>> round(float(x[0]), 3), bool(x[1] > 500_000)
        (500000.0, True)
        """
        lon = np.array(lon, dtype="float64")
        lat = np.array(lat, dtype="float64")
        near = np.abs(lon - self.lon0) <= _APPROX_WITHIN_DEG  # NaN: not near, NaN out
        fast = _approx_transformer(self.lon0)
        if near.all():
            return _apply(lon, lat, fast, lambda: _new_approx(self.lon0))
        if not near.any():
            return transform_xy(lon, lat, WGS84, self.crs)
        x, y = np.empty_like(lon), np.empty_like(lat)
        x[near], y[near] = _apply(lon[near], lat[near], fast, lambda: _new_approx(self.lon0))
        x[~near], y[~near] = transform_xy(lon[~near], lat[~near], WGS84, self.crs)
        return x, y

    def inverse(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """This zone's metres back to WGS-84 longitudes and latitudes (:meth:`forward`'s
        inverse, by the same rule: the fast series where the point lies within
        :data:`_APPROX_WITHIN_DEG` of the central meridian, else the exact algorithm).
        """
        x = np.array(x, dtype="float64")
        y = np.array(y, dtype="float64")
        fast = _approx_transformer(self.lon0)
        lon, lat = _apply(
            x.copy(), y.copy(), fast, lambda: _new_approx(self.lon0), direction="INVERSE"
        )
        far = ~(np.abs(lon - self.lon0) <= _APPROX_WITHIN_DEG)
        if far.any():
            lon[far], lat[far] = transform_xy(x[far], y[far], self.crs, WGS84)
        return lon, lat

    def layer(self, layer, name: str = "layer"):
        """A WGS-84 layer (GeoDataFrame or GeoSeries) in this zone's metres, by :meth:`forward`."""
        require_crs(layer, name)
        if not CRS.from_user_input(layer.crs).equals(WGS84):
            return to_metric(layer, self.crs, name)

        def forward(xy):
            return np.column_stack(self.forward(xy[:, 0], xy[:, 1]))

        geoms = gpd.GeoSeries(
            shapely.transform(np.asarray(layer.geometry.values), forward),
            index=layer.index,
            crs=self.crs,
            name=layer.geometry.name,
        )
        return layer.set_geometry(geoms) if isinstance(layer, gpd.GeoDataFrame) else geoms

    def scale(self, x, y) -> np.ndarray:
        """Point scale factor ``k`` at projected coordinates (x, y) of this zone.

        A length ``L`` measured in the zone is ``L / k`` metres on the ellipsoid, and a
        disk of geodesic radius ``r`` is (to first order) a circle of radius ``k · r``.
        Series in ``D = (x − x0) / N1`` at the footpoint latitude (Snyder 8-25 written
        in x): within 1e-9 of PROJ's own factors at ±4° from the central meridian.

        Examples
        --------
        >>> z = measure_frame((117.0, 30.0, 119.0, 34.0)).zones[0]
        >>> float(z.scale(np.array([500_000.0]), np.array([3_500_000.0]))[0])
        1.0
        """
        from ._tmerc import scale_factor

        # N1 and C1 vary slowly with y: interpolated from a 1 km table they agree with
        # the direct series to 1e-13, at a tenth of the cost for millions of points
        # (compiled: one pass over the points, see geo5g._tmerc)
        x, y = np.broadcast_arrays(np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64"))
        return scale_factor(x, y, *_footpoint_terms(), _FALSE_EASTING)


@dataclass(frozen=True)
class Frame:
    """Local conformal zones covering an area, for measuring lengths and distances.

    Built by :func:`measure_frame`. Features are assigned to the zone their longitude
    falls in (:meth:`zone_of`); points that may reach a feature of a zone from beyond
    its edges are taken into that zone too, so that no disk is cut at a zone edge.

    Attributes
    ----------
    zones : tuple of Zone
    bounds : tuple of float
        The WGS-84 bounds the frame was built for.
    """

    zones: tuple[Zone, ...]
    bounds: tuple[float, float, float, float]

    def zone_of(self, lon) -> np.ndarray:
        """Index of the zone of each longitude (int64; NaN goes to zone 0)."""
        inner = np.array([z.west for z in self.zones[1:]], dtype="float64")
        lon = np.asarray(lon, dtype="float64")
        return np.searchsorted(inner, np.nan_to_num(lon, nan=-np.inf), side="right").astype(
            np.int64
        )

    def degrees(self, metres: float) -> float:
        """Longitude span (degrees) of ``metres`` anywhere in the frame, rounded up.

        At the frame's highest latitude (a degree of longitude is shortest there), with
        1 % to spare.
        """
        lat = min(max(abs(self.bounds[1]), abs(self.bounds[3])), 89.0)
        return float(metres) / (111_319.49 * np.cos(np.radians(lat))) * 1.01 + 1e-9

    def metres(self, degrees) -> np.ndarray:
        """A lower bound of the ground distance across ``degrees`` of longitude in the frame.

        The inverse of :meth:`degrees` (shortest degree, 1 % to spare); a negative
        span (a feature overhanging a zone edge) counts at the equator's longest degree.
        """
        lat = min(max(abs(self.bounds[1]), abs(self.bounds[3])), 89.0)
        d = np.asarray(degrees, dtype="float64")
        short = 111_319.49 * np.cos(np.radians(lat)) / 1.01
        return np.where(d >= 0, d * short, d * 111_319.49 * 1.01)


def conformal_crs(bounds) -> CRS:
    """One conformal CRS for a grid over ``bounds`` (rasters: one grid, one CRS).

    A transverse Mercator centred on the area up to :data:`MAX_ZONE_WIDTH_DEG` wide,
    else a Lambert conformal conic with standard parallels at 1/6 and 5/6 of the
    latitude span. Both are conformal, so a disk stays a disk; its radius is scaled
    by the point scale factor (``pyproj.Proj.get_factors``), which the callers apply.

    Examples
    --------
    >>> conformal_crs((73.5, 18.0, 135.1, 53.6)).coordinate_operation.method_name
    'Lambert Conic Conformal (2SP)'
    """
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    if maxx - minx <= MAX_ZONE_WIDTH_DEG:
        return metric_crs(bounds)
    lon0 = round((minx + maxx) / 2.0, 1)
    span = maxy - miny
    lat1, lat2 = round(miny + span / 6, 1), round(maxy - span / 6, 1)
    lat0 = round((miny + maxy) / 2.0, 1)
    return CRS.from_proj4(
        f"+proj=lcc +lat_0={lat0} +lon_0={lon0} +lat_1={lat1} +lat_2={lat2} "
        "+x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
    )


def _tmerc_proj(lon0: float) -> str:
    return (
        f"+proj=tmerc +lat_0=0 +lon_0={lon0} +k=1 +x_0={_FALSE_EASTING:.0f} +y_0=0 "
        "+datum=WGS84 +units=m +no_defs"
    )


def _new_approx(lon0: float) -> Transformer:
    """WGS-84 → a zone's transverse Mercator by the Evenden–Snyder series (``+approx``)."""
    approx = CRS.from_proj4(_tmerc_proj(lon0) + " +approx")
    return Transformer.from_crs(WGS84, approx, always_xy=True)


# kept apart from _transformer: a CRS with +approx compares (and hashes) equal to the
# exact one, so that cache would hand out either for both
_approx_transformer = lru_cache(maxsize=64)(_new_approx)


def measure_frame(bounds, max_width: float = MAX_ZONE_WIDTH_DEG) -> Frame:
    """The measurement frame of an area: transverse Mercator zones ≤ ``max_width`` wide.

    Parameters
    ----------
    bounds : sequence of float
        ``(minx, miny, maxx, maxy)`` in degrees (EPSG:4326).
    max_width : float
        Widest zone in degrees of longitude.

    Returns
    -------
    Frame
        One zone centred on the area when it is at most ``max_width`` wide (its
        central meridian rounded to 0.1°), else ``ceil(width / max_width)`` zones of
        equal width side by side.

    Examples
    --------
    >>> [z.lon0 for z in measure_frame((116.4, 30.8, 121.9, 35.1)).zones]   # Jiangsu
    [119.2]
    >>> len(measure_frame((73.5, 18.0, 135.1, 53.6)).zones)                # China
    11
    """
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    if not np.isfinite([minx, miny, maxx, maxy]).all() or maxx < minx:
        raise CRSError(f"cannot choose a measurement frame for bounds {tuple(bounds)!r}")
    n = max(1, int(np.ceil((maxx - minx) / max_width - 1e-9)))
    edges = np.linspace(minx, maxx, n + 1)
    zones = []
    for i in range(n):  # a handful of zones
        lon0 = round(float(edges[i] + edges[i + 1]) / 2.0, 1 if n == 1 else 2)
        crs = CRS.from_proj4(_tmerc_proj(lon0))
        zones.append(Zone(i, lon0, float(edges[i]), float(edges[i + 1]), crs))
    return Frame(tuple(zones), (minx, miny, maxx, maxy))


def area_crs(bounds) -> CRS:
    """An Albers equal-area conic fitted to an area, for measuring areas.

    Standard parallels at 1/6 and 5/6 of the area's latitude range (Deetz and
    Adams' rule); the central meridian in the middle.

    Examples
    --------
    >>> area_crs((116.4, 30.8, 121.9, 35.1)).coordinate_operation.method_name
    'Albers Equal Area'
    """
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    if not np.isfinite([minx, miny, maxx, maxy]).all():
        return _CHINA_ALBERS
    span = max(maxy - miny, 1.0)
    lat1, lat2 = miny + span / 6, miny + 5 * span / 6
    lon0 = round((minx + maxx) / 2.0, 1)
    return CRS.from_proj4(
        f"+proj=aea +lat_0=0 +lon_0={lon0} +lat_1={lat1:.2f} +lat_2={lat2:.2f} "
        "+x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
    )


def to_metric(layer, crs: CRS, name: str = "layer"):
    """Reproject ``layer`` into the metric CRS ``crs`` (see :func:`metric_crs`).

    Parameters
    ----------
    layer : geopandas.GeoDataFrame or geopandas.GeoSeries
        Any layer with a CRS.
    crs : pyproj.CRS
        The target metric CRS.
    name : str
        Layer name for error messages.

    Returns
    -------
    Same type as ``layer``, in ``crs``.
    """
    require_crs(layer, name)
    if not CRS.from_user_input(crs).is_projected:
        raise CRSError(f"{name}: target CRS {crs} is not projected; lengths need metres")
    return layer.to_crs(crs)


def to_wgs84(layer, name: str = "layer"):
    """Reproject ``layer`` to EPSG:4326 (for storing and rendering).

    Parameters
    ----------
    layer : geopandas.GeoDataFrame or geopandas.GeoSeries
        Any layer with a CRS.
    name : str
        Layer name for error messages.
    """
    require_crs(layer, name)
    if CRS.from_user_input(layer.crs).equals(WGS84):
        return layer
    return layer.to_crs(WGS84)


@lru_cache(maxsize=32)
def _transformer(src: CRS, dst: CRS) -> Transformer:
    # building a transformer costs ~10 ms; analyses ask for the same pair many times
    return Transformer.from_crs(src, dst, always_xy=True)


def transform_xy(x, y, src, dst) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinate arrays from CRS ``src`` to CRS ``dst``.

    The same transformation as ``GeoSeries.to_crs`` (``always_xy``: x is the
    longitude or easting), on plain arrays: no geometry objects are built, which
    saves seconds for millions of points.

    Parameters
    ----------
    x, y : array_like
        Coordinates in ``src``.
    src, dst : pyproj.CRS or anything ``pyproj.CRS.from_user_input`` accepts

    Returns
    -------
    tuple of numpy.ndarray
        float64 x, y in ``dst`` (copies when the CRSs are equal).

    Examples
    --------
    >>> x, y = transform_xy([120.0], [0.0], 4326, metric_crs((119, -1, 121, 1)))
    >>> round(float(x[0]), 3), round(float(y[0]), 3)
    (500000.0, 0.0)
    """
    x = np.array(x, dtype="float64")
    y = np.array(y, dtype="float64")
    src, dst = CRS.from_user_input(src), CRS.from_user_input(dst)
    if src.equals(dst) or x.size == 0:
        return x, y
    return _apply(
        x, y, _transformer(src, dst), lambda: Transformer.from_crs(src, dst, always_xy=True)
    )


def _apply(
    x: np.ndarray, y: np.ndarray, cached: Transformer, make, direction: str = "FORWARD"
) -> tuple:
    """``x, y`` (float64 arrays, overwritten for millions) through a transformer.

    Few points go through ``cached``; millions in slices on every core, PROJ
    releasing the GIL, each slice with its own transformer from ``make()``.
    """
    workers = min(os.cpu_count() or 1, x.size // _POINTS_PER_THREAD)
    if workers < 2:
        return cached.transform(x, y, direction=direction)
    cuts = np.linspace(0, x.size, workers + 1).astype(int)

    def part(k):
        sl = slice(cuts[k], cuts[k + 1])
        x[sl], y[sl] = make().transform(x[sl], y[sl], direction=direction)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(part, range(workers)))
    return x, y


def points_xy(layer, crs, name: str = "layer") -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of every vertex of ``layer`` in ``crs`` (for point layers: x, y per row).

    Parameters
    ----------
    layer : geopandas.GeoDataFrame or geopandas.GeoSeries or pandas.DataFrame
        A layer with a CRS (missing geometries are skipped, see
        ``shapely.get_coordinates``), or a site table (``lon``/``lat``).
    crs : pyproj.CRS
        The target CRS (usually from :func:`metric_crs`).
    name : str
        Layer name for error messages.

    Returns
    -------
    tuple of numpy.ndarray
        x, y in ``crs``.
    """
    if is_site_table(layer):  # lon/lat columns: no geometry to unpack
        return transform_xy(layer["lon"], layer["lat"], table_crs(layer, name), crs)
    require_crs(layer, name)
    xy = shapely.get_coordinates(np.asarray(layer.geometry.values))
    return transform_xy(xy[:, 0], xy[:, 1], layer.crs, crs)


def metric_xy(layer, crs, name: str = "layer") -> tuple[np.ndarray, np.ndarray]:
    """Vertex coordinates of ``layer`` in the metric CRS ``crs``, as arrays.

    :func:`to_metric` for the coordinates only: the same checks (the layer has a
    CRS, ``crs`` is projected) and the same numbers, without building geometries.

    Returns
    -------
    tuple of numpy.ndarray
        x, y in metres.
    """
    require_crs(layer, name)
    if not CRS.from_user_input(crs).is_projected:
        raise CRSError(f"{name}: target CRS {crs} is not projected; lengths need metres")
    return points_xy(layer, crs, name)


# --------------------------------------------------------------------------- features in a frame


def _segment_metres(lon, lat) -> np.ndarray:
    """Ellipsoidal length of short segments between consecutive points (metres).

    The local flat-earth formula with the meridional and prime-vertical radii of
    curvature at the mean latitude: within 1e-6 of the geodesic for segments of a few
    kilometres, 1e-4 for 100 km. Only used for chainage offsets of features cut at
    zone edges; lengths themselves are measured in the zones.
    """
    phi = np.radians((lat[1:] + lat[:-1]) / 2)
    w = 1 - _E2 * np.sin(phi) ** 2
    m = _A * (1 - _E2) / w**1.5
    n = _A / np.sqrt(w)
    return np.hypot(m * np.radians(np.diff(lat)), n * np.cos(phi) * np.radians(np.diff(lon)))


def split_lines(frame: Frame, layer) -> list:
    """A line layer (any CRS) cut into the zones of ``frame``, each in its zone's CRS.

    Every segment belongs to the zone of its first vertex: a feature is cut at the
    vertices where it changes zone (no new vertices; a segment may reach a little past
    its zone's edge, which the scale factor corrects). Each part keeps its feature's
    columns and gets ``chain_offset_m``, the ellipsoidal length of the feature before
    it, so that chainages along the feature continue across zones, and ``feature``, the
    row position of its feature in ``layer``.

    Returns
    -------
    list of geopandas.GeoDataFrame
        One per zone (empty where no line falls), in ``frame.zones[i].crs``; its
        ``attrs["lon_extent"]`` is the (west, east) longitude of its lines, or None.
    """
    layer = to_wgs84(layer, layer.attrs.get("source", "lines"))
    columns = [c for c in layer.columns if c != layer.geometry.name]
    if len(frame.zones) == 1:
        one = layer.assign(feature=np.arange(len(layer)), chain_offset_m=0.0)
        out = frame.zones[0].layer(one, "lines")
        west, _, east, _ = shapely.total_bounds(np.asarray(layer.geometry.values))
        out.attrs["lon_extent"] = (float(west), float(east)) if len(layer) else None
        return [out]
    parts, feature = shapely.get_parts(np.asarray(layer.geometry.values), return_index=True)
    xy, line = shapely.get_coordinates(parts, return_index=True)
    n = len(line)
    same = np.r_[line[1:] == line[:-1], False]  # vertex i starts a segment of its line
    zone = frame.zone_of(xy[:, 0])
    seg_zone = np.where(same, zone, -1)
    # a piece is a run of segments of one line in one zone
    start = same & np.r_[True, (seg_zone[1:] != seg_zone[:-1]) | ~same[:-1]]
    piece = np.cumsum(start) - 1
    seg = np.flatnonzero(same)
    owner = piece[seg]  # the piece of each segment
    # vertices of a piece: its segments' starts, and the end of its last segment
    last = np.r_[seg[:-1][owner[1:] != owner[:-1]], seg[-1:]] if len(seg) else seg
    verts = np.concatenate([seg, last + 1])
    which = np.concatenate([owner, owner[np.r_[owner[1:] != owner[:-1], True]]])
    order = np.lexsort((verts, which))
    verts, which = verts[order], which[order]
    geoms = shapely.linestrings(xy[verts, 0], xy[verts, 1], indices=which)
    # chainage offsets: ellipsoidal length of the feature before each piece
    step = np.zeros(n)
    if n > 1:
        step[:-1] = np.where(same[:-1], _segment_metres(xy[:, 0], xy[:, 1]), 0.0)
    piece_len = np.bincount(owner, weights=step[seg], minlength=len(geoms))
    piece_feature = feature[line[seg[np.r_[True, owner[1:] != owner[:-1]]]]] if len(seg) else seg
    before = pd.Series(piece_len).groupby(piece_feature).cumsum().to_numpy() - piece_len
    piece_zone = seg_zone[seg[np.r_[True, owner[1:] != owner[:-1]]]] if len(seg) else seg
    table = pd.DataFrame(layer[columns].to_numpy(), columns=columns).iloc[piece_feature]
    table = table.astype(layer[columns].dtypes.to_dict()).reset_index(drop=True)
    table["feature"] = piece_feature
    table["chain_offset_m"] = before
    box = shapely.bounds(geoms)
    out = []
    for z in frame.zones:  # a handful of zones
        keep = piece_zone == z.index
        part = gpd.GeoDataFrame(table[keep], geometry=geoms[keep], crs=WGS84)
        part.attrs = dict(layer.attrs)
        part = z.layer(part.reset_index(drop=True), "lines")
        # known here in degrees: whoever needs a zone's longitudes need not project back
        part.attrs["lon_extent"] = (
            (float(box[keep, 0].min()), float(box[keep, 2].max())) if keep.any() else None
        )
        out.append(part)
    return out


def zone_members(frame: Frame, lon, lat, extents, margin_m: float) -> list[np.ndarray]:
    """Per zone, the points within ``margin_m`` of its features (by longitude band).

    Parameters
    ----------
    frame : Frame
    lon, lat : array_like
        The points (WGS-84).
    extents : sequence of (float, float) or None
        Per zone, the (west, east) longitudes of its features (None: no features).
    margin_m : float
        The largest reach: a point farther east or west than this from a zone's
        features cannot reach them.

    Returns
    -------
    list of numpy.ndarray
        Sorted positions of the points each zone must consider (a point may be in
        several zones; a disk is never cut at a zone edge).
    """
    lon = np.asarray(lon, dtype="float64")
    pad = frame.degrees(margin_m)
    out = []
    for extent in extents:  # a handful of zones
        if extent is None:
            out.append(np.zeros(0, dtype=np.int64))
            continue
        west, east = extent
        out.append(np.flatnonzero((lon >= west - pad) & (lon <= east + pad)))
    return out
