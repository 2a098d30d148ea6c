"""Slow reference implementations, for verification only.

Each function here answers a question geo5g answers elsewhere, written the way
a GIS analyst writes it with GeoPandas: ``sjoin`` for point-in-polygon, a buffer
around every site, ``union_all``, ``difference``/``intersection``, and
rasterising the union. They are short and obviously right, and slow and
memory-hungry at scale: the tests check the fast paths against them on small
random layouts (``tests/test_equivalence.py``) and the benchmarks
(``benchmarks/run.py``) time them side by side.

Known, documented differences from the fast paths:

* a buffer is a polygon (``4 * quad_segs`` sides), slightly smaller than the
  disk: gap km come out a little longer, covered lengths and areas a little
  shorter (about 0.3 % at ``quad_segs=16``, 0.01 % at 64);
* ``sjoin(predicate="within")`` leaves out a site lying exactly on a zone
  boundary, which :func:`geo5g.zones.assign_zones` gives to the first zone;
* GEOS nodes a line that runs back over itself, so ``difference`` and
  ``intersection`` count such a stretch once where geo5g follows the line;
* port areas: disks drawn as polygons here and in
  :func:`geo5g.facilities.port_coverage` (64 segments per quarter there).

Do not use these in analyses: use :mod:`geo5g.zones`, :mod:`geo5g.corridors`,
:mod:`geo5g.facilities` and :mod:`geo5g.popcover`.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.features
from pyproj import CRS

from .errors import CRSError, DataError
from .project import require_crs

__all__ = [
    "naive_coverage",
    "naive_density",
    "naive_gaps",
    "naive_population_covered",
    "naive_ports",
    "naive_rsu_km",
]


def _same_metric_crs(*layers) -> None:
    for name, layer in layers:
        require_crs(layer, name)
    first_name, first = layers[0]
    crs = CRS.from_user_input(first.crs)
    if not crs.is_projected:
        raise CRSError(f"{first_name}: reference functions measure in a projected CRS")
    for name, layer in layers[1:]:
        if not crs.equals(CRS.from_user_input(layer.crs)):
            raise CRSError(f"{name}: CRS differs from {first_name}'s; reproject first")


def naive_density(
    sites: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, counties: gpd.GeoDataFrame | None = None
) -> pd.Series:
    """Sites per zone with ``gpd.sjoin(predicate="within")``.

    Parameters
    ----------
    sites : geopandas.GeoDataFrame
        Points with a CRS.
    zones : geopandas.GeoDataFrame
        Polygons in the same CRS, indexed by adcode.
    counties : geopandas.GeoDataFrame, optional
        Counties with ``city_adcode``: a site counts for its county's city (as in
        :mod:`geo5g.pipeline`), and only sites in no county are joined with ``zones``.

    Returns
    -------
    pandas.Series
        ``stations`` (int64) indexed by ``adcode`` in the order of ``zones``; a
        site inside several (overlapping) zones counts for the first listed, as in
        :func:`geo5g.zones.assign_zones`, and ``attrs["sites_in_several_zones"]``
        says how many there were.
    """
    require_crs(sites, "sites")
    require_crs(zones, "zones")
    if counties is not None:
        by_county = naive_density(sites, counties)
        joined = gpd.sjoin(
            sites[[sites.geometry.name]],
            gpd.GeoDataFrame(geometry=counties.geometry.values, crs=counties.crs),
            how="left",
            predicate="within",
        )
        lost = joined.index[joined["index_right"].isna()].unique()
        rest = naive_density(sites.loc[lost], zones)
        per_city = by_county.groupby(counties["city_adcode"].reindex(by_county.index)).sum()
        out = (per_city.reindex(zones.index, fill_value=0) + rest).astype("int64")
        out.index.name = "adcode"
        out = out.rename("stations")
        out.attrs["sites_in_several_zones"] = by_county.attrs["sites_in_several_zones"]
        return out
    right = gpd.GeoDataFrame(
        {"adcode": np.asarray(zones.index)}, geometry=zones.geometry.values, crs=zones.crs
    )
    right["order"] = np.arange(len(right))
    joined = gpd.sjoin(sites[[sites.geometry.name]], right, how="inner", predicate="within")
    # a site inside overlapping zones counts once, for the first zone listed (as in geo5g)
    joined = joined.sort_values("order", kind="stable")
    first = joined[~joined.index.duplicated(keep="first")]
    counts = first["adcode"].value_counts()
    index = pd.Index(zones.index, name="adcode")
    out = counts.reindex(index, fill_value=0).astype("int64").rename("stations")
    out.attrs["sites_in_several_zones"] = int(joined.index[joined.index.duplicated()].nunique())
    return out


def naive_coverage(sites, reach_m, *, quad_segs: int = 16) -> gpd.GeoSeries:
    """The union of a buffer of ``reach_m`` around every site (``union_all``).

    Parameters
    ----------
    sites : geopandas.GeoDataFrame or geopandas.GeoSeries
        Points in a projected CRS (metres).
    reach_m : float or array_like
        Buffer distance per site.
    quad_segs : int
        Segments per quarter circle (GeoPandas' default 16: a 64-gon).

    Returns
    -------
    geopandas.GeoSeries
        One (Multi)Polygon, in the sites' CRS.
    """
    _same_metric_crs(("sites", sites))
    reach = np.broadcast_to(np.asarray(reach_m, dtype="float64"), (len(sites),))
    union = sites.geometry.buffer(reach, quad_segs=quad_segs).union_all()
    return gpd.GeoSeries([union], crs=sites.crs)


def naive_gaps(roads: gpd.GeoDataFrame, cover: gpd.GeoSeries) -> pd.Series:
    """Length of every road outside the coverage union (``road.difference(cover)``).

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        Lines in a projected CRS.
    cover : geopandas.GeoSeries
        :func:`naive_coverage` in the same CRS.

    Returns
    -------
    pandas.Series
        ``gap_m`` per road, aligned to ``roads.index``.
    """
    _same_metric_crs(("roads", roads), ("cover", cover))
    gaps = roads.geometry.difference(cover.iloc[0])
    return gaps.length.rename("gap_m")


def naive_rsu_km(roads: gpd.GeoDataFrame, rsu, range_m, *, quad_segs: int = 16) -> pd.Series:
    """Length of every road within range of some RSU (buffers, union, intersection).

    Returns
    -------
    pandas.Series
        ``rsu_m`` per road, aligned to ``roads.index``.
    """
    _same_metric_crs(("roads", roads), ("rsu", rsu))
    zone = naive_coverage(rsu, range_m, quad_segs=quad_segs).iloc[0]
    return roads.geometry.intersection(zone).length.rename("rsu_m")


def naive_ports(
    ports: gpd.GeoDataFrame, sites, reach_m, *, min_share: float = 0.95, quad_segs: int = 16
) -> pd.DataFrame:
    """Nearest site and coverage of every port (``sjoin_nearest`` and buffers).

    A point is covered when it lies in some site's buffer; an area when at least
    ``min_share`` of it does (areas of polygons, not samples).

    Parameters
    ----------
    ports : geopandas.GeoDataFrame
        Points or polygons in a projected CRS.
    sites : geopandas.GeoDataFrame or geopandas.GeoSeries
        Points in the same CRS.
    reach_m : float or array_like
        Reach per site.
    min_share : float
        Share of an area that must be covered.
    quad_segs : int

    Returns
    -------
    pandas.DataFrame
        Aligned to ``ports.index``: ``distance_m`` (to the nearest site, 0 inside
        an area), ``covered_share`` and ``covered`` (bool).
    """
    _same_metric_crs(("ports", ports), ("sites", sites))
    reach = np.broadcast_to(np.asarray(reach_m, dtype="float64"), (len(sites),))
    site_frame = gpd.GeoDataFrame(geometry=sites.geometry.values, crs=sites.crs)
    port_frame = gpd.GeoDataFrame(geometry=ports.geometry.values, crs=ports.crs)
    nearest = gpd.sjoin_nearest(port_frame, site_frame, distance_col="distance_m")
    distance = nearest.groupby(level=0)["distance_m"].min().reindex(range(len(ports)))
    # only the sites that can reach some port get a buffer
    _, near = site_frame.sindex.query(
        port_frame.geometry, predicate="dwithin", distance=float(reach.max()) if len(reach) else 0
    )
    candidates = np.unique(near)
    share = np.zeros(len(ports))
    if len(candidates):
        cover = naive_coverage(
            site_frame.iloc[candidates], reach[candidates], quad_segs=quad_segs
        ).iloc[0]
        geoms = port_frame.geometry
        is_area = geoms.area.to_numpy() > 0
        share[~is_area] = geoms[~is_area].intersects(cover).to_numpy().astype(float)
        if is_area.any():
            areas = geoms[is_area]
            share[is_area] = (areas.intersection(cover).area / areas.area).to_numpy()
    return pd.DataFrame(
        {
            "distance_m": distance.to_numpy(),
            "covered_share": share,
            "covered": share >= min_share,
        },
        index=ports.index,
    )


def naive_population_covered(
    population, cover: gpd.GeoSeries, zones=None, *, transform=None, crs=None, band: int = 1
) -> pd.DataFrame:
    """Residents in the pixels whose centre lies in the coverage union (rasterise it).

    Parameters
    ----------
    population : str or os.PathLike or numpy.ndarray
        A population raster, or a 2-D array with ``transform`` and ``crs``.
    cover : geopandas.GeoSeries
        :func:`naive_coverage` (any CRS; reprojected to the raster's).
    zones : geopandas.GeoDataFrame, optional
        Polygons indexed by adcode (reprojected to the raster's CRS).
    transform, crs : optional
        Grid of an array ``population``.
    band : int

    Returns
    -------
    pandas.DataFrame
        As :func:`geo5g.popcover.covered_population`: ``population``,
        ``covered``, ``share`` per zone (or one row ``"total"``).
    """
    if isinstance(population, str | Path):
        with rasterio.open(population) as src:
            values = src.read(band).astype("float64")
            transform, crs, nodata = src.transform, CRS.from_user_input(src.crs), src.nodata
    else:
        if transform is None or crs is None:
            raise DataError("population: an array needs transform= and crs=")
        values = np.asarray(population, dtype="float64").copy()
        crs, nodata = CRS.from_user_input(crs), None
    drop = ~np.isfinite(values)
    if nodata is not None:
        drop |= values == nodata
    values[drop] = 0.0
    require_crs(cover, "cover")
    union = cover.to_crs(crs).iloc[0]
    covered = (
        rasterio.features.geometry_mask(
            [union], out_shape=values.shape, transform=transform, invert=True
        )
        if not union.is_empty
        else np.zeros(values.shape, dtype=bool)
    )
    if zones is None:
        labels = np.zeros(values.shape, dtype="int32")
        index = pd.Index(["total"])
    else:
        zones = zones.to_crs(crs)
        labels = rasterio.features.rasterize(
            zip(zones.geometry.values, range(1, len(zones) + 1), strict=True),
            out_shape=values.shape,
            transform=transform,
            fill=0,
            dtype="int32",
        )
        index = pd.Index(zones.index, name="adcode")
    n = len(index) + (0 if zones is None else 1)
    total = np.bincount(labels.ravel(), weights=values.ravel(), minlength=n)
    cov = np.bincount(labels[covered], weights=values[covered], minlength=n)
    if zones is not None:
        total, cov = total[1:], cov[1:]
    share = np.divide(cov, total, out=np.full(total.shape, np.nan), where=total > 0)
    return pd.DataFrame({"population": total, "covered": cov, "share": share}, index=index)
