"""The one place where data moves into metres, and back to degrees.

Lengths and areas are measured only in a metric CRS suited to the area:

* a region up to ~12° of longitude wide (a province, a city) gets a transverse
  Mercator centred on its middle meridian (scale error < 0.3 % across ±6°);
* a wider region (the whole of China) gets an Albers equal-area conic with
  standard parallels 25°N and 47°N (areas exact, lengths within ~1–2 %).

Every function takes and returns GeoDataFrames/GeoSeries with a CRS; a layer
without a CRS is refused (never guessed). The coordinate functions also take a
*site table* (``lon``/``lat`` columns, ``attrs["crs"]`` EPSG:4326; see
:func:`geo5g.sites.read_sites`), whose coordinates need no geometry at all.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from .errors import CRSError

__all__ = [
    "WGS84",
    "is_site_table",
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
    workers = min(os.cpu_count() or 1, x.size // _POINTS_PER_THREAD)
    if workers < 2:
        return _transformer(src, dst).transform(x, y)
    # PROJ releases the GIL: millions of points go faster in slices on every core (a
    # transformer is not thread-safe, so each slice gets its own)
    cuts = np.linspace(0, x.size, workers + 1).astype(int)

    def part(k):
        sl = slice(cuts[k], cuts[k + 1])
        tr = Transformer.from_crs(src, dst, always_xy=True)
        x[sl], y[sl] = tr.transform(x[sl], y[sl])

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
