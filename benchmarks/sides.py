"""The two sides of the benchmark: geo5g's own analysis and the naive GeoPandas way.

Each side runs in a fresh process (``run.py --side …``) so that its peak memory
(``ru_maxrss``) is its own, and records after every stage: the wall time
(``time.perf_counter``), the process's peak resident memory so far, and the
answers that the other side must agree with. The record is rewritten after each
stage, so a side stopped by ``--naive-timeout`` keeps what it finished.

geo5g's side runs :func:`geo5g.pipeline.run` — the function ``python -m geo5g report``
calls — with a timer around each of its stages (``read``, ``project``, ``reach``,
``density``, ``gaps``, ``ports``, ``rsu``, ``popcover``, ``compare``), then
``report_from`` + ``write_report`` (``render``), as the CLI does. Nothing is timed
that the CLI does not run.

The naive side reads with ``geopandas.read_parquet``, projects with ``to_crs``,
and measures with :mod:`geo5g.reference` (sjoin, buffer every site, union_all,
difference/intersection, rasterise the union). It uses the reach per site that
geo5g computed (``reach.npy``), so that both sides measure the same disks.
"""

from __future__ import annotations

import json
import os
import resource
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
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
        self._t0 = time.perf_counter()
        # the pipeline runs some measures in a worker thread: stages end in two threads
        self._lock = threading.RLock()
        self.flush()

    @contextmanager
    def stage(self, name: str, note: str | None = None):
        t0 = time.perf_counter()
        yield
        t1 = time.perf_counter()
        with self._lock:
            self.data["stages"][name] = {
                "wall_s": round(t1 - t0, 3),
                # when it ran, from the recorder's start: stages run side by side overlap
                "start_s": round(t0 - self._t0, 3),
                "end_s": round(t1 - self._t0, 3),
                "peak_rss_mib": _peak_mib(),
                "rss_mib": _rss_mib(),
            }
            if note:
                self.data["notes"][name] = note
            self.flush()

    def answer(self, key: str, value) -> None:
        with self._lock:
            self.data["answers"][key] = value
            self.flush()

    def flush(self) -> None:
        with self._lock:
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


def _window_check(done, roads, window, reach_m):
    """Gap metres of the sample window, measured as the pipeline measures (untimed)."""
    from geo5g.lines import prepare_roads
    from geo5g.pipeline import _cover, _zone_sites
    from geo5g.project import split_lines

    inputs, frame = done.inputs, done.geometry.frame
    lon, lat = inputs.sites["lon"].to_numpy(), inputs.sites["lat"].to_numpy()
    keep, check_roads, raster = check_inputs((lon, lat), roads, window.population, window.box)
    nets = []
    for z, part in zip(frame.zones, split_lines(frame, check_roads), strict=True):
        nets.append(
            prepare_roads(part, None, z.crs, piece_m=inputs.settings.piece_m, scale=z.scale)
            if len(part)
            else None
        )
    sites = pd.DataFrame({"lon": lon[keep], "lat": lat[keep]})
    zone_sites = _zone_sites(frame, sites, float(reach_m[keep].max(initial=0.0)))
    runs = _cover(nets, frame, zone_sites, reach_m[keep])
    return keep, runs, raster, nets


class _Window:
    def __init__(self, box, population):
        self.box, self.population = box, population


def geo5g_side(args, work) -> None:
    """Time the pipeline's own stages on ``work`` (what ``python -m geo5g report`` runs)."""
    from geo5g._memory import prepare_process
    from geo5g.outputs import write_report
    from geo5g.pipeline import Request, report_from, run
    from geo5g.popcover import covered_population

    # run.py set these before any import, as `python -m geo5g` does; again for a direct call
    prepare_process()
    rec = Recorder(args.result, "geo5g")
    scale = work.scale
    request = Request(
        province=scale.province,
        sites=work.sites,
        roads=work.roads,
        ports=work.ports,
        rsu=work.rsu,
        population=work.population,
        # one service for every measure (as `--service outdoor`), so that the naive side,
        # given these reaches, measures the same disks for gaps, ports and people
        service="outdoor",
    )
    done = run(request, "report", timer=rec.stage)
    with rec.stage("render", "report_from + write_report (HTML, CSV, GeoPackage)"):
        written = write_report(report_from(done), work.folder / "report")
    reach = done.reach.reach_m
    np.save(work.folder / "reach.npy", reach)
    gaps, rsu, ports = done.gaps, done.rsu, done.ports
    pop_cover = done.popcover
    total = gaps.total.iloc[0]
    rec.data["html_mib"] = round(written["html"].stat().st_size / 2**20, 2)
    rec.data["figures"] = {
        "cities": len(done.inputs.cities),
        "sites": len(done.inputs.sites),
        "zones_of_the_frame": len(done.geometry.frame.zones),
        "road_km": round(float(total["length_km"]), 1),
        "gap_km": round(float(total["gap_km"]), 1),
        "coverage_pct": round(float(total["coverage_pct"]), 3),
        "ports_covered": int(ports["covered"].sum()),
        "rsu_km": round(float(rsu.total["rsu_km"]), 1),
        "people_covered_pct": round(
            100 * float(pop_cover["covered"].sum() / pop_cover["population"].sum()), 3
        ),
        "urban_sites_pct": round(100 * float(np.mean(done.reach.urban)), 1),
    }

    # ---- answers for the agreement checks (untimed)
    import geopandas as gpd

    from geo5g.pipeline import _cover, _zone_sites

    rec.answer("stations", {str(k): int(v) for k, v in done.density.table["stations"].items()})
    roads = gpd.read_parquet(work.roads)
    window = _Window(_window_of(args), work.population)
    keep, runs, raster, nets = _window_check(done, roads, window, reach)
    rec.answer("check_sites", int(keep.sum()))
    rec.answer("gap_m", float(runs.loc[~runs["covered"], "length_m"].sum()))
    rec.answer("check_road_m", float(runs["length_m"].sum()))
    rsu_layer = gpd.read_parquet(work.rsu)
    rx, ry = rsu_layer.geometry.x.to_numpy(), rsu_layer.geometry.y.to_numpy()
    rng = rsu_layer["range_m"].fillna(300.0).to_numpy("float64")
    frame = done.geometry.frame
    rsus = _zone_sites(frame, pd.DataFrame({"lon": rx, "lat": ry}), float(rng.max()))
    rsu_runs = _cover(nets, frame, rsus, rng)
    rec.answer("rsu_m", float(rsu_runs.loc[rsu_runs["covered"], "length_m"].sum()))
    in_window = np.ones(len(ports), dtype=bool)
    if window.box is not None:
        minx, miny, maxx, maxy = window.box
        rep = ports.geometry.representative_point()
        in_window = (
            (rep.x >= minx) & (rep.x <= maxx) & (rep.y >= miny) & (rep.y <= maxy)
        ).to_numpy()
    rec.answer(
        "ports",
        {
            "in_window": in_window.tolist(),
            "distance_m": ports["distance_m"].round(3).tolist(),
            "covered_share": ports["covered_share"].round(4).tolist(),
            "point": (ports["kind"] == "point").tolist(),
        },
    )
    values, transform, rcrs = raster
    lon, lat = done.inputs.sites["lon"].to_numpy(), done.inputs.sites["lat"].to_numpy()
    if window.box is None:
        pc = pop_cover
    else:
        pc = covered_population(
            values, (lon[keep], lat[keep]), reach[keep], transform=transform, crs=rcrs
        )
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
        counties = read_boundaries(scale.province, "county") if scale.province != "all" else None
    reach = np.load(work.folder / "reach.npy")
    with rec.stage("project", "to_crs into one transverse Mercator (of the sample window)"):
        # one CRS for all, as a GIS analyst would: a transverse Mercator of the checked area
        crs = metric_crs(window if window is not None else cities.total_bounds)
        sites_m = sites.to_crs(crs)
        ports_m = ports.to_crs(crs)
        rsu_m = rsu.to_crs(crs)
    with rec.stage("density", "gpd.sjoin(sites, counties, then cities, predicate='within')"):
        stations = naive_density(sites, cities, counties)
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
    with rec.stage("rsu", f"buffer every RSU, union_all, intersection{sample}"):
        rsu_range = rsu["range_m"].fillna(300.0).to_numpy("float64")
        rsu_m_per_road = naive_rsu_km(check_roads.to_crs(crs), rsu_m, rsu_range, quad_segs=quad)
    rec.answer("rsu_m", float(rsu_m_per_road.sum()))
    values, transform, rcrs = raster
    zones = cities if window is None else None
    with rec.stage("popcover", f"rasterise the coverage union (from 'gaps'){sample}"):
        pc = naive_population_covered(values, cover, zones, transform=transform, crs=rcrs)
    rec.answer("people", float(pc["population"].sum()))
    rec.answer("people_covered", float(pc["covered"].sum()))
