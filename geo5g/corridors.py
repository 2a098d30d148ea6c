"""Coverage along roads: 5G gaps on expressways, and RSU road-km.

Both are measured with the exact line-cover engine of :mod:`geo5g.lines`:
:func:`road_coverage` (5G gaps per road ref, city and province) and
:func:`rsu_road_km` (road-km within range of a roadside unit) return frozen result
objects holding pure DataFrames indexed by ref / adcode and a GeoDataFrame of runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from .coverage import (
    CoverageModel,
    CoverageSettings,
    load_settings,
    point_xy,
    site_reach,
)
from .errors import CRSError, DataError
from .lines import RUN_COLUMNS, PreparedRoads, cover_lines, prepare_roads, summarise

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
]


# ------------------------------------------------------------------ analyses


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
