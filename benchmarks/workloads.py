"""Reproducible benchmark workloads: Jiangsu and the whole country (all SYNTHETIC).

Everything is generated from the bundled boundaries, the 2020 census and a seed,
into ``benchmarks/_work/<scale>/`` (git-ignored), and regenerated only when the
manifest (scale, seed, geo5g version, generator version) changes:

* cities: Jiangsu's 13 / the 367 mainland prefecture units (bundled boundaries);
* sites: 250,000 (``geo5g.demo.synthetic_sites``) / 4,800,000
  (``synthetic_sites_national``), SYNTHETIC;
* roads: Jiangsu's bundled SCHEMATIC expressways with a vertex every 50 m
  (≈ 6,050 km drawn) / ≈ 180,000 km of SYNTHETIC roads between the cities'
  representative points, a vertex every 100 m;
* ports: the 11 WPI ports of Jiangsu / the 66 WPI ports of China, plus 500 /
  2,000 SYNTHETIC 400 m × 400 m port areas;
* RSUs: 60 / 20 km of road per city, one every 500 m (SYNTHETIC);
* population raster: EPSG:4326 like WorldPop, 3″ (≈ 100 m, 6,738 × 5,239) /
  30″ (≈ 1 km, 7,391 × 5,968), SYNTHETIC.

The population raster spreads each city's census total over its pixels in
proportion to a smoothed density of the sites plus a floor (people live where
the stations are, and some everywhere); it is a WorldPop look-alike, not data.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.features
import shapely
from affine import Affine
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import cKDTree

import geo5g
from geo5g.boundaries import read_boundaries
from geo5g.demo import synthetic_rsu, synthetic_sites, synthetic_sites_national
from geo5g.population import read_census
from geo5g.project import metric_crs, to_metric, to_wgs84
from geo5g.roads import read_demo_ports, read_demo_roads
from geo5g.sites import write_sites
from geo5g.zones import locate

__all__ = ["PROVENANCE", "SCALES", "Scale", "Workload", "prepare"]

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
_GENERATOR_VERSION = 1  # bump when the generation below changes
#: What is real and what is not, in every workload.
PROVENANCE = (
    "SYNTHETIC: sites, port areas, RSUs, population raster, national roads; "
    "SCHEMATIC: Jiangsu roads; real: boundaries, census totals, WPI ports"
)


@dataclass(frozen=True)
class Scale:
    """Parameters of one workload."""

    name: str
    province: str  # for read_boundaries: "jiangsu" or "all"
    sites: int
    road_km: float  # national: target length of the synthetic network
    vertex_m: float  # spacing of road vertices
    port_areas: int
    rsu_km_per_city: float
    raster_arcsec: float
    smooth_m: float  # sigma of the site-density smoothing of the population raster
    seed: int


SCALES = {
    "jiangsu": Scale("jiangsu", "jiangsu", 250_000, 0.0, 50.0, 500, 60.0, 3.0, 2_000.0, 2024),
    "national": Scale(
        "national", "all", 4_800_000, 180_000.0, 100.0, 2_000, 20.0, 30.0, 5_000.0, 2025
    ),
}


@dataclass(frozen=True)
class Workload:
    """Paths of a generated workload and its description."""

    scale: Scale
    folder: Path
    sites: Path
    roads: Path
    ports: Path
    rsu: Path
    population: Path
    manifest: dict


# --------------------------------------------------------------------------- sites


def _sites(scale: Scale, cities, census) -> gpd.GeoDataFrame:
    if scale.province == "all":
        return synthetic_sites_national(cities, census, total=scale.sites, seed=scale.seed)
    counties = read_boundaries(scale.province, "county")
    return synthetic_sites(
        counties, census, total=scale.sites, seed=scale.seed, as_of="2025-12-31", code="BJS"
    )


# --------------------------------------------------------------------------- roads


def _jiangsu_roads(vertex_m: float) -> gpd.GeoDataFrame:
    """The bundled schematic expressways with a vertex every ``vertex_m``."""
    roads = read_demo_roads("jiangsu")
    crs = metric_crs(roads.total_bounds)
    metric = to_metric(roads, crs)
    metric = metric.set_geometry(shapely.segmentize(metric.geometry.values, vertex_m))
    out = to_wgs84(metric)[["ref", "name", "schematic", "weight", "geometry"]]
    return out.reset_index(drop=True)


def _national_roads(cities, scale: Scale, rng) -> gpd.GeoDataFrame:
    """≈ ``scale.road_km`` of SYNTHETIC roads between city representative points.

    The minimum spanning tree of the cities' 8-nearest-neighbour graph (every city
    connected), then the shortest remaining links, until the target length; links
    that run mostly outside the cities (across the sea) are left out. Each link
    bends smoothly (four random sine modes, ±4 % of its length) and gets a vertex
    every ``scale.vertex_m``.
    """
    mainland = cities[cities["province_adcode"] < 710000]
    crs = metric_crs(cities.total_bounds)
    zones = to_metric(mainland, crs)
    xy = shapely.get_coordinates(zones.geometry.representative_point().values)
    n = len(xy)
    dist, nbr = cKDTree(xy).query(xy, k=9)
    a = np.repeat(np.arange(n), 8)
    b = nbr[:, 1:].ravel()
    d = dist[:, 1:].ravel()
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = np.unique(lo * n + hi)
    a, b = key // n, key % n
    d = np.hypot(*(xy[a] - xy[b]).T)
    # keep links whose straight line stays (98 %) inside some city
    t = np.linspace(0.0, 1.0, 41)
    px = xy[a, 0][:, None] + (xy[b, 0] - xy[a, 0])[:, None] * t
    py = xy[a, 1][:, None] + (xy[b, 1] - xy[a, 1])[:, None] * t
    inside = (locate(px.ravel(), py.ravel(), zones) >= 0).reshape(px.shape).mean(axis=1)
    ok = inside >= 0.98
    a, b, d = a[ok], b[ok], d[ok]
    graph = coo_matrix((d, (a, b)), shape=(n, n)).tocsr()
    tree = minimum_spanning_tree(graph).tocoo()
    in_tree = set(zip(np.minimum(tree.row, tree.col), np.maximum(tree.row, tree.col), strict=True))
    first = np.array([(i, j) in in_tree for i, j in zip(a, b, strict=True)])
    order = np.r_[np.flatnonzero(first), np.flatnonzero(~first)[np.argsort(d[~first])]]
    curved = d * 1.02  # the bends add about 2 %
    take = order[: int(np.searchsorted(np.cumsum(curved[order]), scale.road_km * 1000.0)) + 1]
    a, b, d = a[take], b[take], d[take]

    count = np.ceil(d / scale.vertex_m).astype(np.int64) + 1
    link = np.repeat(np.arange(len(a)), count)
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    s = k / (count[link] - 1)
    amp = rng.normal(0.0, 0.04, (len(a), 4)) * d[:, None] / np.arange(1, 5)
    bend = (amp[link] * np.sin(np.pi * np.arange(1, 5)[None, :] * s[:, None])).sum(axis=1)
    ux, uy = (xy[b, 0] - xy[a, 0]) / d, (xy[b, 1] - xy[a, 1]) / d
    x = xy[a, 0][link] + (xy[b, 0] - xy[a, 0])[link] * s - uy[link] * bend
    y = xy[a, 1][link] + (xy[b, 1] - xy[a, 1])[link] * s + ux[link] * bend
    lines = shapely.linestrings(x, y, indices=link)
    names = mainland["name_en"].to_numpy(dtype=object)
    roads = gpd.GeoDataFrame(
        {
            "ref": [f"SYN-{i + 1:04d}" for i in range(len(a))],
            "name": [f"{names[i]} – {names[j]} (SYNTHETIC)" for i, j in zip(a, b, strict=True)],
            "schematic": True,
            "weight": 1.0,
        },
        geometry=lines,
        crs=crs,
    )
    return to_wgs84(roads)


# --------------------------------------------------------------------------- ports, RSU


def _port_areas(n: int, cities, rng, crs) -> gpd.GeoDataFrame:
    """``n`` synthetic 400 m × 400 m port areas at random places inside the cities."""
    zones = to_metric(cities, crs)
    minx, miny, maxx, maxy = zones.total_bounds
    have = np.empty((0, 2))
    while len(have) < n:  # rejection sampling in batches
        xy = np.column_stack([rng.uniform(minx, maxx, 4 * n), rng.uniform(miny, maxy, 4 * n)])
        have = np.vstack([have, xy[locate(xy[:, 0], xy[:, 1], zones) >= 0]])
    xy = have[:n]
    boxes = shapely.box(xy[:, 0] - 200, xy[:, 1] - 200, xy[:, 0] + 200, xy[:, 1] + 200)
    areas = gpd.GeoDataFrame(
        {"port_id": [f"AREA-{i + 1:04d}" for i in range(n)], "name": "synthetic port area"},
        geometry=boxes,
        crs=crs,
    )
    areas["synthetic"] = True
    return to_wgs84(areas)


def _wpi_ports() -> gpd.GeoDataFrame:
    wpi = pd.read_csv(HERE / "data" / "wpi_china.csv")
    return gpd.GeoDataFrame(
        {
            "port_id": "WPI-" + wpi["World Port Index Number"].astype(int).astype(str),
            "name": wpi["Main Port Name"].astype(str),
            "synthetic": False,
        },
        geometry=gpd.points_from_xy(wpi["Longitude"], wpi["Latitude"]),
        crs=4326,
    )


def _ports(scale: Scale, cities, rng) -> gpd.GeoDataFrame:
    crs = metric_crs(cities.total_bounds)
    real = read_demo_ports("jiangsu") if scale.province == "jiangsu" else _wpi_ports()
    real = real[["port_id", "name", "synthetic", "geometry"]]
    mainland = cities[cities["province_adcode"] < 710000]
    areas = _port_areas(scale.port_areas, mainland, rng, crs)
    out = pd.concat([real.to_crs(4326), areas], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=4326)


# --------------------------------------------------------------------------- population


def _grid(bounds, arcsec: float):
    res = arcsec / 3600.0
    minx, miny = np.floor(np.asarray(bounds[:2]) / res) * res
    maxx, maxy = np.ceil(np.asarray(bounds[2:]) / res) * res
    width, height = round((maxx - minx) / res), round((maxy - miny) / res)
    return Affine(res, 0.0, minx, 0.0, -res, maxy), height, width


def _population(scale: Scale, cities, census, sites, path: Path) -> dict:
    """A WorldPop look-alike: census totals spread ∝ smoothed site density + a floor."""
    transform, height, width = _grid(cities.total_bounds, scale.raster_arcsec)
    labels = rasterio.features.rasterize(
        zip(cities.geometry.values, range(1, len(cities) + 1), strict=True),
        out_shape=(height, width),
        transform=transform,
        fill=0,
        dtype="int32",
    )
    xy = shapely.get_coordinates(sites.geometry.values)
    col = ((xy[:, 0] - transform.c) / transform.a).astype(np.int64)
    row = ((xy[:, 1] - transform.f) / transform.e).astype(np.int64)
    ok = (col >= 0) & (col < width) & (row >= 0) & (row < height)
    counts = np.bincount(row[ok] * width + col[ok], minlength=height * width)
    density = counts.reshape(height, width).astype("float32")
    sigma_px = scale.smooth_m / (scale.raster_arcsec / 3600.0 * 111_000.0)
    density = ndimage.gaussian_filter(density, sigma_px)
    inside = labels > 0
    floor = float(density[inside].mean()) * 0.1 if inside.any() else 1.0
    weight = np.where(inside, density + floor, 0.0)
    per_city = np.bincount(labels.ravel(), weights=weight.ravel(), minlength=len(cities) + 1)
    pop = census.reindex(cities.index).fillna(0).to_numpy(dtype="float64")
    scale_by = np.r_[
        0.0, np.divide(pop, per_city[1:], out=np.zeros(len(pop)), where=per_city[1:] > 0)
    ]
    values = (weight * scale_by[labels]).astype("float32")
    profile = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": transform,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "deflate",
        "predictor": 3,
        "nodata": -1.0,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
        dst.update_tags(
            SYNTHETIC="yes", NOTE="census totals spread by smoothed synthetic site density"
        )
    return {"height": height, "width": width, "arcsec": scale.raster_arcsec,
            "people": round(float(values.sum(dtype="float64")))}  # fmt: skip


# --------------------------------------------------------------------------- all


def _manifest(scale: Scale) -> dict:
    return {"scale": asdict(scale), "geo5g": geo5g.__version__, "generator": _GENERATOR_VERSION}


def prepare(name: str, *, work: Path = WORK, force: bool = False, log=print) -> Workload:
    """Generate (or reuse) the workload ``name`` ("jiangsu" or "national").

    Returns
    -------
    Workload
    """
    scale = SCALES[name]
    folder = Path(work) / name
    paths = {
        "sites": folder / "sites.parquet",
        "roads": folder / "roads.parquet",
        "ports": folder / "ports.parquet",
        "rsu": folder / "rsu.parquet",
        "population": folder / "population.tif",
    }
    manifest_path = folder / "manifest.json"
    want = _manifest(scale)
    if not force and manifest_path.is_file() and all(p.is_file() for p in paths.values()):
        have = json.loads(manifest_path.read_text(encoding="utf-8"))
        if {k: have.get(k) for k in want} == want:
            return Workload(scale, folder, **paths, manifest=have)
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rng = np.random.default_rng(scale.seed)
    cities = read_boundaries(scale.province, "city")
    census = read_census()
    log(f"[workload {name}] sites …")
    sites = _sites(scale, cities, census)
    write_sites(sites, paths["sites"])
    log(f"[workload {name}] roads …")
    if scale.province == "all":
        roads = _national_roads(cities, scale, rng)
    else:
        roads = _jiangsu_roads(scale.vertex_m)
    roads.to_parquet(paths["roads"], geometry_encoding="geoarrow", compression="zstd")
    log(f"[workload {name}] ports, RSUs …")
    ports = _ports(scale, cities, rng)
    ports.to_parquet(paths["ports"], compression="zstd")
    mainland = cities[cities["province_adcode"] < 710000]
    rsu = synthetic_rsu(
        roads, mainland, dict.fromkeys(mainland.index, scale.rsu_km_per_city), seed=scale.seed
    )
    rsu.to_parquet(paths["rsu"], compression="zstd")
    log(f"[workload {name}] population raster …")
    raster = _population(scale, cities, census, sites, paths["population"])
    roads_m = to_metric(roads, metric_crs(cities.total_bounds))
    manifest = want | {
        "synthetic": PROVENANCE,
        "cities": len(cities),
        "sites": len(sites),
        "road_km": round(float(roads_m.length.sum()) / 1000.0, 1),
        "road_features": len(roads),
        "road_vertices": int(shapely.get_num_coordinates(roads.geometry.values).sum()),
        "ports": len(ports),
        "port_areas": int((ports.geom_type != "Point").sum()),
        "rsu": len(rsu),
        "raster": raster,
        "files_mb": {k: round(p.stat().st_size / 2**20, 1) for k, p in paths.items()},
        "generated_s": round(time.perf_counter() - t0, 1),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    return Workload(scale, folder, **paths, manifest=manifest)
