"""The fast paths agree with the naive GeoPandas reference (geo5g.reference).

Buffers are polygons inscribed in the circles, so the naive answers are bounds:
a buffer of the reach ("inner") covers a little less than the disk, a buffer of
``reach / cos(pi / sides)`` ("outer") a little more. The exact fast answers must
lie between the two; on a larger fixed layout they must also agree with the
naive answer within 0.5 %.
"""

import math
from unittest import mock

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import geo5g.zones
from geo5g.facilities import port_coverage
from geo5g.lines import _duplicated, cover_lines
from geo5g.popcover import covered_population
from geo5g.reference import (
    naive_coverage,
    naive_density,
    naive_gaps,
    naive_population_covered,
    naive_ports,
    naive_rsu_km,
)
from geo5g.sites import _all_distinct
from geo5g.zones import assign_zones, locate

UTM = "EPSG:32650"
X0, Y0 = 500_000.0, 3_500_000.0
QUAD = 16
OUTER = 1.0 / math.cos(math.pi / (4 * QUAD))  # circumscribed polygon's vertex radius
ORIGIN = np.array([X0, Y0])


def _zones():
    """Four zones around (X0, Y0): two boxes, an L-shape with a hole, a triangle."""
    ell = shapely.Polygon(
        [(0, 4000), (4000, 4000), (4000, 6000), (2000, 6000), (2000, 8000), (0, 8000)],
        holes=[[(500, 4500), (1500, 4500), (1500, 5500), (500, 5500)]],
    )
    geoms = [
        shapely.box(0, 0, 4000, 4000),
        shapely.box(4000, 0, 8000, 4000),
        ell,
        shapely.Polygon([(4000, 4000), (8000, 4000), (8000, 8000)]),
    ]
    geoms = [shapely.affinity.translate(g, X0, Y0) for g in geoms]
    return gpd.GeoDataFrame(
        {"name_zh": list("甲乙丙丁")},
        geometry=geoms,
        index=pd.Index([320101, 320102, 320103, 320104], name="adcode"),
        crs=UTM,
    )


def _sites(xy, crs=UTM):
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return gpd.GeoDataFrame(geometry=shapely.points(xy[:, 0], xy[:, 1]), crs=crs)


_offset = st.floats(-500, 8500, allow_nan=False)
_points = st.lists(st.tuples(_offset, _offset), min_size=0, max_size=80)


# ------------------------------------------------------------------ density / zones


@pytest.mark.parametrize("grid", [False, True], ids=["exact", "label-grid"])
@settings(max_examples=60, deadline=None)
@given(points=_points)
def test_density_equals_sjoin_within(grid, points):
    zones = _zones()
    xy = np.array(points, dtype=float).reshape(-1, 2) + ORIGIN
    boundary = shapely.union_all(shapely.boundary(zones.geometry.values))
    # sjoin "within" leaves out points on a border, where geo5g picks the first zone
    xy = xy[~shapely.intersects(boundary, shapely.points(xy))]
    with mock.patch.object(geo5g.zones, "_GRID_MIN_POINTS", 0 if grid else 10**9):
        zone_of = assign_zones(_sites(xy), zones)
    ours = zone_of.value_counts().reindex(zones.index, fill_value=0)
    assert ours.tolist() == naive_density(_sites(xy), zones).tolist()


_coarse = st.integers(-2, 34).map(lambda v: v * 250.0)  # many points on borders and corners


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.one_of(_coarse, _offset), st.one_of(_coarse, _offset)), max_size=60))
def test_label_grid_equals_exact_pass_even_on_borders(points):
    zones = _zones()
    xy = np.array(points, dtype=float).reshape(-1, 2) + ORIGIN
    with mock.patch.object(geo5g.zones, "_GRID_MIN_POINTS", 0):
        fast = locate(xy[:, 0], xy[:, 1], zones)
    with mock.patch.object(geo5g.zones, "_GRID_MIN_POINTS", 10**9):
        exact = locate(xy[:, 0], xy[:, 1], zones)
    assert fast.tolist() == exact.tolist()


def test_label_grid_on_many_points_and_nan():
    zones = _zones()
    rng = np.random.default_rng(7)
    xy = rng.uniform(-500, 8500, (60_000, 2)) + ORIGIN
    xy[:10] = np.nan
    fast = locate(xy[:, 0], xy[:, 1], zones)  # above the grid threshold
    with mock.patch.object(geo5g.zones, "_GRID_MIN_POINTS", 10**9):
        exact = locate(xy[:, 0], xy[:, 1], zones)
    assert (fast == exact).all()
    assert (fast[:10] == -1).all()
    assert set(np.unique(fast)) == {-1, 0, 1, 2, 3}


# ------------------------------------------------------------------ corridors


def _layout(draw_sites, draw_roads):
    sites = np.array(draw_sites, dtype=float).reshape(-1, 3)
    x, y, reach = X0 + sites[:, 0], Y0 + sites[:, 1], sites[:, 2]
    lines = [shapely.LineString(np.array(road) + ORIGIN) for road in draw_roads if len(road) >= 2]
    # GEOS nodes a line that runs back over itself, so the naive difference counts the
    # shared stretch once: such roads are out of the comparison (geo5g counts both ways)
    lines = [g for g in lines if abs(shapely.union_all(g).length - g.length) < 1e-6]
    roads = gpd.GeoDataFrame(
        {"ref": [f"G{i}" for i in range(len(lines))], "name": "", "schematic": False},
        geometry=lines,
        crs=UTM,
    )
    return x, y, reach, roads


_site = st.tuples(_offset, _offset, st.floats(50, 2500))
_vertex = st.tuples(st.floats(0, 8000), st.floats(0, 8000))
_road = st.lists(_vertex, min_size=2, max_size=6, unique=True)


def _uncovered(runs):
    return float(runs.loc[~runs["covered"], "length_m"].sum())


@settings(max_examples=40, deadline=None)
@given(st.lists(_site, min_size=1, max_size=25), st.lists(_road, min_size=1, max_size=3))
def test_gap_km_lies_between_the_inner_and_outer_buffers(sites, roads):
    x, y, reach, roads = _layout(sites, roads)
    assume(len(roads) and (roads.length > 1).all())
    fast = _uncovered(cover_lines(roads, x, y, reach))
    pts = _sites(np.column_stack([x, y]))
    inner = naive_gaps(roads, naive_coverage(pts, reach, quad_segs=QUAD)).sum()
    outer = naive_gaps(roads, naive_coverage(pts, reach * OUTER, quad_segs=QUAD)).sum()
    tol = 1e-6 * float(roads.length.sum()) + 1e-6
    assert outer - tol <= fast <= inner + tol


@settings(max_examples=30, deadline=None)
@given(st.lists(_site, min_size=1, max_size=25), st.lists(_road, min_size=1, max_size=3))
def test_rsu_km_lies_between_the_inner_and_outer_buffers(sites, roads):
    x, y, reach, roads = _layout(sites, roads)
    assume(len(roads) and (roads.length > 1).all())
    runs = cover_lines(roads, x, y, reach)
    fast = float(runs.loc[runs["covered"], "length_m"].sum())
    pts = _sites(np.column_stack([x, y]))
    inner = naive_rsu_km(roads, pts, reach, quad_segs=QUAD).sum()
    outer = naive_rsu_km(roads, pts, reach * OUTER, quad_segs=QUAD).sum()
    tol = 1e-6 * float(roads.length.sum()) + 1e-6
    assert inner - tol <= fast <= outer + tol


def _fixed_layout(seed=11, n_sites=60):
    rng = np.random.default_rng(seed)
    x = X0 + rng.uniform(0, 20_000, n_sites)
    y = Y0 + rng.uniform(0, 20_000, n_sites)
    reach = rng.choice([300.0, 600.0, 1000.0], n_sites)
    walks = [np.cumsum(rng.normal(0, 150, (400, 2)), axis=0) + rng.uniform(2000, 18000, 2)]
    walks.append(np.column_stack([np.linspace(0, 20_000, 300), np.full(300, 10_000.0)]))
    roads = gpd.GeoDataFrame(
        {"ref": ["W", "E"], "name": "", "schematic": False},
        geometry=[shapely.LineString(w + ORIGIN) for w in walks],
        crs=UTM,
    )
    return x, y, reach, roads


def test_gap_and_rsu_km_agree_within_half_a_percent_on_a_fixed_layout():
    x, y, reach, roads = _fixed_layout()
    runs = cover_lines(roads, x, y, reach)
    pts = _sites(np.column_stack([x, y]))
    cover = naive_coverage(pts, reach, quad_segs=QUAD)
    gap_fast, gap_naive = _uncovered(runs), float(naive_gaps(roads, cover).sum())
    covered_fast = float(runs.loc[runs["covered"], "length_m"].sum())
    covered_naive = float(naive_rsu_km(roads, pts, reach, quad_segs=QUAD).sum())
    assert gap_fast > 1000 and covered_fast > 1000  # a meaningful mix of both
    assert gap_naive == pytest.approx(gap_fast, rel=0.005)
    assert covered_naive == pytest.approx(covered_fast, rel=0.005)


# ------------------------------------------------------------------ ports


@settings(max_examples=30, deadline=None)
@given(
    st.lists(_site, min_size=1, max_size=25),
    st.lists(st.tuples(_offset, _offset), min_size=1, max_size=6),
    st.lists(st.tuples(_offset, _offset, st.floats(50, 1500)), max_size=4),
)
def test_ports_agree_with_sjoin_nearest_and_buffers(sites, points, areas):
    sites = np.array(sites, dtype=float)
    site_layer = gpd.GeoDataFrame(
        {"site_id": [f"S{i}" for i in range(len(sites))], "radius_m": sites[:, 2]},
        geometry=shapely.points(X0 + sites[:, 0], Y0 + sites[:, 1]),
        crs=UTM,
    )
    geoms = [shapely.Point(X0 + px, Y0 + py) for px, py in points]
    geoms += [shapely.box(X0 + ax, Y0 + ay, X0 + ax + s, Y0 + ay + s / 2) for ax, ay, s in areas]
    ports = gpd.GeoDataFrame(
        {"port_id": [f"P{i}" for i in range(len(geoms))], "name": ""}, geometry=geoms, crs=UTM
    )
    reach = sites[:, 2]
    fast = port_coverage(ports, site_layer, urban=np.ones(len(sites), bool), crs=UTM)
    inner = naive_ports(ports, site_layer, reach, quad_segs=QUAD)
    outer = naive_ports(ports, site_layer, reach * OUTER, quad_segs=QUAD)
    assert np.allclose(fast["distance_m"].to_numpy(), inner["distance_m"].to_numpy(), atol=1e-6)
    share = fast["covered_share"].to_numpy()
    assert (inner["covered_share"].to_numpy() - 1e-6 <= share).all()
    assert (share <= outer["covered_share"].to_numpy() + 1e-6).all()


# ------------------------------------------------------------------ population


def _population(seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 10, (80, 80)), Affine(50.0, 0.0, X0, 0.0, -50.0, Y0 + 4000.0)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 4000), st.floats(0, 4000), st.floats(30, 900)), max_size=15))
def test_covered_population_lies_between_the_inner_and_outer_buffers(sites):
    pop, grid = _population(len(sites))
    sites = np.array(sites, dtype=float).reshape(-1, 3)
    # an irrational nudge keeps sites off the pixel grid (pixel centres exactly on a
    # polygon edge are GDAL's to decide)
    x, y, reach = X0 + sites[:, 0] + 0.3183, Y0 + sites[:, 1] + 0.2718, sites[:, 2]
    fast = covered_population(pop, (x, y), reach, transform=grid, crs=UTM).loc["total", "covered"]
    if not len(x):
        assert fast == 0
        return
    pts = _sites(np.column_stack([x, y]))
    inner = naive_coverage(pts, reach, quad_segs=QUAD)
    outer = naive_coverage(pts, reach * OUTER, quad_segs=QUAD)
    low = naive_population_covered(pop, inner, transform=grid, crs=UTM).loc["total", "covered"]
    high = naive_population_covered(pop, outer, transform=grid, crs=UTM).loc["total", "covered"]
    assert low - 1e-6 <= fast <= high + 1e-6


def test_covered_population_per_zone_within_half_a_percent():
    rng = np.random.default_rng(3)
    pop, grid = _population(3)
    x = X0 + rng.uniform(0, 4000, 60)
    y = Y0 + rng.uniform(0, 4000, 60)
    reach = rng.choice([150.0, 300.0, 600.0], 60)
    zones = gpd.GeoDataFrame(
        geometry=[
            shapely.box(X0, Y0, X0 + 2000, Y0 + 4000),
            shapely.box(X0 + 2000, Y0, X0 + 4000, Y0 + 4000),
        ],
        index=pd.Index([1, 2], name="adcode"),
        crs=UTM,
    )
    fast = covered_population(pop, (x, y), reach, zones, transform=grid, crs=UTM)
    cover = naive_coverage(_sites(np.column_stack([x, y])), reach, quad_segs=QUAD)
    naive = naive_population_covered(pop, cover, zones, transform=grid, crs=UTM)
    assert np.allclose(fast["population"], naive["population"], rtol=1e-12)
    assert np.allclose(naive["covered"], fast["covered"], rtol=0.005)
    assert fast["share"].min() > 0.1 and fast["share"].max() < 0.95


# ------------------------------------------------------------------ hashing helpers


_ids = st.lists(st.text(alphabet="AB-0123", min_size=1, max_size=19), max_size=40)


@settings(max_examples=150, deadline=None)
@given(_ids, st.sampled_from([None, 5, 8, 12, 16, 19, 24]))
def test_all_distinct_equals_is_unique(ids, width):
    if width:  # ids of one width take the hashed path (in place up to 16 bytes)
        ids = [v.ljust(width, "x")[-width:] for v in ids]
    values = pd.Series(ids, dtype="str")
    assert _all_distinct(values) == values.is_unique


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(-3, 3), st.integers(-3, 3)), max_size=50))
def test_duplicated_rows_equal_pandas(rows):
    keys = np.array(rows, dtype=np.int64).reshape(-1, 3)
    want = pd.DataFrame(keys).duplicated().to_numpy()
    assert (_duplicated(keys) == want).all()


# ------------------------------------------------------------------ reading sites


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:3857"])
def test_geoparquet_fast_read_equals_the_geopandas_path(tmp_path, crs):
    import geo5g.sites

    rng = np.random.default_rng(1)
    n = 500
    lon, lat = rng.uniform(116, 121, n), rng.uniform(30, 35, n)
    layer = gpd.GeoDataFrame(
        {
            "site_id": [f"S-{i:05d}" for i in range(n)],
            "operator": rng.choice(["中国移动", "CUCC", " China Telecom ", None], n),
            "band": rng.choice(["n78", "2.6G", "700MHz", None], n),
            "radius_m": np.where(rng.random(n) < 0.5, np.nan, 800.0),
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs="EPSG:4326",
    ).to_crs(crs)
    path = tmp_path / "sites.parquet"
    layer.to_parquet(path, geometry_encoding="geoarrow")
    fast = geo5g.sites.read_sites(path)
    with mock.patch.object(geo5g.sites, "_read_geoarrow_points", lambda _path: None):
        slow = geo5g.sites.read_sites(path)
    assert pd.DataFrame(fast.drop(columns="geometry")).equals(
        pd.DataFrame(slow.drop(columns="geometry"))
    )
    assert fast.geometry.geom_equals_exact(slow.geometry, 1e-9).all()
    assert fast.attrs == slow.attrs


# ------------------------------------------------------------------ the coarse prefilter


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(_offset, _offset), min_size=1, max_size=20),
    st.lists(st.tuples(_offset, _offset), max_size=60),
    st.floats(1, 3000),
)
def test_sites_near_never_misses_a_site_within_reach(queries, points, dist):
    from geo5g.coverage import sites_near

    q = np.array(queries, dtype=float).reshape(-1, 2)
    p = np.array(points, dtype=float).reshape(-1, 2)
    near = sites_near(q[:, 0], q[:, 1], p[:, 0], p[:, 1], dist)
    d = np.hypot(p[:, None, 0] - q[None, :, 0], p[:, None, 1] - q[None, :, 1]).min(axis=1)
    assert near[d <= dist].all()


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(_offset, _offset), min_size=1, max_size=20),
    st.lists(st.tuples(_offset, _offset), max_size=60),
    st.floats(1, 3000),
)
def test_sites_near_marks_the_same_cells_for_few_and_many_queries(queries, points, dist):
    # few query points mark their 3 × 3 blocks directly, many dilate the grid: the
    # same queries repeated (the same cells) must keep the same points either way
    from geo5g.coverage import sites_near

    q = np.array(queries, dtype=float).reshape(-1, 2)
    p = np.array(points, dtype=float).reshape(-1, 2)
    many = np.repeat(q, 500_000 // len(q) + 1, axis=0)  # 9 × 500,000 > any grid's cells
    few = sites_near(q[:, 0], q[:, 1], p[:, 0], p[:, 1], dist)
    assert few.tolist() == sites_near(many[:, 0], many[:, 1], p[:, 0], p[:, 1], dist).tolist()
