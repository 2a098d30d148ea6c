"""The coverage report: finished results in one frozen object, written atomically.

The pipeline computes the metrics (density, corridors, facilities), compares
them with the plan (:func:`geo5g.plans.compare`), then calls :func:`build_report`
to assemble a :class:`Report`; :func:`geo5g.outputs.write_report` writes it::

    report = build_report(title="江苏省 5G coverage", plan=plan_summary,
                          cities=cities, city_density=density, scorecard=card,
                          sites=sites, roads_covered=covered, roads_gaps=gaps,
                          ports=ports, provenance=[...])
    paths = geo5g.outputs.write_report(report, "maps/jiangsu", tiles=None, progress=print)
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .errors import DataError
from .hexbin import hexbin
from .project import is_site_table, require_crs, to_wgs84
from .sites import site_points

__all__ = [
    "DENSITY_COLUMNS",
    "PROVENANCE_KINDS",
    "SCORECARD_COLUMNS",
    "PlanSummary",
    "Provenance",
    "Report",
    "build_report",
    "detail_tables",
]

#: Columns of the density table (``geo5g.density``) joined onto the zones.
DENSITY_COLUMNS = (
    "name_zh",
    "name_en",
    "population",
    "stations",
    "per_10k",
    "target",
    "met",
    "shortfall",
)

#: Columns of the scorecard (``geo5g.plans.compare``), one row per plan target.
SCORECARD_COLUMNS = (
    "target_id",
    "description",
    "section",
    "metric",
    "op",
    "threshold",
    "unit",
    "measured",
    "met",
    "note",
)

#: Usual kinds of input: measured/published data, made-up demo data, a drawing
#: standing in for surveyed geometry, model settings. Other words are shown as
#: given; "synthetic" and "schematic" also label the layers built on them.
PROVENANCE_KINDS = ("real", "synthetic", "schematic", "settings")

_ROAD_COLUMNS = ("ref", "name", "city_adcode", "length_m")
_PORT_COLUMNS = ("name", "covered")
_ROAD_SUMMARY_COLUMNS = ("length_km", "covered_km", "gap_km", "coverage_pct")
_PROVINCE_COLUMNS = (
    "name_zh", "name_en", "population", "stations", "per_10k", "cities", "cities_met",
)  # fmt: skip
_SITE_COLUMNS = ("site_id", "operator", "band")
_LINE_TYPES = (shapely.GeometryType.LINESTRING, shapely.GeometryType.MULTILINESTRING)
_POLYGON_TYPES = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)
_POINT_TYPES = (shapely.GeometryType.POINT,)
_PORT_TYPES = (*_POINT_TYPES, *_POLYGON_TYPES)

#: Up to this many sites are also drawn one by one (besides the hexagons).
MAX_SITE_MARKERS = 2_000


@dataclass(frozen=True)
class PlanSummary:
    """The plan a report compares against, as the page names it.

    Parameters
    ----------
    id : str
        Plan identifier, e.g. ``"jiangsu-2022"``.
    name : str
        Human name, e.g. ``"江苏省5G网络建设领航行动计划 (2022–2024)"``.
    source : str
        Where the plan's text comes from (seed citation or URL as text).
    per_10k : float or None
        The plan's headline stations-per-10k threshold, if it has one.
    """

    id: str
    name: str
    source: str = ""
    per_10k: float | None = None


@dataclass(frozen=True)
class Provenance:
    """Where one input came from and whether it is real.

    Parameters
    ----------
    input : str
        What it is: ``"sites"``, ``"roads"``, ``"ports"``, ``"rsu"``,
        ``"boundaries"``, ``"population"``, ``"coverage model"``, ...
    path : str
        The file it was read from (or ``"bundled"``).
    kind : str
        Usually one of :data:`PROVENANCE_KINDS` (``"census"``, ``"user"``
        and the like are shown as given).
    note : str
        Free text (licence, generator, model settings).
    """

    input: str
    path: str
    kind: str
    note: str = ""


@dataclass(frozen=True, eq=False, kw_only=True)
class Report:
    """Finished results of one run, ready to render and write.

    Build it with :func:`build_report`, which validates and normalises the
    parts; the constructor itself trusts its arguments. Optional layers are
    ``None`` when absent.

    Attributes
    ----------
    title : str
        Page title.
    plan : PlanSummary
        The plan compared against.
    zones : geopandas.GeoDataFrame
        Cities, EPSG:4326, index ``adcode``, :data:`DENSITY_COLUMNS` + geometry.
    scorecard : pandas.DataFrame
        :data:`SCORECARD_COLUMNS`, one row per plan target.
    run_date : datetime.date
        When the run was made.
    counties : geopandas.GeoDataFrame or None
        Same columns as ``zones``, for counties.
    site_hex : geopandas.GeoDataFrame or None
        Site density hexagons from :func:`geo5g.hexbin.hexbin`.
    sites_few : geopandas.GeoDataFrame or None
        Individual sites (``site_id, operator, band``) when there are few.
    roads_covered, roads_gaps : geopandas.GeoDataFrame or None
        Covered and gap stretches: ``ref, name, city_adcode, length_m``.
    rsu_stretches : geopandas.GeoDataFrame or None
        Road stretches equipped with roadside units (``length_m``; ``ref``
        and ``name`` when known).
    ports : geopandas.GeoDataFrame or None
        Points or areas: ``name, covered`` and, when known, ``status,
        distance_m, serving_site_id, serving_operator`` (or ``site_id,
        operator``), ``synthetic``.
    seats, places : geopandas.GeoDataFrame or None
        County seats and key places (points of interest), as ``ports``.
    urban : geopandas.GeoDataFrame or None
        Urban areas (EPSG:4326) with ``name, kind, area_km2, covered_km2, covered_pct,
        continuous, serving_sites, source`` (:func:`geo5g.pipeline.measure_urban`).
    road_summary : pandas.DataFrame or None
        Per road ref: ``length_km, covered_km, gap_km, coverage_pct``.
    rsu_by_city : pandas.DataFrame or None
        Per city adcode: ``road_km, rsu_km``.
    line_summary : pandas.DataFrame or None
        The line rule per (ref, city adcode): ``length_km, covered_km,
        coverage_pct, continuous``.
    operator_summary : pandas.DataFrame or None
        Road ``covered_km, coverage_pct`` per operator's users and by n operators.
    ledger : pandas.DataFrame or None
        The per-city ledger (:func:`geo5g.ledger.city_ledger`), also written as an
        Excel workbook beside the page.
    candidates : geopandas.GeoDataFrame or None
        Candidate sites that close the gaps (:func:`geo5g.pipeline.plan_candidates`).
    trend : pandas.DataFrame or None
        Stations per city (index adcode) at each period end (columns: dates).
    signal : mapping or None
        The SS-RSRP overlay (:func:`geo5g.pipeline.signal_overlay`): a PNG data URL,
        its bounds and classes.
    provinces : geopandas.GeoDataFrame or None
        National pages: province outlines with ``name_zh, name_en, population,
        stations, per_10k, cities, cities_met``.
    maritime : geopandas.GeoDataFrame or None
        National pages: China's maritime boundary lines.
    provenance : tuple of Provenance
        The inputs and settings the results come from.
    notes : tuple of str
        Free notes shown under the scorecard.
    """

    title: str
    plan: PlanSummary
    zones: gpd.GeoDataFrame
    scorecard: pd.DataFrame
    run_date: _dt.date
    counties: gpd.GeoDataFrame | None = None
    site_hex: gpd.GeoDataFrame | None = None
    sites_few: gpd.GeoDataFrame | None = None
    roads_covered: gpd.GeoDataFrame | None = None
    roads_gaps: gpd.GeoDataFrame | None = None
    rsu_stretches: gpd.GeoDataFrame | None = None
    ports: gpd.GeoDataFrame | None = None
    seats: gpd.GeoDataFrame | None = None
    places: gpd.GeoDataFrame | None = None
    urban: gpd.GeoDataFrame | None = None
    road_summary: pd.DataFrame | None = None
    rsu_by_city: pd.DataFrame | None = None
    line_summary: pd.DataFrame | None = None
    operator_summary: pd.DataFrame | None = None
    ledger: pd.DataFrame | None = None
    candidates: gpd.GeoDataFrame | None = None
    trend: pd.DataFrame | None = None
    signal: Mapping | None = None
    provinces: gpd.GeoDataFrame | None = None
    maritime: gpd.GeoDataFrame | None = None
    provenance: tuple[Provenance, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = field(default_factory=tuple)

    def kinds(self, *inputs: str) -> frozenset[str]:
        """Provenance kinds of the named inputs (e.g. ``{"synthetic"}``).

        Parameters
        ----------
        *inputs : str
            Input names as in :attr:`Provenance.input` (case-insensitive).

        Returns
        -------
        frozenset of str
        """
        wanted = {name.lower() for name in inputs}
        return frozenset(p.kind for p in self.provenance if p.input.lower() in wanted)


# --------------------------------------------------------------------------- build


def _problems_geometry(layer: gpd.GeoDataFrame, allowed, what: str) -> list[str]:
    problems = []
    geoms = layer.geometry.array
    missing = shapely.is_missing(geoms)
    if missing.any():
        rows = ", ".join(map(str, layer.index[missing][:5]))
        problems.append(f"{int(missing.sum())} rows have no geometry (rows {rows})")
    types = shapely.get_type_id(geoms)
    bad = ~missing & ~np.isin(types, [int(t) for t in allowed])
    if bad.any():
        rows = ", ".join(map(str, layer.index[bad][:5]))
        problems.append(f"{int(bad.sum())} geometries are not {what} (rows {rows})")
    return problems


def _check_layer(
    layer: gpd.GeoDataFrame | None,
    name: str,
    columns: Iterable[str],
    geom_types,
    what: str,
) -> gpd.GeoDataFrame | None:
    """Validate a result layer once (columns, geometry, CRS); return it in WGS-84."""
    if layer is None:
        return None
    if not isinstance(layer, gpd.GeoDataFrame):
        raise DataError(f"{name}: expected a GeoDataFrame, got {type(layer).__name__}")
    require_crs(layer, name)
    problems = []
    if missing := [c for c in columns if c not in layer.columns]:
        problems.append(f"missing columns {', '.join(missing)} (expected {', '.join(columns)})")
    problems += _problems_geometry(layer, geom_types, what)
    if problems:
        raise DataError(f"{name}: " + "; ".join(problems))
    return to_wgs84(layer, name)


def _with_density(zones: gpd.GeoDataFrame, density: pd.DataFrame, name: str) -> gpd.GeoDataFrame:
    """Zone polygons joined to their density table (index adcode), WGS-84."""
    if not isinstance(zones, gpd.GeoDataFrame):
        raise DataError(f"{name}: expected a GeoDataFrame of zones, got {type(zones).__name__}")
    require_crs(zones, name)
    problems = []
    if missing := [c for c in DENSITY_COLUMNS if c not in density.columns]:
        problems.append(
            f"density table lacks columns {', '.join(missing)} "
            f"(expected {', '.join(DENSITY_COLUMNS)})"
        )
    if not density.index.is_unique:
        dup = density.index[density.index.duplicated()].unique()[:5]
        problems.append(f"density table has duplicate adcodes {', '.join(map(str, dup))}")
    absent = density.index.difference(zones.index)
    if len(absent):
        problems.append(
            f"{len(absent)} adcodes of the density table have no boundary "
            f"({', '.join(map(str, absent[:5]))}); were they measured on other zones?"
        )
    if problems:
        raise DataError(f"{name}: " + "; ".join(problems))
    geometry = zones.geometry.reindex(density.index)
    joined = gpd.GeoDataFrame(
        density.loc[:, list(DENSITY_COLUMNS)], geometry=geometry.array, crs=zones.crs
    )
    joined.index.name = density.index.name or "adcode"
    problems = _problems_geometry(joined, _POLYGON_TYPES, "polygons")
    if problems:
        raise DataError(f"{name}: " + "; ".join(problems))
    return to_wgs84(joined, name)


def _plan_summary(plan) -> PlanSummary:
    if isinstance(plan, PlanSummary):
        return plan

    def get(key):
        return plan.get(key) if isinstance(plan, Mapping) else getattr(plan, key, None)

    plan_id = get("id") or get("plan_id")
    name = get("name") or get("title")
    if not name and (get("name_zh") or get("name_en")):
        # geo5g.plans.Plan: both names, Chinese first.
        name = " — ".join(str(n) for n in (get("name_zh"), get("name_en")) if n)
    if not plan_id:
        raise DataError(f"plan: cannot find an id in {plan!r}; pass a PlanSummary(id, name)")
    per_10k = get("per_10k")
    density_target = get("density_target") if per_10k is None else None
    if density_target is not None:
        per_10k = getattr(density_target, "threshold", None)
    name = name or plan_id
    return PlanSummary(
        id=str(plan_id),
        name=str(name),
        source=str(get("source") or ""),
        per_10k=None if per_10k is None else float(per_10k),
    )


def _provenance_item(entry) -> Provenance:
    if isinstance(entry, Provenance):
        return entry
    if isinstance(entry, tuple | list):
        return Provenance(*(str(v) for v in entry))
    # Any object with these attributes, e.g. geo5g.analysis.Source (``layer``).
    name = getattr(entry, "input", None) or getattr(entry, "layer", None)
    return Provenance(
        str(name),
        str(getattr(entry, "path", "") or ""),
        str(getattr(entry, "kind", "") or ""),
        str(getattr(entry, "note", "") or ""),
    )


def _provenance(entries) -> tuple[Provenance, ...]:
    out = []
    problems = []
    for i, entry in enumerate(entries):
        try:
            item = _provenance_item(entry)
        except TypeError:
            problems.append(f"entry {i} is {entry!r}; give (input, path, kind[, note])")
            continue
        if not item.input or item.input == "None" or not item.kind:
            problems.append(f"entry {i} ({entry!r}) needs an input name and a kind")
        out.append(item)
    if problems:
        raise DataError("provenance: " + "; ".join(problems))
    return tuple(out)


def _any_true(layer, column: str) -> bool:
    """Whether ``layer`` has ``column`` and it is true somewhere (NA = false)."""
    if layer is None or column not in layer.columns:
        return False
    return bool(pd.array(layer[column], dtype="boolean").fillna(False).any())


def _implied_provenance(
    given: tuple[Provenance, ...], sites, roads_layers, ports
) -> tuple[Provenance, ...]:
    """Add entries the layers themselves declare (demo sites, schematic roads)."""
    named = {p.input.lower() for p in given}
    extra = []
    if sites is not None and sites.attrs.get("synthetic") and "sites" not in named:
        extra.append(
            Provenance("sites", str(sites.attrs.get("source", "")), "synthetic", "demo sites")
        )
    schematic = any(_any_true(layer, "schematic") for layer in roads_layers)
    if "ports" not in named and _any_true(ports, "synthetic"):
        extra.append(Provenance("ports", str(ports.attrs.get("source", "")), "synthetic", ""))
    if schematic and "roads" not in named:
        extra.append(
            Provenance("roads", "", "schematic", "drawn through county centres, not surveyed")
        )
    return given + tuple(extra)


def build_report(
    *,
    title: str,
    plan,
    cities: gpd.GeoDataFrame,
    city_density: pd.DataFrame,
    scorecard: pd.DataFrame,
    counties: gpd.GeoDataFrame | None = None,
    county_density: pd.DataFrame | None = None,
    sites: gpd.GeoDataFrame | None = None,
    roads_covered: gpd.GeoDataFrame | None = None,
    roads_gaps: gpd.GeoDataFrame | None = None,
    rsu_stretches: gpd.GeoDataFrame | None = None,
    ports: gpd.GeoDataFrame | None = None,
    seats: gpd.GeoDataFrame | None = None,
    places: gpd.GeoDataFrame | None = None,
    urban: gpd.GeoDataFrame | None = None,
    road_summary: pd.DataFrame | None = None,
    rsu_by_city: pd.DataFrame | None = None,
    line_summary: pd.DataFrame | None = None,
    operator_summary: pd.DataFrame | None = None,
    ledger: pd.DataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    trend: pd.DataFrame | None = None,
    signal: Mapping | None = None,
    provinces: gpd.GeoDataFrame | None = None,
    maritime: gpd.GeoDataFrame | None = None,
    provenance: Iterable = (),
    notes: Iterable[str] = (),
    run_date: _dt.date | None = None,
    hex_size_m: float | None = None,
    max_site_markers: int = MAX_SITE_MARKERS,
) -> Report:
    """Assemble a :class:`Report` from computed parts, validating each once.

    Parameters
    ----------
    title : str
        Page title.
    plan : PlanSummary, geo5g.plans.Plan, mapping or object
        The plan; a mapping/object needs ``id`` (or ``plan_id``) and ``name``
        (or ``title``, or ``name_zh``/``name_en``), optionally ``source`` and
        ``per_10k`` (or ``density_target.threshold``).
    cities : geopandas.GeoDataFrame
        City boundaries indexed by adcode (``geo5g.boundaries``), any CRS.
    city_density : pandas.DataFrame
        ``geo5g.density`` result for the cities: index adcode,
        :data:`DENSITY_COLUMNS`. Only zones in this table are drawn.
    scorecard : pandas.DataFrame
        ``geo5g.plans.compare`` result, :data:`SCORECARD_COLUMNS`.
    counties, county_density : optional
        The same for counties (both or neither).
    sites : geopandas.GeoDataFrame or pandas.DataFrame, optional
        Site points or a site table (``geo5g.sites``); aggregated into
        hexagons, and kept one by one when there are at most ``max_site_markers``.
    roads_covered, roads_gaps : geopandas.GeoDataFrame, optional
        Line stretches with ``ref, name, city_adcode, length_m``.
    rsu_stretches : geopandas.GeoDataFrame, optional
        Line stretches with ``length_m``.
    ports : geopandas.GeoDataFrame, optional
        Points or areas with ``name`` and ``covered``; shown when present:
        ``status``, ``distance_m``, ``serving_site_id`` (or ``site_id``),
        ``serving_operator`` (or ``operator``), ``synthetic``
        (:func:`geo5g.facilities.port_coverage` gives all of them).
    seats, places : geopandas.GeoDataFrame, optional
        County seats and key places, as ``ports``.
    urban : geopandas.GeoDataFrame, optional
        Urban areas measured as areas (:func:`geo5g.pipeline.measure_urban`).
    road_summary : pandas.DataFrame, optional
        Per road ref (index): ``length_km, covered_km, gap_km, coverage_pct``.
    rsu_by_city : pandas.DataFrame, optional
        Per city adcode (index): ``road_km, rsu_km``.
    line_summary, operator_summary, ledger : pandas.DataFrame, optional
        The line rule per (ref, city), the per-operator road coverage, the ledger.
    candidates, trend, signal : optional
        Candidate sites (points with ``kind``), the stations per city per period, and
        the SS-RSRP overlay.
    provinces, maritime : geopandas.GeoDataFrame, optional
        National pages: province outlines with their totals, and the maritime
        boundary lines (drawn with the land boundaries).
    provenance : iterable
        Inputs and settings: :class:`Provenance`, tuples ``(input, path,
        kind[, note])`` or objects with ``input`` (or ``layer``), ``path``,
        ``kind`` and ``note`` attributes (:class:`geo5g.analysis.Source`).
        Demo sites (``sites.attrs["synthetic"]``), roads with a true
        ``schematic`` column and ports with a true ``synthetic`` column are
        added when not listed.
    notes : iterable of str
        Notes for the page.
    run_date : datetime.date, optional
        Defaults to today.
    hex_size_m : float, optional
        Hexagon size across flats; chosen from the extent when omitted.
    max_site_markers : int
        Draw individual sites only up to this many.

    Returns
    -------
    Report

    Raises
    ------
    DataError
        A part lacks columns, has wrong or missing geometries, or the density
        table has adcodes without a boundary; one error per part, listing
        every problem found in it.
    CRSError
        A layer has no CRS.
    """
    problems = []
    if missing := [c for c in SCORECARD_COLUMNS if c not in scorecard.columns]:
        problems.append(
            f"scorecard: missing columns {', '.join(missing)} "
            f"(expected {', '.join(SCORECARD_COLUMNS)})"
        )
    if (counties is None) != (county_density is None):
        problems.append("counties: pass both the county boundaries and their density, or neither")
    if problems:
        raise DataError("; ".join(problems))

    zones = _with_density(cities, city_density, "cities")
    county_zones = None if counties is None else _with_density(counties, county_density, "counties")
    site_hex = sites_few = None
    if sites is not None:
        if is_site_table(sites):  # lon/lat columns: points only for the few drawn one by one
            require_crs(sites, "sites")
        else:
            sites = _check_layer(sites, "sites", (), _POINT_TYPES, "points")
        site_hex = hexbin(sites, hex_size_m)
        if len(sites) <= max_site_markers:
            keep = [c for c in _SITE_COLUMNS if c in sites.columns]
            drawn = site_points(sites) if is_site_table(sites) else sites
            sites_few = drawn[[*keep, "geometry"]].reset_index(drop=True)
    roads_covered = _check_layer(
        roads_covered, "roads_covered", _ROAD_COLUMNS, _LINE_TYPES, "lines"
    )
    roads_gaps = _check_layer(roads_gaps, "roads_gaps", _ROAD_COLUMNS, _LINE_TYPES, "lines")
    rsu_stretches = _check_layer(
        rsu_stretches, "rsu_stretches", ("length_m",), _LINE_TYPES, "lines"
    )
    ports = _check_layer(ports, "ports", _PORT_COLUMNS, _PORT_TYPES, "points or polygons")
    seats = _check_layer(seats, "seats", _PORT_COLUMNS, _PORT_TYPES, "points or polygons")
    places = _check_layer(places, "places", _PORT_COLUMNS, _PORT_TYPES, "points or polygons")
    provinces = _check_layer(provinces, "provinces", _PROVINCE_COLUMNS, _POLYGON_TYPES, "polygons")
    maritime = _check_layer(maritime, "maritime", (), _LINE_TYPES, "lines")
    for name, table, columns in (
        ("road_summary", road_summary, _ROAD_SUMMARY_COLUMNS),
        ("rsu_by_city", rsu_by_city, ("road_km", "rsu_km")),
    ):
        if table is not None and (missing := [c for c in columns if c not in table.columns]):
            raise DataError(f"{name}: missing columns {', '.join(missing)}")

    given = _provenance(provenance)
    return Report(
        title=str(title),
        plan=_plan_summary(plan),
        zones=zones,
        counties=county_zones,
        site_hex=site_hex,
        sites_few=sites_few,
        roads_covered=roads_covered,
        roads_gaps=roads_gaps,
        rsu_stretches=rsu_stretches,
        ports=ports,
        seats=seats,
        places=places,
        urban=urban,
        road_summary=None if road_summary is None else pd.DataFrame(road_summary),
        rsu_by_city=None if rsu_by_city is None else pd.DataFrame(rsu_by_city),
        line_summary=None if line_summary is None else pd.DataFrame(line_summary),
        operator_summary=None if operator_summary is None else pd.DataFrame(operator_summary),
        ledger=None if ledger is None else pd.DataFrame(ledger),
        candidates=_check_layer(candidates, "candidates", ("kind",), _POINT_TYPES, "points"),
        trend=None if trend is None else pd.DataFrame(trend),
        signal=None if signal is None else dict(signal),
        provinces=provinces,
        maritime=maritime,
        scorecard=scorecard.loc[:, list(SCORECARD_COLUMNS)].reset_index(drop=True),
        provenance=_implied_provenance(given, sites, (roads_covered, roads_gaps), ports),
        notes=tuple(str(n) for n in notes),
        run_date=run_date or _dt.date.today(),
    )


def _city_names(report: Report, adcodes) -> pd.Series:
    names = report.zones["name_zh"].astype(str)
    codes = pd.Series(adcodes).astype("Int64")
    return codes.map(names).fillna("").astype(str).set_axis(range(len(codes)))


def _place_table(layer: gpd.GeoDataFrame) -> pd.DataFrame:
    status = (
        layer["status"]
        if "status" in layer
        else layer["covered"].map({True: "covered", False: "not covered"})
    )
    table = pd.DataFrame(
        {
            "id": layer.index.astype(str),
            "name": layer["name"].astype(str).to_numpy(),
            "status": pd.Series(status).astype(str).to_numpy(),
            "covered_share": layer.get("covered_share", layer["covered"].astype(float)).to_numpy(),
            "distance_m": layer.get("distance_m", pd.Series(np.nan, index=layer.index)).to_numpy(),
            "serving_site_id": layer.get(
                "serving_site_id", pd.Series(pd.NA, index=layer.index)
            ).to_numpy(),
            "serving_operator": layer.get(
                "serving_operator", pd.Series(pd.NA, index=layer.index)
            ).to_numpy(),
        }
    )
    if "place_class" in layer.columns:
        table.insert(2, "class", layer["place_class"].astype(str).to_numpy())
    rep = shapely.point_on_surface(np.asarray(to_wgs84(layer, "places").geometry.values))
    table["lon"], table["lat"] = shapely.get_x(rep).round(5), shapely.get_y(rep).round(5)
    rank = table["status"].map({"not covered": 0, "partial": 1, "covered": 2}).fillna(3)
    order = np.lexsort((-table["distance_m"].fillna(0).to_numpy(), rank.to_numpy()))
    return table.iloc[order].reset_index(drop=True)


def detail_tables(report: Report) -> dict[str, pd.DataFrame]:
    """The tables behind the targets: what the page lists and the CSVs beside it hold.

    Returns
    -------
    dict of str to pandas.DataFrame
        Only the tables the report has data for: ``provinces`` (national pages:
        stations, per 10k, cities meeting the threshold), ``lines`` (the ≥ 95 % line
        rule per road and city), ``operators`` (road coverage per operator's users
        and by n operators), ``roads`` (per ref: km, covered,
        gap, %), ``gaps`` (every gap stretch, longest first, with its city and
        chainage), ``rsu`` (RSU km per city), ``ports``, ``seats``, ``places``
        (status, nearest distance, serving site; not covered first), ``urban`` (urban
        areas: km², covered %, continuous; failing first).
    """
    out: dict[str, pd.DataFrame] = {}
    if report.provinces is not None and len(report.provinces):
        table = pd.DataFrame(report.provinces.drop(columns="geometry"))
        table.index.name = "province_adcode"
        out["provinces"] = table.loc[:, list(_PROVINCE_COLUMNS)].reset_index()
    if report.road_summary is not None and len(report.road_summary):
        roads = report.road_summary.loc[:, list(_ROAD_SUMMARY_COLUMNS)].copy()
        roads.index = roads.index.astype(str)
        roads.index.name = "ref"
        out["roads"] = roads.sort_values("gap_km", ascending=False).reset_index()
    if report.line_summary is not None and len(report.line_summary):
        lines = report.line_summary.reset_index()
        lines.insert(1, "city", _city_names(report, lines["city_adcode"]).to_numpy())
        out["lines"] = lines
    if report.operator_summary is not None and len(report.operator_summary):
        out["operators"] = report.operator_summary.reset_index()
    if report.roads_gaps is not None and len(report.roads_gaps):
        gaps = report.roads_gaps
        table = pd.DataFrame(
            {
                "ref": gaps["ref"].astype(str).to_numpy(),
                "name": gaps["name"].astype(str).to_numpy(),
                "city": _city_names(report, gaps["city_adcode"]).to_numpy(),
                "city_adcode": gaps["city_adcode"].to_numpy(),
                "start_km": (gaps["start_m"] / 1000).to_numpy() if "start_m" in gaps else np.nan,
                "end_km": (gaps["end_m"] / 1000).to_numpy() if "end_m" in gaps else np.nan,
                "length_km": (gaps["length_m"] / 1000).to_numpy(),
            }
        )
        mid = shapely.line_interpolate_point(
            np.asarray(to_wgs84(gaps, "gaps").geometry.values), 0.5, normalized=True
        )
        table["lon"], table["lat"] = shapely.get_x(mid).round(5), shapely.get_y(mid).round(5)
        order = np.argsort(-table["length_km"].to_numpy(), kind="stable")
        out["gaps"] = table.iloc[order].reset_index(drop=True)
    if report.rsu_by_city is not None and len(report.rsu_by_city):
        rsu = report.rsu_by_city.loc[:, ["road_km", "rsu_km"]].copy()
        rsu.insert(0, "city", _city_names(report, rsu.index).to_numpy())
        rsu.index.name = "city_adcode"
        out["rsu"] = rsu.sort_values("rsu_km", ascending=False).reset_index()
    for key in ("ports", "seats", "places"):
        layer = getattr(report, key)
        if layer is not None and len(layer):
            out[key] = _place_table(layer)
    if report.urban is not None and len(report.urban):
        urban = pd.DataFrame(report.urban.drop(columns="geometry"))
        urban = urban.loc[:, [c for c in _URBAN_COLUMNS if c in urban.columns]]
        # areas failing first, the least covered on top: where the next sites should go
        out["urban"] = urban.sort_values(["continuous", "covered_pct"], kind="stable").reset_index()
    return out


_URBAN_COLUMNS = (
    "name", "adcode", "kind", "area_km2", "covered_km2", "covered_pct", "continuous",
    "serving_sites", "source",
)  # fmt: skip
