"""Benchmark: corridor gaps, port coverage and RSU road-km at Jiangsu scale.

Not part of the test suite. Run from the repository root::

    python benchmarks/bench_corridors.py            # ≈ 250,000 sites, ≈ 4,600 km of road
    python benchmarks/bench_corridors.py --sites 20000 --no-naive   # quick look

Workload (seeded, reproducible): the bundled schematic expressways of Jiangsu with a
vertex every 50 m (≈ 4,640 km, ≈ 93,000 vertices); ``--sites`` synthetic sites in the
province, 60 % clustered around county seats and 40 % spread uniformly, with the
bands of the synthetic demo sites and no ``radius_m`` (reaches from the band table,
urban/rural from the county layer); 11 WPI ports plus 500 synthetic 400 m × 400 m port
areas; RSUs every 500 m along 60 km of expressway in each of the 13 cities.

For each analysis it records the wall time (best of ``--repeat`` runs) and the peak
Python-heap allocation under ``tracemalloc`` (numpy buffers included), and with
``--naive`` it runs the GeoPandas way on the same input (buffer every site with 64
segments per quarter circle, ``union_all``, ``difference``/``intersection``;
``sjoin_nearest`` for ports) and reports how far the answers differ. Figures go to
``benchmarks/results/corridors.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
import tracemalloc
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy
import shapely

from geo5g.boundaries import read_boundaries
from geo5g.corridors import cover_lines, road_coverage, rsu_road_km
from geo5g.coverage import load_settings, site_reach
from geo5g.demo import synthetic_rsu
from geo5g.facilities import port_coverage
from geo5g.project import metric_crs, to_metric
from geo5g.roads import read_demo_ports, read_demo_roads

OUT = Path(__file__).resolve().parent / "results" / "corridors.json"
BANDS = {"3.5GHz": 0.34, "2.6GHz": 0.30, "700MHz": 0.225, "4.9GHz": 0.075, "2.1GHz": 0.06}


def _sites(n: int, province, counties, rng) -> gpd.GeoDataFrame:
    """``n`` seeded synthetic sites inside ``province`` (EPSG:4326 in, EPSG:4326 out)."""
    crs = metric_crs(province.total_bounds)
    shape = to_metric(gpd.GeoSeries([province.union_all()], crs=4326), crs).values[0]
    seats = shapely.get_coordinates(to_metric(counties.geometry.representative_point(), crs).values)
    shapely.prepare(shape)
    xs, ys = [], []
    have = 0
    minx, miny, maxx, maxy = shape.bounds
    while have < n:  # rejection sampling in batches (a loop over batches, not sites)
        m = n - have
        k = int(m * 0.6)
        seat = seats[rng.integers(0, len(seats), k)]
        sigma = rng.uniform(2_000, 8_000, k)[:, None]
        clustered = seat + rng.normal(size=(k, 2)) * sigma
        spread = np.column_stack([rng.uniform(minx, maxx, m - k), rng.uniform(miny, maxy, m - k)])
        xy = np.vstack([clustered, spread])
        xy = xy[shapely.contains_xy(shape, xy[:, 0], xy[:, 1])][:m]
        xs.append(xy[:, 0])
        ys.append(xy[:, 1])
        have += len(xy)
    x, y = np.concatenate(xs), np.concatenate(ys)
    band = rng.choice(list(BANDS), size=n, p=list(BANDS.values()))
    ops = rng.choice(["China Mobile", "China Unicom", "China Telecom", "China Broadnet"], n)
    sites = gpd.GeoDataFrame(
        {
            "site_id": [f"B-{i:06d}" for i in range(n)],
            "operator": ops,
            "band": band,
            "radius_m": np.nan,
        },
        geometry=gpd.points_from_xy(x, y),
        crs=crs,
    ).to_crs(4326)
    sites["lon"], sites["lat"] = sites.geometry.x, sites.geometry.y
    return sites


def _port_areas(n: int, province, rng) -> gpd.GeoDataFrame:
    crs = metric_crs(province.total_bounds)
    shape = to_metric(gpd.GeoSeries([province.union_all()], crs=4326), crs).values[0]
    minx, miny, maxx, maxy = shape.bounds
    xy = np.column_stack([rng.uniform(minx, maxx, 4 * n), rng.uniform(miny, maxy, 4 * n)])
    xy = xy[shapely.contains_xy(shape, xy[:, 0], xy[:, 1])][:n]
    boxes = shapely.box(xy[:, 0] - 200, xy[:, 1] - 200, xy[:, 0] + 200, xy[:, 1] + 200)
    return gpd.GeoDataFrame(
        {"port_id": [f"A-{i:04d}" for i in range(len(xy))], "name": "synthetic area"},
        geometry=boxes,
        crs=crs,
    ).to_crs(4326)


def _timed(fn, repeat: int):
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, round(best, 4), round(peak / 2**20, 1)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=250_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--naive", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    settings = load_settings()

    t0 = time.perf_counter()
    cities = read_boundaries("jiangsu", "city")
    counties = read_boundaries("jiangsu", "county")
    roads = read_demo_roads("jiangsu")
    crs = metric_crs(cities.total_bounds)
    roads_m = to_metric(roads, crs)
    roads_m = roads_m.set_geometry(shapely.segmentize(roads_m.geometry.values, 50.0))
    roads = roads_m.to_crs(4326)
    roads.attrs.update(source="schematic roads (50 m vertices)")
    sites = _sites(args.sites, cities, counties, rng)
    ports = pd.concat([read_demo_ports("jiangsu"), _port_areas(500, cities, rng)])
    ports = gpd.GeoDataFrame(ports, geometry="geometry", crs=4326).reset_index(drop=True)
    rsu = synthetic_rsu(roads, cities, dict.fromkeys(cities.index, 60.0), seed=args.seed)
    setup_s = time.perf_counter() - t0

    n_vertices = len(shapely.get_coordinates(roads_m.geometry.values))
    figures: dict = {
        "workload": {
            "sites": len(sites),
            "road_km_drawn": round(float(roads_m.length.sum()) / 1000, 1),
            "road_vertices": n_vertices,
            "cities": len(cities),
            "ports": len(ports),
            "port_areas": int((ports.geom_type != "Point").sum()),
            "rsu": len(rsu),
            "setup_s": round(setup_s, 2),
        }
    }

    gaps, t_gaps, m_gaps = _timed(
        lambda: road_coverage(roads, sites, cities, counties=counties, settings=settings, crs=crs),
        args.repeat,
    )
    x, y, reach = site_reach(sites, crs, settings, counties=counties)
    _, t_core, m_core = _timed(
        lambda: cover_lines(roads_m, x, y, reach, to_metric(cities, crs), piece_m=settings.piece_m),
        args.repeat,
    )
    port_table, t_ports, m_ports = _timed(
        lambda: port_coverage(ports, sites, counties=counties, settings=settings, crs=crs),
        args.repeat,
    )
    rsu_result, t_rsu, m_rsu = _timed(
        lambda: rsu_road_km(roads, rsu, cities, settings=settings, crs=crs, target_km=300),
        args.repeat,
    )
    total = gaps.total.loc["total"]
    figures["geo5g"] = {
        "gaps": {"wall_s": t_gaps, "peak_mib": m_gaps, "note": "incl. projection, urban flags"},
        "gaps_core": {"wall_s": t_core, "peak_mib": m_core, "note": "cover_lines only"},
        "ports": {"wall_s": t_ports, "peak_mib": m_ports, "note": "incl. projection, areas"},
        "rsu": {"wall_s": t_rsu, "peak_mib": m_rsu},
        "road_km": round(float(total["length_km"]), 2),  # in the cities, shared km once
        "gap_km": round(float(total["gap_km"]), 2),
        "coverage_pct": round(float(total["coverage_pct"]), 3),
        "gap_runs": len(gaps.gaps),
        "ports_covered": int(port_table["covered"].sum()),
        "rsu_km": round(float(rsu_result.total["rsu_km"]), 2),
    }

    if args.naive:
        figures["naive"] = _naive(roads_m, x, y, reach, ports, sites, rsu, crs, settings)
        runs = cover_lines(roads_m, x, y, reach, piece_m=settings.piece_m)
        ours_gap = float(runs.loc[~runs["covered"], "length_m"].sum())
        rsu_xy = shapely.get_coordinates(to_metric(rsu.geometry, crs).values)
        rsu_runs = cover_lines(roads_m, rsu_xy[:, 0], rsu_xy[:, 1], rsu["range_m"].to_numpy())
        ours_rsu = float(rsu_runs.loc[rsu_runs["covered"], "length_m"].sum())
        naive = figures["naive"]
        figures["agreement"] = {
            "gap_km_exact": round(ours_gap / 1000, 3),
            "gap_km_naive": naive["gap_km"],
            "gap_rel_diff_pct": round(100 * (naive["gap_km"] * 1000 - ours_gap) / ours_gap, 3),
            "rsu_km_exact": round(ours_rsu / 1000, 3),
            "rsu_km_naive": naive["rsu_km"],
            "rsu_rel_diff_pct": round(100 * (naive["rsu_km"] * 1000 - ours_rsu) / ours_rsu, 3),
            "note": "without city split; naive circles are 256-gons (quad_segs=64)",
        }
        nearest = port_table["distance_m"].to_numpy()
        figures["agreement"]["port_nearest_max_abs_diff_m"] = round(
            float(np.nanmax(np.abs(nearest - naive.pop("_nearest")))), 6
        )
        figures["speedup"] = {
            "gaps": round(naive["gaps"]["wall_s"] / t_gaps, 1),
            "ports": round(naive["ports"]["wall_s"] / t_ports, 1),
            "rsu": round(naive["rsu"]["wall_s"] / t_rsu, 1),
        }

    figures["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "versions": {m.__name__: m.__version__ for m in (np, pd, gpd, shapely, scipy)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(args.out)
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    return figures


def _naive(roads_m, x, y, reach, ports, sites, rsu, crs, settings) -> dict:
    """The GeoPandas way: buffers, a union, a difference (timed once, no tracemalloc)."""
    out = {}
    t = time.perf_counter()
    cover = shapely.union_all(shapely.buffer(shapely.points(x, y), reach, quad_segs=64))
    gap = shapely.difference(roads_m.geometry.values, cover)
    out["gaps"] = {"wall_s": round(time.perf_counter() - t, 3)}
    out["gap_km"] = round(float(shapely.length(gap).sum()) / 1000, 3)

    t = time.perf_counter()
    rsu_m = to_metric(rsu, crs)
    zone = shapely.union_all(rsu_m.buffer(rsu_m["range_m"].to_numpy(), quad_segs=64).values)
    inside = shapely.intersection(roads_m.geometry.values, zone)
    out["rsu"] = {"wall_s": round(time.perf_counter() - t, 3)}
    out["rsu_km"] = round(float(shapely.length(inside).sum()) / 1000, 3)

    t = time.perf_counter()
    ports_m = to_metric(ports, crs)
    sites_m = to_metric(sites[["site_id", "geometry"]], crs)
    joined = gpd.sjoin_nearest(ports_m, sites_m, distance_col="d")
    nearest = joined.groupby(level=0)["d"].min().reindex(range(len(ports_m))).to_numpy()
    out["ports"] = {"wall_s": round(time.perf_counter() - t, 3), "note": "sjoin_nearest only"}
    out["_nearest"] = nearest
    return out


if __name__ == "__main__":
    main()
