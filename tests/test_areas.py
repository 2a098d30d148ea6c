"""Urban areas as areas (geo5g.areas): covered km², continuity, serving sites, layers.

Geometry is in metres (EPSG:32650, UTM 50N) unless a test says otherwise; every
expected value is worked out by hand in the test (π r², circular segments, the lens
formula), with the tolerances of the error bounds stated in geo5g/areas.py.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from geo5g.areas import (
    AREA_COLUMNS,
    URBAN_AREA_COLUMNS,
    area_coverage,
    load_urban_settings,
    proxy_urban_areas,
    read_urban_areas,
)
from geo5g.errors import CRSError, DataError
from geo5g.project import measure_frame, to_metric

UTM = "EPSG:32650"


def layer(*geoms, crs=UTM, index=None) -> gpd.GeoSeries:
    return gpd.GeoSeries(list(geoms), crs=crs, index=index)


def segment(r: float, d: float) -> float:
    """Area of the part of a disk of radius r beyond a chord at distance d from its centre."""
    return r * r * math.acos(d / r) - d * math.sqrt(r * r - d * d)


# --------------------------------------------------------------------------- measuring


@pytest.mark.parametrize(("cx", "cy"), [(5000.0, 5000.0), (3217.3, 6480.9), (500.0, 9500.0)])
def test_one_disk_inside_a_square_is_pi_r_squared(cx, cy):
    # a lone disk is exact (its interval on each strip carries its exact area there),
    # wherever it lies against the lines; 500 m from the edges it is wholly inside
    t = area_coverage(layer(shapely.box(0, 0, 10_000, 10_000)), [cx], [cy], [500.0])
    assert list(t.columns) == list(AREA_COLUMNS)
    assert t["area_km2"].iloc[0] == pytest.approx(100.0, rel=1e-12)
    assert t["covered_km2"].iloc[0] == pytest.approx(math.pi * 0.25, rel=1e-9)
    assert t["covered_pct"].iloc[0] == pytest.approx(100 * math.pi * 0.25 / 100.0, rel=1e-9)
    assert t["serving_sites"].iloc[0] == 1
    assert not t["continuous"].iloc[0]


def test_disk_centred_on_an_edge_covers_half():
    # the square's edge x = 0 halves the disk; each strip's interval is symmetric
    # about the centre, so exactly half of it is inside
    t = area_coverage(layer(shapely.box(0, 0, 10_000, 10_000)), [0.0], [5012.3], [500.0])
    assert t["covered_km2"].iloc[0] * 1e6 == pytest.approx(math.pi * 500.0**2 / 2, rel=1e-9)


@pytest.mark.parametrize("d", [-400.0, -150.0, 120.0, 350.0])
def test_disk_cut_by_an_edge_is_a_circular_segment(d):
    # centre at x = d of the edge x = 0: inside is the disk minus the segment beyond
    # the chord (d > 0) or the segment itself (d < 0); 25 m strips = r / 20, whose
    # bound for a straight edge across a disk is 0.36 % of π r² (vertical: 0.11 %)
    r = 500.0
    expected = math.pi * r * r - segment(r, d) if d > 0 else segment(r, -d)
    t = area_coverage(
        layer(shapely.box(0, 0, 10_000, 10_000)), [d], [5031.7], [r], spacing_m=r / 20
    )
    assert abs(t["covered_km2"].iloc[0] * 1e6 - expected) <= 0.0036 * math.pi * r * r


@pytest.mark.parametrize("d", [0.0, 200.0, 500.0, 780.0, 999.0])
def test_two_overlapping_disks_are_not_counted_twice(d):
    # union = 2 π r² − lens, lens = 2 r² acos(d / 2r) − (d / 2) sqrt(4 r² − d²);
    # strips of r / 20: the bound for two disks is 0.10 % of the union
    r = 500.0
    lens = 2 * r * r * math.acos(d / (2 * r)) - d / 2 * math.sqrt(4 * r * r - d * d)
    union = 2 * math.pi * r * r - lens
    angle = math.radians(37.0)  # neither along nor across the lines
    x = np.array([5000.0, 5000.0 + d * math.cos(angle)])
    y = np.array([5000.0, 5000.0 + d * math.sin(angle)])
    t = area_coverage(layer(shapely.box(0, 0, 10_000, 10_000)), x, y, [r, r], spacing_m=r / 20)
    assert t["covered_km2"].iloc[0] * 1e6 == pytest.approx(union, rel=1e-3)
    assert t["serving_sites"].iloc[0] == 2


def test_the_same_disk_twice_counts_once():
    t = area_coverage(layer(shapely.box(0, 0, 4000, 4000)), [2000.0] * 2, [2000.0] * 2, [700.0] * 2)
    assert t["covered_km2"].iloc[0] * 1e6 == pytest.approx(math.pi * 700.0**2, rel=1e-9)
    assert t["serving_sites"].iloc[0] == 2


def test_site_exactly_at_reach_from_the_edge():
    square = shapely.box(0, 0, 1000, 1000)
    # outside, 300 m from the edge x = 1000 with a 300 m reach: it serves (at reach
    # counts, as for ports) but covers nothing; 1 m farther it does not serve
    t = area_coverage(layer(square), [1301.0], [500.0], [300.0])
    assert t["serving_sites"].iloc[0] == 0
    t = area_coverage(layer(square), [1300.0], [500.0], [300.0])
    assert t["serving_sites"].iloc[0] == 1
    assert t["covered_km2"].iloc[0] == 0.0
    # inside, touching the edge from within: the whole disk counts, nothing leaks
    t = area_coverage(layer(square), [700.0], [500.0], [300.0])
    assert t["covered_km2"].iloc[0] * 1e6 == pytest.approx(math.pi * 300.0**2, rel=1e-9)


def test_site_at_reach_serves_once_per_area():
    square = shapely.box(0, 0, 1000, 1000)
    t = area_coverage(layer(square, square), [1300.0], [500.0], [300.0])
    assert t["serving_sites"].tolist() == [1, 1]


def rectangles(covered_m: float, open_m: float) -> shapely.MultiPolygon:
    """Two rectangles 100 m high on the same rows: one under a 10 km disk, one far off.

    Both are crossed by the same lines, so the covered share is covered_m /
    (covered_m + open_m) exactly.
    """
    return shapely.MultiPolygon(
        [shapely.box(0, 0, covered_m, 100), shapely.box(20_000, 0, 20_000 + open_m, 100)]
    )


@pytest.mark.parametrize(("covered_m", "continuous"), [(949.0, False), (950.0, True)])
def test_threshold_at_95_percent(covered_m, continuous):
    area = rectangles(covered_m, 1000.0 - covered_m)
    t = area_coverage(layer(area), [475.0], [50.0], [10_000.0])
    assert t["covered_pct"].iloc[0] == pytest.approx(covered_m / 10, abs=1e-9)
    assert bool(t["continuous"].iloc[0]) is continuous
    assert t.attrs["threshold_pct"] == 95.0
    assert "MIIT" in t.attrs["threshold_source"]


def test_threshold_is_a_parameter():
    area = rectangles(949.0, 51.0)
    t = area_coverage(layer(area), [475.0], [50.0], [10_000.0], threshold_pct=94.9)
    assert bool(t["continuous"].iloc[0])
    assert t.attrs["threshold_source"] == "given"
    with pytest.raises(DataError, match="threshold_pct"):
        area_coverage(layer(area), [475.0], [50.0], [10_000.0], threshold_pct=101)


def test_fully_covered_area_is_exactly_100_percent():
    hexagon = shapely.Polygon(
        [(1000 + 800 * math.cos(a), 1000 + 800 * math.sin(a)) for a in np.arange(6) * math.pi / 3]
    )
    t = area_coverage(layer(hexagon), [1000.0], [1000.0], [900.0])
    assert t["covered_pct"].iloc[0] == 100.0
    assert t["covered_km2"].iloc[0] == pytest.approx(hexagon.area / 1e6, rel=1e-12)
    assert bool(t["continuous"].iloc[0])


def test_empty_sites():
    t = area_coverage(layer(shapely.box(0, 0, 1000, 1000)), [], [], [])
    assert t["covered_km2"].tolist() == [0.0]
    assert t["covered_pct"].tolist() == [0.0]
    assert t["serving_sites"].tolist() == [0]
    assert t["continuous"].tolist() == [False]
    assert t["area_km2"].tolist() == [pytest.approx(1.0)]


def test_no_areas():
    t = area_coverage(gpd.GeoSeries([], crs=UTM), [0.0], [0.0], [100.0])
    assert len(t) == 0
    assert list(t.columns) == list(AREA_COLUMNS)


def test_holes_and_index_are_kept():
    ring = shapely.box(0, 0, 3000, 3000).difference(shapely.box(1000, 1000, 2000, 2000))
    far = shapely.box(10_000, 0, 11_000, 1000)
    t = area_coverage(
        layer(ring, far, index=pd.Index(["ring", "far"], name="area_id")),
        [1500.0],
        [1500.0],
        [400.0],  # wholly in the hole: serves nothing
    )
    assert t.index.tolist() == ["ring", "far"]
    assert t.index.name == "area_id"
    assert t["area_km2"].tolist() == [pytest.approx(8.0), pytest.approx(1.0)]
    assert t["covered_km2"].tolist() == [0.0, 0.0]
    assert t["serving_sites"].tolist() == [0, 0]


def test_scale_factor_gives_ground_km2():
    # a CRS whose scale factor is 2 everywhere: projected lengths are twice the
    # ground's, so a projected 2 km square is 1 km² on the ground, and a 600 m
    # projected disk (a 300 m reach × k) is π 0.3² km² on the ground
    t = area_coverage(
        layer(shapely.box(0, 0, 2000, 2000)),
        [1000.0],
        [1000.0],
        [600.0],
        scale=lambda x, y: np.full(np.shape(x), 2.0),
    )
    assert t["area_km2"].iloc[0] == pytest.approx(1.0)
    assert t["covered_km2"].iloc[0] == pytest.approx(math.pi * 0.3**2, rel=1e-9)


def test_agrees_with_an_exact_overlay():
    # 40 disks of 300–900 m in an irregular 9-gon, strips of 50 m: the share within
    # 0.05 percentage points of a 1024-segment buffer overlay (0.021 measured worst)
    rng = np.random.default_rng(13)
    angles = np.arange(9) * 2 * math.pi / 9
    radii = rng.uniform(2500, 4000, 9)
    poly = shapely.Polygon(np.c_[5000 + radii * np.cos(angles), 5000 + radii * np.sin(angles)])
    x, y, r = rng.uniform(0, 10_000, 40), rng.uniform(0, 10_000, 40), rng.uniform(300, 900, 40)
    disks = shapely.union_all(shapely.buffer(shapely.points(x, y), r, quad_segs=1024))
    exact = 100 * shapely.intersection(poly, disks).area / poly.area
    t = area_coverage(layer(poly), x, y, r)
    assert t["covered_pct"].iloc[0] == pytest.approx(exact, abs=0.05)
    assert t["serving_sites"].iloc[0] == int(shapely.dwithin(poly, shapely.points(x, y), r).sum())


squares = st.tuples(
    st.floats(-2000, 2000), st.floats(-2000, 2000), st.floats(50, 3000), st.floats(50, 3000)
)
disks = st.lists(
    st.tuples(st.floats(-4000, 4000), st.floats(-4000, 4000), st.floats(1, 2000)),
    min_size=0,
    max_size=12,
)


@given(squares, disks, st.floats(1.0, 3.0))
def test_covered_within_area_and_monotone_in_radius(box, sites, factor):
    x0, y0, w, h = box
    area = layer(shapely.box(x0, y0, x0 + w, y0 + h))
    x = np.array([s[0] for s in sites])
    y = np.array([s[1] for s in sites])
    r = np.array([s[2] for s in sites])
    small = area_coverage(area, x, y, r)
    large = area_coverage(area, x, y, r * factor)
    for t in (small, large):
        assert 0.0 <= t["covered_km2"].iloc[0] <= t["area_km2"].iloc[0] * (1 + 1e-12)
        assert 0.0 <= t["covered_pct"].iloc[0] <= 100.0
    slack = 1e-9 * small["area_km2"].iloc[0]
    assert large["covered_km2"].iloc[0] >= small["covered_km2"].iloc[0] - slack
    assert large["serving_sites"].iloc[0] >= small["serving_sites"].iloc[0]


def test_areas_must_be_in_metres():
    square = shapely.box(118.0, 32.0, 118.1, 32.1)
    with pytest.raises(CRSError, match="not projected"):
        area_coverage(layer(square, crs="EPSG:4326"), [118.05], [32.05], [100.0])
    with pytest.raises(CRSError, match="no CRS"):
        area_coverage(gpd.GeoSeries([square]), [118.05], [32.05], [100.0])


def test_bad_geometries_and_sites_are_refused():
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    with pytest.raises(DataError) as err:
        area_coverage(
            layer(shapely.Point(0, 0), bowtie, None, index=["pt", "bow", "none"]), [], [], []
        )
    message = str(err.value)
    assert "not polygons (pt)" in message
    assert "invalid geometry (bow)" in message
    assert "no geometry (none)" in message
    square = layer(shapely.box(0, 0, 10, 10))
    with pytest.raises(DataError, match="reach > 0"):
        area_coverage(square, [0.0, 1.0], [0.0, 1.0], [100.0, 0.0])
    with pytest.raises(DataError, match="one value per site"):
        area_coverage(square, [0.0, 1.0], [0.0], [100.0, 50.0])


# --------------------------------------------------------------------------- proxy


@pytest.fixture(scope="module")
def jiangxi():
    from geo5g.boundaries import read_boundaries

    counties = read_boundaries("jiangxi", "county")
    return counties, proxy_urban_areas(counties)


def test_proxy_has_one_area_per_county_level_unit(jiangxi):
    counties, areas = jiangxi
    assert len(counties) == 100
    assert sorted(areas.index) == sorted(counties.index.astype(str))
    assert list(areas.columns) == [*URBAN_AREA_COLUMNS, "geometry"]
    assert areas["adcode"].dtype == "Int64"
    assert areas.crs.to_epsg() == 4326
    districts = counties.index[counties["name_zh"].str.endswith("区")].astype(str)
    assert sorted(areas.index[areas["kind"] == "district"]) == sorted(districts)
    assert (areas["kind"] == "county seat").sum() == 100 - len(districts) == 73
    # labelled as a proxy, row by row and as a layer
    assert areas.attrs["proxy"] is True
    assert areas["source"].str.startswith("PROXY").all()


def test_proxy_seat_disks(jiangxi):
    counties, areas = jiangxi
    seats = areas[areas["kind"] == "county seat"]
    # centred on the seat point measure_seats uses: the county's representative point
    rep = counties.geometry.representative_point()
    rep.index = rep.index.astype(str)
    assert seats.geometry.contains(rep.reindex(seats.index)).all()
    # π · 2.0² km² on the ground (none of Jiangxi's seats is within 2 km of its border)
    zone = measure_frame(areas.total_bounds).zones[0]
    metric = to_metric(seats, zone.crs)
    c = metric.geometry.centroid
    k = zone.scale(c.x.to_numpy(), c.y.to_numpy())
    ground = metric.area.to_numpy() / k**2 / 1e6
    assert ground == pytest.approx(math.pi * 2.0**2, rel=1e-4)
    assert load_urban_settings().seat_radius_m == 2000.0


def test_proxy_coverage_carries_the_proxy_flag(jiangxi):
    _, areas = jiangxi
    zone = measure_frame(areas.total_bounds).zones[0]
    metric = to_metric(areas.iloc[:3], zone.crs)
    t = area_coverage(metric, [], [], [], scale=zone.scale)
    assert t.attrs["proxy"] is True
    assert t.index.tolist() == areas.index[:3].tolist()


# --------------------------------------------------------------------------- reading


def write(tmp_path, name, frame: gpd.GeoDataFrame, **kwargs):
    path = tmp_path / name
    frame.to_file(path, **kwargs)
    return path


def test_read_urban_areas(tmp_path):
    frame = gpd.GeoDataFrame(
        {
            "area_id": ["nc", "ja"],
            "name": ["南昌城区", "吉安城区"],
            "adcode": [360102, None],
        },
        geometry=[shapely.box(0, 0, 1000, 1000), shapely.box(5000, 0, 6000, 800)],
        crs=UTM,
    )
    areas = read_urban_areas(write(tmp_path, "areas.gpkg", frame))
    assert areas.index.name == "area_id"
    assert areas.index.tolist() == ["nc", "ja"]
    assert areas["name"].tolist() == ["南昌城区", "吉安城区"]
    assert areas["adcode"].tolist() == [360102, pd.NA]
    assert areas["kind"].tolist() == ["user", "user"]
    assert areas.crs.to_epsg() == 4326
    assert areas.attrs == {"source": "areas.gpkg", "proxy": False}


def test_read_urban_areas_generates_ids(tmp_path):
    frame = gpd.GeoDataFrame({"名称": ["城区"]}, geometry=[shapely.box(0, 0, 1000, 1000)], crs=UTM)
    areas = read_urban_areas(write(tmp_path, "towns.gpkg", frame))
    assert areas.index.tolist() == ["towns-1"]
    assert areas["name"].tolist() == ["城区"]


def test_reader_needs_a_crs_and_lists_the_rest(tmp_path):
    frame = gpd.GeoDataFrame(
        {"name": ["a", ""]}, geometry=[shapely.box(0, 0, 1, 1), shapely.Point(0, 0)]
    )
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        path = write(tmp_path, "nocrs.gpkg", frame)
    with pytest.raises(CRSError) as err:
        read_urban_areas(path)
    message = str(err.value)
    assert "no CRS" in message
    assert "Point, not polygons" in message  # the other problems come too
    assert "1 areas have no name" in message


def test_reader_reports_every_problem_at_once(tmp_path):
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    frame = gpd.GeoDataFrame(
        {
            "area_id": ["a", "a", "c", "d"],
            "name": ["一", " ", "三", "四"],
            "adcode": [360102, 3601, 360103, 360104],
        },
        geometry=[
            shapely.box(0, 0, 100, 100),
            shapely.LineString([(0, 0), (1, 1)]),
            bowtie,
            shapely.box(0, 0, 50, 50),
        ],
        crs=UTM,
    )
    with pytest.raises(DataError) as err:
        read_urban_areas(write(tmp_path, "bad.gpkg", frame))
    message = str(err.value)
    assert message.startswith("bad.gpkg: ")
    assert "LineString, not polygons (features 2)" in message
    assert "1 polygons are invalid (features 3)" in message
    assert "1 areas have no name (features 2)" in message
    assert "not a 6-digit county code (features 2)" in message
    assert "2 areas share an area_id (features 1, 2)" in message


def test_reader_needs_a_name_column(tmp_path):
    frame = gpd.GeoDataFrame({"code": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs=UTM)
    with pytest.raises(DataError, match="no name column"):
        read_urban_areas(write(tmp_path, "anon.gpkg", frame))


def test_settings_report_every_problem(tmp_path):
    path = tmp_path / "urban.toml"
    path.write_text(
        "[continuous]\ncovered_share = 1.5\n[measure]\nline_spacing_m = -1\nmin_lines = 0.5\n"
        "[proxy]\nseat_radius_m = 0\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError) as err:
        load_urban_settings(path)
    message = str(err.value)
    for key in ("covered_share", "line_spacing_m", "min_lines", "seat_radius_m"):
        assert key in message
