"""Residents within reach of a 5G site, from a population raster.

A pixel of the population raster counts as covered when its **centre** lies
within the reach of at least one site — the same rule as rasterising the union
of the sites' disks with GDAL's default (``all_touched=False``), but exact: no
disk is turned into a polygon and no union is built.

The disks are stamped on the raster's own grid. A disk of reach ``r`` around a
site is, in pixel units, an ellipse with semi-axes ``r / pixel width`` and
``r / pixel height`` (metres); on every pixel row it crosses it covers one run
of pixel centres ``[j0, j1]``, found with a square root. The runs of all sites
are merged without sorting: every pixel holds the furthest ``j1`` of the runs
that start on it (``np.maximum.at``), and a running maximum along each row
gives, at pixel ``j``, the furthest end of all runs starting at or before
``j``; the pixel is covered when that end is at least ``j``. Column numbers
fit 16 bits for rasters up to 32,766 pixels wide, so the running maximum
moves a quarter of the bytes of a 64-bit running count. The raster is
processed in bands of rows, so memory stays small whatever its size, and sites
are sorted by row so that each band looks only at the sites that can reach it.
The loops are over bands and chunks, never over sites or pixels.

Pixel sizes in metres: for a projected raster, the pixel size times the CRS's
unit; for a geographic raster (e.g. WorldPop, EPSG:4326), the length of a degree
of longitude and latitude on the CRS's ellipsoid at each site's latitude (the
change of scale across one disk is below 0.1 % for reaches under 10 km).

Examples
--------
>>> import numpy as np
>>> from affine import Affine
>>> pop = np.ones((10, 10))                      # 10 × 10 pixels of 100 m, 1 resident each
>>> grid = Affine(100.0, 0.0, 0.0, 0.0, -100.0, 1000.0)
>>> out = covered_population(pop, (np.array([500.0]), np.array([500.0])), 250.0,
...                          transform=grid, crs="EPSG:32650")
>>> out.loc["total", ["population", "covered", "share"]].tolist()
[100.0, 16.0, 0.16]
"""

from __future__ import annotations

import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import rasterio.errors
import rasterio.features
import rasterio.windows
import shapely
import shapely.geometry
from affine import Affine
from pyproj import CRS
from rasterio.errors import NotGeoreferencedWarning

from . import _stamp
from .errors import CRSError, DataError, InputError
from .project import is_site_table, points_xy, require_crs, to_metric

__all__ = ["POPCOVER_COLUMNS", "coverage_mask", "covered_population"]

#: Columns of the table returned by :func:`covered_population`.
POPCOVER_COLUMNS = ("population", "covered", "share")

_BAND_ROWS = 256  # rows per band: the difference array of a band stays a few MB
_CHUNK_SITES = 400_000
_GDAL_CACHE_BYTES = 64 * 2**20  # GDAL's block cache while a raster is read (rasterio: bytes)
_WORKERS = min(4, os.cpu_count() or 1)  # bands in flight; each holds a few tens of MB


# --------------------------------------------------------------------------- grid geometry


def _check_transform(transform, name: str) -> Affine:
    t = Affine(*tuple(transform)[:6])
    if t.b != 0 or t.d != 0:
        raise DataError(f"{name}: rotated rasters are not supported; warp it north-up first")
    if t.a == 0 or t.e == 0:
        raise DataError(f"{name}: the raster's pixel size is 0")
    return t


def _metres_per_unit(crs: CRS, lat: np.ndarray, name: str):
    """Metres per CRS unit along x and y at each latitude (arrays or scalars)."""
    if crs.is_projected:
        factors = [axis.unit_conversion_factor for axis in crs.axis_info[:2]]
        if not all(np.isfinite(factors)) or min(factors) <= 0:
            raise CRSError(f"{name}: cannot tell the unit of the raster CRS {crs.to_string()}")
        return factors[0], factors[1]
    if not crs.is_geographic:
        raise CRSError(f"{name}: raster CRS {crs.to_string()} is neither projected nor geographic")
    ell = crs.ellipsoid
    a = ell.semi_major_metre
    e2 = 1.0 - (ell.semi_minor_metre / a) ** 2

    def scale(phi_deg):
        phi = np.radians(np.clip(phi_deg, -89.9, 89.9))
        w = 1.0 - e2 * np.sin(phi) ** 2
        per_deg = np.pi / 180.0
        return per_deg * a * np.cos(phi) / np.sqrt(w), per_deg * a * (1.0 - e2) / w**1.5

    lat = np.asarray(lat, dtype="float64")
    if lat.size < 100_000 or not np.isfinite(lat).any():
        return scale(lat)
    lat = np.where(np.isfinite(lat), lat, 0.0)  # sites without coordinates stamp nothing
    # millions of sites: the scales are smooth in latitude, so interpolate a fine table
    # (every 0.001°: relative error below 1e-9) instead of evaluating trigonometry per site
    step = 0.001
    first = np.floor(np.nanmin(lat)) - 1.0
    knots = first + step * np.arange(int((np.ceil(np.nanmax(lat)) + 1.0 - first) / step) + 2)
    mx, my = scale(knots)
    at = np.clip((lat - first) / step, 0, len(knots) - 2)
    k = at.astype(np.int64)
    f = at - k
    # the knots' differences once, not per site (the same numbers: two gathers fewer)
    dmx, dmy = np.diff(mx), np.diff(my)
    return mx[k] + f * dmx[k], my[k] + f * dmy[k]


def _runs(col, row, rx, ry, r0: int, r1: int, width: int):
    """Covered runs ``(row, j0, j1)`` of the ellipses on rows ``[r0, r1)``, columns clipped."""
    first = np.maximum(np.ceil(row - ry - 0.5), r0).astype(np.int64)
    last = np.minimum(np.floor(row + ry - 0.5), r1 - 1).astype(np.int64)
    count = np.maximum(last - first + 1, 0)
    site = np.repeat(np.arange(col.size), count)
    rows = first[site] + (np.arange(site.size) - np.repeat(np.cumsum(count) - count, count))
    dy = (rows + 0.5 - row[site]) / ry[site]
    half = rx[site] * np.sqrt(np.maximum(1.0 - dy * dy, 0.0))
    j0 = np.maximum(np.ceil(col[site] - half - 0.5), 0).astype(np.int64)
    j1 = np.minimum(np.floor(col[site] + half - 0.5), width - 1).astype(np.int64)
    keep = j0 <= j1
    return rows[keep], j0[keep], j1[keep]


class _Stamper:
    """Covered pixels of one band of rows at a time (sites ordered by row once).

    Built from the sites' coordinates in the grid's CRS and their reach: each
    site becomes an ellipse on the pixel grid (centre in fractional pixel
    coordinates, semi-axes in pixels), stored in row order with the start of
    each whole row (a counting sort), so a band looks only at the sites that can
    reach it. Millions of sites go through the compiled kernels of
    :mod:`geo5g._stamp`; fewer, or without numba, through NumPy by the same rule.
    """

    def __init__(self, t: Affine, crs: CRS, x, y, reach, height: int, width: int, name: str):
        n = x.size
        # semi-axes in pixels, in chunks: the latitude scales' temporaries stay a few MB
        rx, ry = np.empty(n), np.empty(n)
        for start in range(0, n, _CHUNK_SITES):
            part = slice(start, start + _CHUNK_SITES)
            mx, my = _metres_per_unit(crs, y[part], name)
            rx[part] = reach[part] / (abs(t.a) * mx)
            ry[part] = reach[part] / (abs(t.e) * my)
        self._kernels = _stamp.kernels() if _stamp.compiled(n) else None
        if self._kernels is not None:
            prepare = self._kernels[0]
            self.starts, self.row, self.col, self.rx, self.ry = prepare(
                x, y, rx, ry, t.c, t.a, t.f, t.e, height
            )
        else:
            self._prepare(t, x, y, rx, ry, height)
        self.reach_rows = float(self.ry.max()) if self.ry.size else 0.0
        self.width = width

    def _prepare(self, t: Affine, x, y, rx, ry, height: int) -> None:
        """NumPy twin of :func:`geo5g._stamp._prepare` (the same order and values)."""
        row = (y - t.f) / t.e
        idx = np.flatnonzero(np.isfinite(x) & np.isfinite(row))
        # a stable sort of 16-bit keys is a radix sort, linear in n
        key = np.clip(np.floor(row[idx]), -1, height).astype(np.int64) + 1
        small = height + 1 <= np.iinfo(np.uint16).max
        order = idx[np.argsort(key.astype(np.uint16) if small else key, kind="stable")]
        self.starts = np.concatenate([[0], np.cumsum(np.bincount(key, minlength=height + 2))])
        self.row, self.col = row[order], (x[order] - t.c) / t.a
        self.rx, self.ry = rx[order], ry[order]

    def band(self, r0: int, r1: int) -> np.ndarray:
        """Boolean ``(r1 - r0, width)``: pixels whose centre some site reaches."""
        w = self.width
        nk = self.starts.size - 1
        # only sites whose disk can reach these rows (keys are whole rows + 1)
        k_lo = int(np.floor(r0 - self.reach_rows - 1.0)) + 1
        k_hi = int(np.ceil(r1 + self.reach_rows + 1.0)) + 2
        lo, hi = (int(self.starts[min(max(k, 0), nk)]) for k in (k_lo, k_hi))
        if self._kernels is not None:
            out = np.empty((r1 - r0, w), dtype=bool)
            self._kernels[1](self.row, self.col, self.rx, self.ry, lo, hi, r0, r1, w, out)
            return out
        dtype = np.int16 if w < np.iinfo(np.int16).max else np.int32
        end = np.full((r1 - r0) * w, -1, dtype=dtype)  # furthest run end starting here
        for start in range(lo, hi, _CHUNK_SITES):  # chunks of sites, for memory
            sl = slice(start, min(start + _CHUNK_SITES, hi))
            rows, j0, j1 = _runs(self.col[sl], self.row[sl], self.rx[sl], self.ry[sl], r0, r1, w)
            np.maximum.at(end, (rows - r0) * w + j0, j1.astype(dtype))
        end = np.maximum.accumulate(end.reshape(r1 - r0, w), axis=1)
        return end >= np.arange(w, dtype=dtype)


def _reach(reach_m, n: int, name: str) -> np.ndarray:
    reach = np.broadcast_to(np.asarray(reach_m, dtype="float64"), (n,))
    if not np.all(np.isfinite(reach) & (reach > 0)):
        raise DataError(f"{name}: every reach must be finite and > 0 metres")
    return reach


def _site_xy(sites, crs: CRS, name: str):
    """Site coordinates in the raster's CRS: from a layer with a CRS, or (x, y) as given."""
    if is_site_table(sites):
        return points_xy(sites, crs, name)
    if hasattr(sites, "crs"):
        require_crs(sites, name)
        geoms = np.asarray(sites.geometry.values)
        if geoms.size and not np.all(shapely.get_type_id(geoms) == 0):
            raise DataError(f"{name}: every feature must be a single point")
        return points_xy(sites, crs, name)
    x, y = (np.asarray(v, dtype="float64").ravel() for v in sites)
    if x.shape != y.shape:
        raise DataError(f"{name}: x and y have different lengths ({x.size} and {y.size})")
    return x, y


def coverage_mask(shape, transform, crs, sites, reach_m) -> np.ndarray:
    """Pixels of a grid whose centre lies within reach of some site.

    Parameters
    ----------
    shape : tuple of int
        ``(height, width)`` of the grid.
    transform : affine.Affine
        North-up geotransform of the grid.
    crs : pyproj.CRS or str
        CRS of the grid (projected, or geographic in degrees).
    sites : geopandas.GeoDataFrame or geopandas.GeoSeries or tuple of arrays
        Point sites with a CRS, or ``(x, y)`` arrays already in ``crs``.
    reach_m : float or array_like
        Reach of each site in metres (finite, > 0).

    Returns
    -------
    numpy.ndarray of bool
        ``shape``; True where covered. The rule of ``rasterio.features.rasterize``
        applied to the union of the disks (pixel centre inside), without polygons.

    Examples
    --------
    >>> from affine import Affine
    >>> mask = coverage_mask((3, 3), Affine(1, 0, 0, 0, -1, 3), "EPSG:3857",
    ...                      ([1.5], [1.5]), 1.0)
    >>> mask.astype(int).tolist()
    [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    """
    height, width = (int(v) for v in shape)
    crs = CRS.from_user_input(crs)
    t = _check_transform(transform, "grid")
    x, y = _site_xy(sites, crs, "sites")
    reach = _reach(reach_m, x.size, "reach")
    stamper = _Stamper(t, crs, x, y, reach, height, width, "grid")
    out = np.zeros((height, width), dtype=bool)
    for r0 in range(0, height, _BAND_ROWS):  # bands of rows, never single pixels
        r1 = min(r0 + _BAND_ROWS, height)
        out[r0:r1] = stamper.band(r0, r1)
    return out


# --------------------------------------------------------------------------- population


class _ArraySource:
    """A population array with the reading interface of a raster (for tests, arrays)."""

    def __init__(self, values, transform, crs, nodata):
        self.values = np.asarray(values)
        if self.values.ndim != 2:
            raise DataError(f"population: expected a 2-D array, got {self.values.ndim} dimensions")
        if transform is None or crs is None:
            raise DataError("population: an array needs transform= and crs=")
        self.transform = transform
        self.crs = CRS.from_user_input(crs)
        self.height, self.width = self.values.shape
        self.nodata = nodata

    def read(self, r0: int, r1: int) -> np.ndarray:
        return self.values[r0:r1]


class _RasterSource:
    """One band of an open raster, read by bands of rows."""

    def __init__(self, src, band: int, name: str):
        if src.crs is None:
            raise CRSError(
                f"{name}: raster has no CRS; geo5g never guesses one. "
                "Set it (gdal_edit.py -a_srs EPSG:4326 FILE) and try again"
            )
        if not 1 <= band <= src.count:
            raise DataError(f"{name}: band {band} requested, the raster has {src.count}")
        self.src, self.band_index = src, band
        self.transform = src.transform
        self.crs = CRS.from_user_input(src.crs.to_wkt())
        self.height, self.width = src.height, src.width
        self.nodata = src.nodatavals[band - 1]

    def read(self, r0: int, r1: int) -> np.ndarray:
        window = rasterio.windows.Window(0, r0, self.width, r1 - r0)
        return self.src.read(self.band_index, window=window)


def _values(block: np.ndarray, nodata) -> np.ndarray:
    """People per pixel, nodata and NaN as 0, in the block's own dtype.

    A new array when anything is dropped (the caller's array is never changed);
    np.bincount widens the weights to float64 itself, so no float64 copy here.
    """
    if block.dtype.kind not in "fiu":
        block = block.astype("float64")
    drop = ~np.isfinite(block) if block.dtype.kind == "f" else np.zeros(block.shape, dtype=bool)
    if nodata is not None and not np.isnan(nodata):
        drop |= block == nodata
    return np.where(drop, block.dtype.type(0), block) if drop.any() else block


def _zone_labels(zones, crs: CRS):
    """Zone polygons in the raster CRS with labels 1..n (0 = no zone)."""
    if zones is None:
        return None, None
    require_crs(zones, "zones")
    if not CRS.from_user_input(zones.crs).equals(crs, ignore_axis_order=True):
        zones = to_metric(zones, crs, "zones")  # the one rule: vectors go to the raster's CRS
    geoms = np.asarray(zones.geometry.values, dtype=object)
    live = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    return geoms[live], live + 1


def _shapes(geoms, labels):
    """(GeoJSON-like mapping, 2 · label) pairs for rasterio, converted once for every band.

    Labels are doubled so that adding the covered flag (0 or 1) to a rasterised
    label gives the bin of :func:`_sums` directly.
    """
    return [(shapely.geometry.mapping(g), 2 * int(v)) for g, v in zip(geoms, labels, strict=True)]


def _sums(source, stamper, geoms, labels, n_zones: int, block_rows: int):
    """Population and covered population per label (index 0: outside every zone).

    Returns ``(total, covered, negative)``: ``negative`` is ``(count, lowest)`` of
    the pixels inside some zone that are negative although not nodata. With zones,
    only the rows under them are read (a province on a national raster).
    """
    t = source.transform
    tree = shapely.STRtree(geoms) if geoms is not None and len(geoms) else None
    shapes = _shapes(geoms, labels) if tree is not None else []
    n_bins = 2 * (n_zones + 1)
    lock = threading.Lock()  # one GDAL dataset handle must not be read by two threads
    first, stop = 0, source.height
    if geoms is not None:
        if not len(geoms):
            return np.zeros(n_zones + 1), np.zeros(n_zones + 1), (0, 0.0)
        _, miny, _, maxy = shapely.total_bounds(geoms)
        rows = sorted(((maxy - t.f) / t.e, (miny - t.f) / t.e))
        # whole bands from a multiple of block_rows, so each internal block is decoded once
        first = max(0, int(np.floor(rows[0])) // block_rows * block_rows)
        stop = min(source.height, int(np.ceil(rows[1])) + 1)

    def band(r0: int):
        r1 = min(r0 + block_rows, stop)
        with lock:
            block = source.read(r0, r1)
        values = _values(block, source.nodata)
        hit = ()
        if tree is not None:
            y0, y1 = t.f + t.e * r0, t.f + t.e * r1
            x0, x1 = t.c, t.c + t.a * source.width
            hit = tree.query(shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
        covered = stamper.band(r0, r1)
        negative = (0, 0.0)
        if len(hit):
            key = rasterio.features.rasterize(
                [shapes[k] for k in hit],
                out_shape=values.shape,
                transform=Affine(t.a, 0.0, t.c, 0.0, t.e, t.f + t.e * r0),
                fill=0,
                all_touched=False,
                dtype="int32",
            ).astype(np.intp)  # np.bincount's own index type: its cast is slow
            # nodata is already 0 here: a negative pixel left inside a zone is wrong
            bad = (values < 0) & (key > 0)
            if bad.any():
                negative = (int(bad.sum()), float(values[bad].min()))
            key += covered  # bin 2·label: the uncovered pixels' people, 2·label + 1: covered
        else:
            key = covered.astype(np.intp)
        return np.bincount(key.ravel(), weights=values.ravel(), minlength=n_bins), negative

    # bands are independent: two at a time keep both cores busy while GDAL decodes
    # and rasterises (both release the GIL) and numpy stamps and counts
    both = np.zeros(n_bins)
    count, lowest = 0, 0.0
    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        # rasterize silences this warning of its in-memory rasters with catch_warnings,
        # which is not thread-safe: two threads restore each other's filters. Keep it
        # silenced here, around the threads' whole life, so every state they restore has it
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        for hist, (n_bad, low) in pool.map(band, range(first, stop, block_rows)):
            both += hist
            count, lowest = count + n_bad, min(lowest, low)
    return both[0::2] + both[1::2], both[1::2], (count, lowest)


def _check_counts(name: str, total: np.ndarray, negative, nodata, index) -> None:
    """Refuse sums that cannot be people: undeclared negative nodata, absurd totals."""
    from .population import MAX_ZONE_POPULATION

    problems = []
    if negative[0]:
        problems.append(
            f"{negative[0]:,} pixels under the zones are negative (down to {negative[1]:g}) "
            f"and the raster's nodata is {nodata}; set the nodata value "
            "(gdal_edit.py -a_nodata VALUE) or clip the pixels to 0"
        )
    huge = ~(total <= MAX_ZONE_POPULATION)
    if huge.any():
        problems.append(
            f"{int(huge.sum())} zones sum to more than {MAX_ZONE_POPULATION:.1e} people "
            f"(adcode {index[huge][0]}: {total[huge][0]:.3g}); "
            "is the raster people per pixel, and is its nodata value set?"
        )
    if problems:
        raise DataError(f"{name}: " + "; ".join(problems))


def covered_population(
    population,
    sites,
    reach_m,
    zones=None,
    *,
    transform=None,
    crs=None,
    nodata: float | None = None,
    band: int = 1,
    block_rows: int | None = None,
) -> pd.DataFrame:
    """Residents within reach of at least one site, per zone.

    Parameters
    ----------
    population : str or os.PathLike or numpy.ndarray
        A population-count raster (people per pixel, e.g. WorldPop; nodata and
        NaN count as 0), or a 2-D array with ``transform`` and ``crs``.
    sites : geopandas.GeoDataFrame or geopandas.GeoSeries or pandas.DataFrame or tuple
        Point sites with a CRS (any: they are transformed to the raster's), a
        site table (``lon``/``lat``), or ``(x, y)`` arrays already in the
        raster's CRS.
    reach_m : float or array_like
        Reach of each site in metres (e.g. from :func:`geo5g.coverage.site_reach`).
    zones : geopandas.GeoDataFrame, optional
        Polygons with a CRS indexed by adcode; a pixel belongs to the zone that
        contains its centre (the later zone where zones overlap). Without zones
        the whole raster is one row, ``"total"``.
    transform : affine.Affine, optional
        North-up geotransform of an array ``population``.
    crs : pyproj.CRS or str, optional
        CRS of an array ``population``.
    nodata : float, optional
        No-data value of an array ``population`` (a raster file's own is used).
    band : int, default 1
        Raster band to read.
    block_rows : int, optional
        Rows per band of processing (default 256, or whole internal blocks of
        the raster).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``adcode`` (in the order of ``zones``) or ``["total"]``, with
        float columns :data:`POPCOVER_COLUMNS`: ``population`` (all residents in
        the zone's pixels), ``covered`` (those in covered pixels) and ``share``
        (``covered / population``, NaN where the population is 0).

    Raises
    ------
    InputError
        The raster is missing or unreadable.
    CRSError
        The raster, the sites or the zones have no CRS.
    DataError
        A reach is not positive, a site is not a point, the raster is rotated.
    """
    rows = _BAND_ROWS if block_rows is None else int(block_rows)
    if rows < 1:
        raise DataError(f"block_rows must be a positive number of rows, got {block_rows}")
    if isinstance(population, str | Path):
        name = Path(population).name
        # every block is read once: GDAL's block cache (5 % of the RAM by default) would
        # only keep the whole decoded raster resident (≈ 180 MB for a national 1 km grid)
        with rasterio.Env(GDAL_CACHEMAX=_GDAL_CACHE_BYTES):
            try:
                # GDAL decodes the compressed blocks of a window on every core
                src = rasterio.open(population, num_threads="all_cpus")
            except rasterio.errors.RasterioIOError as err:
                raise InputError(f"{name}: cannot open the raster ({err})") from err
            with src:
                if block_rows is None and src.block_shapes:
                    # whole internal blocks per band, so that each block is decoded once
                    height = src.block_shapes[0][0]
                    rows = height * max(1, -(-_BAND_ROWS // height))
                source = _RasterSource(src, band, name)
                return _covered(source, sites, reach_m, zones, rows, name)
    source = _ArraySource(population, transform, crs, nodata)
    return _covered(source, sites, reach_m, zones, rows, "population")


def _covered(source, sites, reach_m, zones, block_rows: int, name: str) -> pd.DataFrame:
    t = _check_transform(source.transform, name)
    x, y = _site_xy(sites, source.crs, "sites")
    reach = _reach(reach_m, x.size, "reach")
    stamper = _Stamper(t, source.crs, x, y, reach, source.height, source.width, name)
    del x, y, reach  # the stamper holds what it needs, in its own order
    geoms, labels = _zone_labels(zones, source.crs)
    n_zones = 0 if zones is None else len(zones)
    total, covered, negative = _sums(source, stamper, geoms, labels, n_zones, block_rows)
    if zones is None:
        index = pd.Index(["total"])
        total, covered = total[:1], covered[:1]
    else:
        index = pd.Index(zones.index, name="adcode")
        total, covered = total[1:], covered[1:]
    _check_counts(name, total, negative, source.nodata, index)
    share = np.divide(covered, total, out=np.full(total.shape, np.nan), where=total > 0)
    return pd.DataFrame({"population": total, "covered": covered, "share": share}, index=index)
