"""The two sides of the benchmark: geo5g's own analysis and the naive GeoPandas way.

Each side runs in a fresh process (``run.py --side …``) so that its peak memory
(``ru_maxrss``) is its own, and records after every stage: the wall time
(``time.perf_counter``), the process's peak resident memory so far, and the
answers that the other side must agree with. The record is rewritten after each
stage, so a side stopped by ``--naive-timeout`` keeps what it finished.

geo5g's stages call the library's building blocks (the functions
``geo5g.analysis`` strings together) so that each stage is timed on its own:
``read`` (read_sites/read_roads/read_ports/read_rsu, boundaries, census),
``project`` (to the metric CRS), ``density``, ``reach`` (site environment and
the band table), ``gaps``, ``ports``, ``rsu``, ``popcover`` and ``render``
(build_report + write_report: HTML, CSV, GeoPackage).

The naive side reads with ``geopandas.read_parquet``, projects with ``to_crs``,
and measures with :mod:`geo5g.reference` (sjoin, buffer every site, union_all,
difference/intersection, rasterise the union). It uses the reach per site that
geo5g computed (``reach.npy``), so that both sides measure the same disks.
"""

from __future__ import annotations

import json
import os
import resource
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import rasterio
import rasterio.windows
import shapely

__all__ = ["Recorder", "check_inputs", "geo5g_side", "naive_side"]


def _peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def _rss_mib() -> float:
    """Resident memory now (what the stage left behind), from /proc (Linux)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return float("nan")
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


class Recorder:
    """Stage times, peak memory and answers, written to ``path`` after every stage."""

    def __init__(self, path: Path, side: str):
        self.path = Path(path)
        self.data = {"side": side, "pid": os.getpid(), "stages": {}, "answers": {}, "notes": {}}
        self.flush()

    @contextmanager
    def stage(self, name: str, note: str | None = None):
        t0 = time.perf_counter()
        yield
        self.data["stages"][name] = {
            "wall_s": round(time.perf_counter() - t0, 3),
            "peak_rss_mib": _peak_mib(),
            "rss_mib": _rss_mib(),
        }
        if note:
            self.data["notes"][name] = note
        self.flush()

    def answer(self, key: str, value) -> None:
        self.data["answers"][key] = value
        self.flush()

    def flush(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.path)


# --------------------------------------------------------------------------- shared


def check_inputs(sites_lonlat, roads, population: Path, window):
    """The inputs of the agreement checks: everything, or the sample ``window``.

    Parameters
    ----------
    sites_lonlat : tuple of arrays
        Site longitudes and latitudes (file order).
    roads : geopandas.GeoDataFrame
        Roads in EPSG:4326.
    population : path
        The population raster.
    window : tuple of float or None
        ``(minlon, minlat, maxlon, maxlat)`` of the sample, or None for all.

    Returns
    -------
    keep : numpy.ndarray of bool
        Sites in the sample.
    roads : geopandas.GeoDataFrame
        Roads clipped to the sample (EPSG:4326).
    raster : tuple
        ``(values, transform, crs)`` of the population under the sample, or
        ``(path, None, None)`` for the whole raster.
    """
    lon, lat = sites_lonlat
    if window is None:
        return np.ones(len(lon), dtype=bool), roads, (population, None, None)
    minx, miny, maxx, maxy = window
    keep = (lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy)
    clipped = roads.set_geometry(shapely.clip_by_rect(roads.geometry.values, *window))
    clipped = clipped[shapely.length(clipped.geometry.values) > 0]  # degrees: only "> 0"
    with rasterio.open(population) as src:
        win = rasterio.windows.from_bounds(*window, transform=src.transform)
        win = win.round_offsets().round_lengths()
        values = src.read(1, window=win, boundless=True, fill_value=0)
        transform = src.window_transform(win)
        crs = src.crs.to_wkt()
    return keep, clipped.reset_index(drop=True), (values, transform, crs)


def _window_of(args):
    return None if not args.window else tuple(float(v) for v in args.window.split(","))


# --------------------------------------------------------------------------- geo5g


def geo5g_side(args, work) -> None:
    """Time geo5g's stages on ``work`` and record the answers."""
    from geo5g.boundaries import read_boundaries
    from geo5g.corridors import cover_lines, prepare_roads, summarise
    from geo5g.coverage import BandTableModel, load_settings, point_xy, site_environment
    from geo5g.density import density_by_operator, density_table
    from geo5g.facilities import port_coverage, summarise_ports
    from geo5g.outputs import write_report
    from geo5g.plans import compare, default_plan, load_plan
    from geo5g.popcover import covered_population
    from geo5g.population import census_population, read_census
    from geo5g.project import metric_crs, metric_xy, to_metric
    from geo5g.report import build_report
    from geo5g.roads import read_ports, read_roads, read_rsu
    from geo5g.sites import read_sites
    from geo5g.zones import assign_zones

    rec = Recorder(args.result, "geo5g")
    scale = work.scale
    settings = load_settings()
    with rec.stage("read"):
        sites = read_sites(work.sites, points=False)  # a site table: lon/lat, no Points
        roads = read_roads(work.roads)
        ports = read_ports(work.ports)
        rsu = read_rsu(work.rsu)
        cities = read_boundaries(scale.province, "city")
        counties = read_boundaries(scale.province, "county") if scale.province != "all" else None
        census = read_census()
        plan = load_plan(default_plan(scale.province))
    with rec.stage("project"):
        crs = metric_crs(cities.total_bounds)
        sx, sy = metric_xy(sites, crs, "sites")
        roads_m = to_metric(roads, crs, "roads")
        cities_m = to_metric(cities, crs, "cities")
        counties_m = None if counties is None else to_metric(counties, crs, "counties")
    with rec.stage("density"):
        zone_of = assign_zones(sites, cities)
        population = census_population(cities, census)
        target = plan.density_target
        table = density_table(cities, zone_of, population, target.threshold, target.op)
        density_by_operator(zone_of, sites["operator"], population)
    with rec.stage("reach", "site environment (counties, or the density rule) + band table"):
        urban = site_environment(sx, sy, settings, counties_m)
        reach = BandTableModel(settings).reach_m(sites, urban)
    np.save(work.folder / "reach.npy", reach)
    with rec.stage(
        "gaps", "road network prepared (shared with rsu), exact intervals, totals per city"
    ):
        network = prepare_roads(roads_m, cities_m, crs, piece_m=settings.piece_m)
        runs = cover_lines(network, sx, sy, reach)
        summarise(runs, "city_adcode")
        gap_total = summarise(runs)
    with rec.stage("ports"):
        # the sites' metric coordinates and reach from the stages before
        port_table = port_coverage(
            ports, sites, settings=settings, crs=crs, xy=(sx, sy), reach_m=reach
        )
    with rec.stage("rsu"):
        rx, ry = point_xy(rsu, crs, "rsu")
        rsu_range = rsu["range_m"].fillna(settings.rsu_range_m).to_numpy("float64")
        rsu_runs = cover_lines(network, rx, ry, rsu_range)
        rsu_total = summarise(rsu_runs)
    del network  # its arrays (≈ 250 MB for the nation) are not needed any more
    with rasterio.open(work.population) as src:
        if src.crs.to_epsg() != 4326:
            raise SystemExit(f"{work.population}: expected EPSG:4326, found {src.crs}")
    with rec.stage("popcover", "pixels of the population raster within reach, per city"):
        pop_cover = covered_population(work.population, sites, reach, cities)
    with rec.stage("render", "build_report + write_report (HTML, CSV, GeoPackage)"):
        measured = {
            "stations_per_10k": float(table["stations"].sum() / table["population"].sum() * 1e4),
            "expressway_coverage_pct": float(gap_total["coverage_pct"].iloc[0]),
            "ports_covered_pct": float(summarise_ports(port_table)["covered_pct"]),
            "rsu_road_km": float(rsu_total["covered_km"].iloc[0]),
        }
        keep = ["ref", "name", "city_adcode", "start_m", "end_m", "length_m", "geometry"]
        report = build_report(
            title=f"geo5g benchmark — {scale.name} (SYNTHETIC workload)",
            plan=plan,
            cities=cities,
            city_density=table,
            scorecard=compare(plan, measured, {}),
            sites=sites,
            roads_covered=runs.loc[runs["covered"], keep],
            roads_gaps=runs.loc[~runs["covered"] & (runs["length_m"] >= settings.min_gap_m), keep],
            rsu_stretches=rsu_runs.loc[rsu_runs["covered"], keep],
            ports=port_table,
            provenance=[("workload", str(work.folder), "synthetic", "benchmarks/workloads.py")],
        )
        written = write_report(report, work.folder / "report")
    rec.data["html_mib"] = round(written["html"].stat().st_size / 2**20, 2)
    rec.data["figures"] = {
        "cities": len(cities),
        "sites": len(sites),
        "road_km": round(float(gap_total["length_km"].iloc[0]), 1),
        "gap_km": round(float(gap_total["gap_km"].iloc[0]), 1),
        "coverage_pct": round(float(gap_total["coverage_pct"].iloc[0]), 3),
        "ports_covered": int(port_table["covered"].sum()),
        "rsu_km": round(float(rsu_total["covered_km"].iloc[0]), 1),
        "people_covered_pct": round(
            100 * float(pop_cover["covered"].sum() / pop_cover["population"].sum()), 3
        ),
        "urban_sites_pct": round(100 * float(np.mean(urban)), 1),
    }

    # ---- answers for the agreement checks (untimed)
    rec.answer("stations", {str(k): int(v) for k, v in table["stations"].items()})
    window = _window_of(args)
    keep, check_roads, raster = check_inputs(
        (sites["lon"].to_numpy(), sites["lat"].to_numpy()), roads, work.population, window
    )
    check_roads_m = to_metric(check_roads, crs, "roads")
    runs = cover_lines(check_roads_m, sx[keep], sy[keep], reach[keep], piece_m=settings.piece_m)
    rec.answer("check_sites", int(keep.sum()))
    rec.answer("gap_m", float(runs.loc[~runs["covered"], "length_m"].sum()))
    rec.answer("check_road_m", float(runs["length_m"].sum()))
    full_rsu = cover_lines(roads_m, rx, ry, rsu_range, piece_m=settings.piece_m)
    rec.answer("rsu_m", float(full_rsu.loc[full_rsu["covered"], "length_m"].sum()))
    rec.answer(
        "ports",
        {
            "distance_m": port_table["distance_m"].round(3).tolist(),
            "covered_share": port_table["covered_share"].round(4).tolist(),
            "point": (port_table["kind"] == "point").tolist(),
        },
    )
    values, transform, rcrs = raster
    check_sites = (sites["lon"].to_numpy()[keep], sites["lat"].to_numpy()[keep])
    if window is None:
        pc = pop_cover
    else:
        pc = covered_population(values, check_sites, reach[keep], transform=transform, crs=rcrs)
    rec.answer("people", float(pc["population"].sum()))
    rec.answer("people_covered", float(pc["covered"].sum()))
    rec.flush()


# --------------------------------------------------------------------------- naive


def naive_side(args, work) -> None:
    """Time the naive GeoPandas way on ``work`` and record the answers."""
    import geopandas as gpd

    from geo5g.boundaries import read_boundaries
    from geo5g.project import metric_crs
    from geo5g.reference import (
        naive_coverage,
        naive_density,
        naive_gaps,
        naive_population_covered,
        naive_ports,
        naive_rsu_km,
    )

    rec = Recorder(args.result, "naive")
    scale = work.scale
    quad = args.quad_segs
    window = _window_of(args)
    with rec.stage("read"):
        sites = gpd.read_parquet(work.sites)
        roads = gpd.read_parquet(work.roads)
        ports = gpd.read_parquet(work.ports)
        rsu = gpd.read_parquet(work.rsu)
        cities = read_boundaries(scale.province, "city")
    reach = np.load(work.folder / "reach.npy")
    with rec.stage("project"):
        crs = metric_crs(cities.total_bounds)
        sites_m = sites.to_crs(crs)
        roads_m = roads.to_crs(crs)
        ports_m = ports.to_crs(crs)
        rsu_m = rsu.to_crs(crs)
    with rec.stage("density", "gpd.sjoin(sites, cities, predicate='within')"):
        stations = naive_density(sites, cities)
    rec.answer("stations", {str(k): int(v) for k, v in stations.items()})
    rec.answer("sites_in_several_cities", stations.attrs["sites_in_several_zones"])

    keep, check_roads, raster = check_inputs(
        (sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()), roads, work.population, window
    )
    sample = "" if window is None else f" (on the sample: {int(keep.sum()):,} sites)"
    rec.answer("check_sites", int(keep.sum()))
    with rec.stage("gaps", f"buffer every site (quad_segs={quad}), union_all, difference{sample}"):
        cover = naive_coverage(sites_m[keep], reach[keep], quad_segs=quad)
        gap = naive_gaps(check_roads.to_crs(crs), cover)
    rec.answer("gap_m", float(gap.sum()))
    with rec.stage("ports", "sjoin_nearest + buffers of the sites within reach"):
        port_table = naive_ports(ports_m, sites_m, reach, quad_segs=quad)
    rec.answer(
        "ports",
        {
            "distance_m": port_table["distance_m"].round(3).tolist(),
            "covered_share": port_table["covered_share"].round(4).tolist(),
        },
    )
    with rec.stage("rsu", "buffer every RSU, union_all, intersection"):
        rsu_range = rsu["range_m"].fillna(300.0).to_numpy("float64")
        rsu_m_per_road = naive_rsu_km(roads_m, rsu_m, rsu_range, quad_segs=quad)
    rec.answer("rsu_m", float(rsu_m_per_road.sum()))
    values, transform, rcrs = raster
    zones = cities if window is None else None
    with rec.stage("popcover", f"rasterise the coverage union (from 'gaps'){sample}"):
        pc = naive_population_covered(values, cover, zones, transform=transform, crs=rcrs)
    rec.answer("people", float(pc["population"].sum()))
    rec.answer("people_covered", float(pc["covered"].sum()))
