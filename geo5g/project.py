"""The one place where data moves into metres, and back to degrees.

Lengths and areas are measured only in a metric CRS suited to the area:

* a region up to ~12° of longitude wide (a province, a city) gets a transverse
  Mercator centred on its middle meridian (scale error < 0.3 % across ±6°);
* a wider region (the whole of China) gets an Albers equal-area conic with
  standard parallels 25°N and 47°N (areas exact, lengths within ~1–2 %).

Every function takes and returns GeoDataFrames/GeoSeries with a CRS; a layer
without a CRS is refused (never guessed).
"""

from __future__ import annotations

import numpy as np
from pyproj import CRS

from .errors import CRSError

__all__ = ["WGS84", "metric_crs", "require_crs", "to_metric", "to_wgs84"]

#: Geographic CRS of every layer geo5g stores and renders.
WGS84 = CRS.from_epsg(4326)

_MAX_TM_WIDTH_DEG = 12.0
_CHINA_ALBERS = CRS.from_proj4(
    "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
)


def require_crs(layer, name: str) -> None:
    """Raise :class:`~geo5g.errors.CRSError` if ``layer`` has no CRS.

    Parameters
    ----------
    layer : geopandas.GeoDataFrame or geopandas.GeoSeries
        The layer to check.
    name : str
        The layer's name, used in the message (e.g. ``"roads.gpkg"``).
    """
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
    >>> metric_crs((116.3, 30.7, 121.9, 35.1)).to_dict()["proj"]
    'tmerc'
    >>> metric_crs((73.5, 18.0, 135.1, 53.6)).to_dict()["proj"]
    'aea'
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
