"""Tests for geo5g.corridors: exact gap intervals along roads, RSU road-km."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyproj import CRS
from shapely import LineString, MultiLineString, box

from geo5g.corridors import road_coverage, rsu_road_km
from geo5g.coverage import load_settings
from geo5g.demo import synthetic_rsu
from geo5g.errors import CRSError, DataError
from geo5g.lines import (
    RUN_COLUMNS,
    PreparedRoads,
    _merged_edges,
    cover_lines,
    prepare_roads,
    summarise,
)

# A transverse Mercator centred on 118°E: the CRS metric_crs() picks for layers there.
TM = CRS.from_proj4(
    "+proj=tmerc +lat_0=0 +lon_0=118 +k=1 +x_0=500000 +y_0=0 +datum=WGS84 +units=m +no_defs"
)
X0, Y0 = 500_000.0, 3_500_000.0  # origin of the hand-made layouts (≈ 118°E, 31.6°N)
SETTINGS = load_settings()


def _roads(*lines, refs=None, weight=None, crs=TM):
    n = len(lines)
    data = {
        "ref": refs or [f"R{i}" for i in range(n)],
        "name": [f"road {i}" for i in range(n)],
        "schematic": [False] * n,
    }
    if weight is not None:
        data["weight"] = weight
    return gpd.GeoDataFrame(data, geometry=list(lines), crs=crs)


def _line(*xy):
    return LineString([(X0 + x, Y0 + y) for x, y in xy])


def _sites(xy, radius, crs=TM):
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return gpd.GeoDataFrame(
        {
            "site_id": [f"s{i}" for i in range(len(xy))],
            "operator": ["China Mobile"] * len(xy),
            "band": ["3.5GHz"] * len(xy),
            "radius_m": np.broadcast_to(np.asarray(radius, dtype=float), len(xy)),
        },
        geometry=gpd.points_from_xy(X0 + xy[:, 0], Y0 + xy[:, 1]),
        crs=crs,
    )


def _cities(*boxes):
    return gpd.GeoDataFrame(
        {"name_zh": [f"c{i}" for i in range(len(boxes))]},
        geometry=[box(X0 + a, Y0 + b, X0 + c, Y0 + d) for a, b, c, d in boxes],
        crs=TM,
        index=pd.Index([320100 + 100 * i for i in range(len(boxes))], name="adcode"),
    )


def _gap_runs(result):
    return result.gaps[["start_m", "end_m"]].to_numpy().round(6).tolist()


# ------------------------------------------------------------------ hand-checkable


def test_straight_10km_road_with_two_sites():
    roads = _roads(_line((0, 0), (10_000, 0)))
    sites = _sites([(2000, 0), (7000, 0)], [1000, 500])
    result = road_coverage(roads, sites, settings=SETTINGS, crs=TM, min_gap_m=0)
    total = result.total.loc["total"]
    assert total["length_km"] == pytest.approx(10.0)
    assert total["covered_km"] == pytest.approx(3.0)
    assert total["gap_km"] == pytest.approx(7.0)
    assert total["coverage_pct"] == pytest.approx(30.0)
    assert _gap_runs(result) == [[0, 1000], [3000, 6500], [7500, 10_000]]
    assert result.gaps["length_m"].tolist() == pytest.approx([1000, 3500, 2500])
    assert result.covered["length_m"].sum() == pytest.approx(3000)


def test_site_off_the_road_covers_its_chord():
    roads = _roads(_line((0, 0), (10_000, 0)))
    sites = _sites([(5000, 600)], 1000)  # chord half-length sqrt(1000² - 600²) = 800
    result = road_coverage(roads, sites, settings=SETTINGS, crs=TM)
    assert result.total.loc["total", "covered_km"] == pytest.approx(1.6)
    assert _gap_runs(result) == [[0, 4200], [5800, 10_000]]


def test_overlapping_sites_count_once_and_full_cover_has_no_gaps():
    roads = _roads(_line((0, 0), (3000, 0)))
    sites = _sites([(0, 0), (500, 0), (1000, 0), (2000, 0), (3000, 0)], 600)
    result = road_coverage(roads, sites, settings=SETTINGS, crs=TM)
    assert result.total.loc["total", "covered_km"] == pytest.approx(3.0)
    assert result.gaps.empty
    assert len(result.covered) == 1


def test_farther_site_with_larger_reach_is_not_missed():
    # The nearest site (20 m away, reach 10 m) does not cover the midpoint; the one
    # 900 m away with a 1 km reach does. Radius binning must find it.
    roads = _roads(_line((0, 0), (100, 0)))
    sites = _sites([(50, 20), (50, 900)], [10.0, 1000.0])
    result = road_coverage(roads, sites, settings=SETTINGS, crs=TM)
    assert result.total.loc["total", "gap_km"] == pytest.approx(0.0, abs=1e-9)


def test_no_sites_everything_is_a_gap():
    roads = _roads(_line((0, 0), (4000, 0)))
    result = road_coverage(roads, _sites(np.empty((0, 2)), 1.0), settings=SETTINGS, crs=TM)
    assert result.total.loc["total", "gap_km"] == pytest.approx(4.0)
    assert _gap_runs(result) == [[0, 4000]]


def test_roads_crossing_city_borders_split_at_the_border():
    roads = _roads(_line((0, 0), (10_000, 0)), refs=["G2"])
    cities = _cities((-100, -100, 4000, 100), (4000, -100, 10_100, 100))
    sites = _sites([(3500, 0)], 1000)  # covers 2500–4500: across the border
    result = road_coverage(roads, sites, cities, settings=SETTINGS, crs=TM, min_gap_m=0)
    assert result.by_city["length_km"].to_dict() == pytest.approx({320100: 4.0, 320200: 6.0})
    assert result.by_city["covered_km"].to_dict() == pytest.approx({320100: 1.5, 320200: 0.5})
    assert result.by_city.index.name == "adcode"
    assert result.gaps["city_adcode"].tolist() == [320100, 320200]
    assert _gap_runs(result) == [[0, 2500], [4500, 10_000]]
    covered = result.covered.sort_values("start_m")
    assert covered["city_adcode"].tolist() == [320100, 320200]
    assert covered["length_m"].tolist() == pytest.approx([1500, 500])
    assert result.by_ref.loc["G2", "length_km"] == pytest.approx(10.0)


def test_stretches_outside_every_city_are_left_out():
    roads = _roads(_line((-5000, 0), (5000, 0)))
    cities = _cities((0, -100, 6000, 100))
    result = road_coverage(roads, _sites([(0, 0)], 1000), cities, settings=SETTINGS, crs=TM)
    assert result.total.loc["total", "length_km"] == pytest.approx(5.0)
    assert result.total.loc["total", "covered_km"] == pytest.approx(1.0)
    assert result.gaps["start_m"].min() == pytest.approx(6000.0)  # chainage from the road start


def test_road_leaving_and_reentering_a_city_gives_separate_runs():
    roads = _roads(_line((0, 0), (9000, 0)))
    city = gpd.GeoDataFrame(
        geometry=[
            box(X0 - 1, Y0 - 1, X0 + 3000, Y0 + 1).union(box(X0 + 6000, Y0 - 1, X0 + 9001, Y0 + 1))
        ],
        crs=TM,
        index=pd.Index([320100], name="adcode"),
    )
    result = road_coverage(roads, _sites(np.empty((0, 2)), 1.0), city, settings=SETTINGS, crs=TM)
    assert _gap_runs(result) == [[0, 3000], [6000, 9000]]


def test_min_gap_hides_short_runs_but_totals_count_them():
    roads = _roads(_line((0, 0), (2050, 0)))
    sites = _sites([(0, 0), (1025, 0), (2050, 0)], 500)  # two 25 m holes
    result = road_coverage(roads, sites, settings=SETTINGS, crs=TM, min_gap_m=100)
    assert result.total.loc["total", "gap_km"] == pytest.approx(0.05)
    assert result.gaps.empty
    everything = road_coverage(roads, sites, settings=SETTINGS, crs=TM, min_gap_m=0)
    assert everything.gaps["length_m"].tolist() == pytest.approx([25, 25])


def test_shared_stretch_counts_once_in_network_totals():
    a = _line((0, 0), (4000, 0), (8000, 0))
    b = _line((8000, 0), (4000, 0), (4000, 3000))  # shares 4–8 km with A, drawn backwards
    roads = _roads(a, b, refs=["G2", "G42"])
    result = road_coverage(roads, _sites(np.empty((0, 2)), 1.0), settings=SETTINGS, crs=TM)
    assert result.by_ref["length_km"].to_dict() == pytest.approx({"G2": 8.0, "G42": 7.0})
    assert result.total.loc["total", "length_km"] == pytest.approx(11.0)


def test_weight_halves_one_carriageway():
    roads = _roads(_line((0, 0), (1000, 0)), _line((0, 10), (1000, 10)), weight=[0.5, 0.5])
    result = road_coverage(roads, _sites(np.empty((0, 2)), 1.0), settings=SETTINGS, crs=TM)
    assert result.total.loc["total", "length_km"] == pytest.approx(1.0)


def test_multipart_and_closed_ring_roads():
    multi = MultiLineString([[(X0, Y0), (X0 + 1000, Y0)], [(X0 + 5000, Y0), (X0 + 6000, Y0)]])
    ring = _line((0, 10_000), (2000, 10_000), (2000, 12_000), (0, 12_000), (0, 10_000))
    roads = _roads(multi, ring, refs=["M", "RING"])
    cities = _cities((-100, -100, 1000, 13_000), (1000, -100, 7000, 13_000))
    sites = _sites([(5500, 0), (0, 10_000)], [100, 500])
    result = road_coverage(roads, sites, cities, settings=SETTINGS, crs=TM, min_gap_m=0)
    assert result.by_ref.loc["M", "length_km"] == pytest.approx(2.0)
    assert result.by_ref.loc["RING", "length_km"] == pytest.approx(8.0)
    assert result.by_ref.loc["M", "covered_km"] == pytest.approx(0.2)
    assert result.by_ref.loc["RING", "covered_km"] == pytest.approx(1.0)
    m = result.gaps[result.gaps["ref"] == "M"].sort_values("start_m")
    # chainage of the second part continues after the first (1000 m)
    np.testing.assert_allclose(
        m[["start_m", "end_m"]].to_numpy(), [[0, 1000], [1000, 1400], [1600, 2000]]
    )
    ring_gaps = result.gaps[result.gaps["ref"] == "RING"]
    assert ring_gaps["length_m"].sum() == pytest.approx(7000)
    assert set(ring_gaps["city_adcode"]) == {320100, 320200}


def test_run_geometries_follow_the_road():
    roads = _roads(_line((0, 0), (1000, 0), (1000, 1000)))
    runs = cover_lines(roads, [X0 + 1000], [Y0 + 500], [200.0])
    assert list(runs.columns) == list(RUN_COLUMNS)
    assert runs["covered"].tolist() == [False, True, False]
    assert shapely.length(runs.geometry.values) == pytest.approx(runs["length_m"].to_numpy())
    first = shapely.get_coordinates(runs.geometry.values[0]) - [X0, Y0]
    np.testing.assert_allclose(first, [[0, 0], [1000, 0], [1000, 300]], atol=1e-6)
    assert runs["length_m"].sum() == pytest.approx(2000)


def test_input_in_degrees_is_measured_in_metres():
    roads = _roads(_line((0, 0), (10_000, 0))).to_crs(4326)
    sites = _sites([(2000, 0)], 1000).to_crs(4326)
    result = road_coverage(roads, sites, settings=SETTINGS)  # default CRS from the roads
    assert result.total.loc["total", "length_km"] == pytest.approx(10.0, rel=1e-4)
    assert result.total.loc["total", "covered_km"] == pytest.approx(2.0, rel=1e-4)
    assert result.crs.is_projected and "Transverse Mercator" in result.crs.to_wkt()
    assert result.gaps.crs == result.crs


def test_layers_without_crs_are_refused():
    roads = _roads(_line((0, 0), (1000, 0)), crs=None)
    with pytest.raises(CRSError, match="no CRS"):
        road_coverage(roads, _sites([(0, 0)], 100), settings=SETTINGS, crs=TM)
    roads = _roads(_line((0, 0), (1000, 0)))
    with pytest.raises(CRSError, match="no CRS"):
        road_coverage(roads, _sites([(0, 0)], 100, crs=None), settings=SETTINGS, crs=TM)


def test_non_point_sites_are_refused():
    roads = _roads(_line((0, 0), (1000, 0)))
    sites = _sites([(0, 0)], 100).set_geometry([box(X0, Y0, X0 + 1, Y0 + 1)], crs=TM)
    with pytest.raises(DataError, match="single point"):
        road_coverage(roads, sites, settings=SETTINGS, crs=TM)


@pytest.mark.parametrize("radius", [0.0, -5.0, np.nan])
def test_cover_lines_rejects_bad_radii(radius):
    with pytest.raises(DataError, match="radius"):
        cover_lines(_roads(_line((0, 0), (10, 0))), [X0], [Y0], [radius])


def test_summarise_empty_runs():
    runs = cover_lines(_roads(_line((0, 0), (10, 0))), [], [], [])
    none = summarise(runs[:0])
    assert none.loc["total", "length_km"] == 0.0
    assert np.isnan(none.loc["total", "coverage_pct"])
    assert summarise(runs[:0], "ref").empty


# ------------------------------------------------------------------ accuracy


def _naive_gap_m(roads, x, y, r, quad_segs=256):
    cover = shapely.union_all(shapely.buffer(shapely.points(x, y), r, quad_segs=quad_segs))
    return float(shapely.length(shapely.difference(roads.geometry.values, cover)).sum())


def test_matches_buffer_union_difference_on_a_small_layout():
    rng = np.random.default_rng(7)
    roads = _roads(
        _line((0, 0), (6000, 2000), (12_000, 1000)),
        _line((3000, -4000), (5000, 6000)),
        _line((-2000, 5000), (14_000, 5000)),
    )
    x = X0 + rng.uniform(-2000, 14_000, 80)
    y = Y0 + rng.uniform(-4000, 6000, 80)
    r = rng.choice([300.0, 1000.0, 2500.0], 80)
    runs = cover_lines(roads, x, y, r)
    ours = runs.loc[~runs["covered"], "length_m"].sum()
    naive = _naive_gap_m(roads, x, y, r)
    assert ours == pytest.approx(naive, rel=0.005)
    assert ours == pytest.approx(naive, rel=1e-4)  # the polygonised circles are the difference


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    vertices=st.lists(
        st.tuples(st.floats(-3000, 3000), st.floats(-3000, 3000)), min_size=2, max_size=6
    ),
    sites=st.lists(
        st.tuples(st.floats(-3000, 3000), st.floats(-3000, 3000), st.floats(50, 1500)),
        min_size=0,
        max_size=25,
    ),
)
def test_property_exact_intervals_agree_with_buffers(vertices, sites):
    line = _line(*vertices)
    # a line doubling back over itself is two road-km per metre; a point set is one
    assume(line.length >= 1.0 and line.is_simple)
    roads = _roads(line)
    s = np.asarray(sites, dtype=float).reshape(-1, 3)
    runs = cover_lines(roads, X0 + s[:, 0], Y0 + s[:, 1], s[:, 2], piece_m=300.0)
    # invariants: runs tile the line, alternate, and lengths add up
    assert runs["length_m"].sum() == pytest.approx(line.length, rel=1e-9)
    assert np.allclose(runs["start_m"].to_numpy()[1:], runs["end_m"].to_numpy()[:-1])
    assert (runs["covered"].to_numpy()[1:] != runs["covered"].to_numpy()[:-1]).all()
    ours = runs.loc[~runs["covered"], "length_m"].sum()
    naive = _naive_gap_m(roads, X0 + s[:, 0], Y0 + s[:, 1], s[:, 2]) if len(s) else line.length
    assert abs(ours - naive) <= 0.005 * line.length


@settings(max_examples=25, deadline=None)
@given(
    sites=st.lists(st.tuples(st.floats(0, 10_000), st.floats(-800, 800)), max_size=15),
    extra=st.tuples(st.floats(0, 10_000), st.floats(-800, 800), st.floats(10, 900)),
)
def test_property_adding_a_site_never_adds_gaps(sites, extra):
    roads = _roads(_line((0, 0), (10_000, 0)))
    s = np.asarray(sites, dtype=float).reshape(-1, 2)
    r = np.full(len(s), 400.0)
    before = cover_lines(roads, X0 + s[:, 0], Y0 + s[:, 1], r)
    after = cover_lines(
        roads,
        np.r_[X0 + s[:, 0], X0 + extra[0]],
        np.r_[Y0 + s[:, 1], Y0 + extra[1]],
        np.r_[r, extra[2]],
    )
    gap = summarise(before).loc["total", "gap_km"]
    assert summarise(after).loc["total", "gap_km"] <= gap + 1e-9


# ------------------------------------------------------------------ RSU


def _rsu(xy, range_m=None, crs=TM):
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    data = {"rsu_id": [f"r{i}" for i in range(len(xy))]}
    if range_m is not None:
        data["range_m"] = range_m
    return gpd.GeoDataFrame(
        data, geometry=gpd.points_from_xy(X0 + xy[:, 0], Y0 + xy[:, 1]), crs=crs
    )


def test_rsu_overlapping_ranges_count_once():
    roads = _roads(_line((0, 0), (10_000, 0)), refs=["S19"])
    rsu = _rsu([(1000, 0), (1200, 0), (5000, 0)], [300.0, 300.0, 300.0])
    result = rsu_road_km(roads, rsu, settings=SETTINGS, crs=TM, target_km=300)
    assert result.total["rsu_km"] == pytest.approx(0.8 + 0.6)
    assert result.total["road_km"] == pytest.approx(10.0)
    assert result.total["shortfall_km"] == pytest.approx(300 - 1.4)
    assert result.total["meets_target"] == 0.0
    assert result.by_ref.loc["S19", "rsu_km"] == pytest.approx(1.4)
    assert result.equipped["length_m"].tolist() == pytest.approx([800, 600])


def test_rsu_default_range_and_per_rsu_override():
    roads = _roads(_line((0, 0), (10_000, 0)))
    rsu = _rsu([(2000, 0), (6000, 0)], [np.nan, 1000.0])
    result = rsu_road_km(roads, rsu, settings=SETTINGS, crs=TM)
    default = SETTINGS.rsu_range_m
    assert result.total["rsu_km"] == pytest.approx((2 * default + 2000) / 1000)
    assert np.isnan(result.total["target_km"])
    no_column = rsu_road_km(roads, _rsu([(2000, 0)]), settings=SETTINGS, crs=TM, target_km=0.1)
    assert no_column.total["rsu_km"] == pytest.approx(2 * default / 1000)
    assert no_column.total["meets_target"] == 1.0
    assert no_column.total["shortfall_km"] == 0.0


def test_rsu_per_city():
    roads = _roads(_line((0, 0), (10_000, 0)))
    cities = _cities((-100, -100, 4000, 100), (4000, -100, 10_100, 100))
    rsu = _rsu([(3900, 0)], [300.0])
    result = rsu_road_km(roads, rsu, cities, settings=SETTINGS, crs=TM)
    assert result.by_city["rsu_km"].to_dict() == pytest.approx({320100: 0.4, 320200: 0.2})
    assert result.by_city["road_km"].to_dict() == pytest.approx({320100: 4.0, 320200: 6.0})


def test_synthetic_rsu_is_reproducible_and_below_request():
    roads = _roads(_line((0, 0), (20_000, 0)), _line((0, 5000), (20_000, 5000)), refs=["G2", "G42"])
    cities = _cities((-100, -100, 10_000, 6000), (10_000, -100, 20_100, 6000))
    one = synthetic_rsu(roads, cities, {320100: 8.0}, spacing_m=500, range_m=300, seed=3)
    two = synthetic_rsu(roads, cities, {320100: 8.0}, spacing_m=500, range_m=300, seed=3)
    assert one.geometry.equals(two.geometry)
    assert one["synthetic"].all() and (one["city_adcode"] == 320100).all()
    assert one.crs.to_epsg() == 4326
    assert len(one) == 16  # 8 km / 500 m
    km = rsu_road_km(roads, one, cities, settings=SETTINGS).by_city["rsu_km"]
    # one 8 km stretch: 16 RSUs 500 m apart, each reaching 300 m → 15 × 500 + 2 × 300 m
    assert km.loc[320100] == pytest.approx(8.1)
    assert km.get(320200, 0.0) == pytest.approx(0.0)


def test_bundled_demo_rsu_falls_short_of_the_target():
    from geo5g.roads import read_demo_roads, read_demo_rsu

    rsu = read_demo_rsu("jiangsu")
    assert rsu["synthetic"].all()
    result = rsu_road_km(read_demo_roads("jiangsu"), rsu, target_km=300)
    assert 150 < result.total["rsu_km"] < 300
    assert result.total["shortfall_km"] > 0
    assert result.runs.attrs["schematic"]


def test_points_given_as_rsu_layer_must_be_points():
    roads = _roads(_line((0, 0), (1000, 0)))
    rsu = gpd.GeoDataFrame(
        {"rsu_id": ["a"]}, geometry=[LineString([(X0, Y0), (X0 + 1, Y0)])], crs=TM
    )
    with pytest.raises(DataError, match="single point"):
        rsu_road_km(roads, rsu, settings=SETTINGS, crs=TM)


def test_geometry_of_sites_in_other_crs_is_reprojected():
    roads = _roads(_line((0, 0), (10_000, 0)))
    sites = _sites([(5000, 0)], 1000).to_crs(3857)
    result = road_coverage(roads, sites, settings=SETTINGS, crs=TM)
    assert result.total.loc["total", "covered_km"] == pytest.approx(2.0, rel=1e-6)


# ------------------------------------------------------------------ prepared roads


def test_prepared_roads_are_shared_by_gaps_and_rsu():
    # a 10 km road across two cities, prepared once, measured for sites and for RSUs
    roads = _roads(_line((0, 0), (10_000, 0)), _line((0, 0), (0, 3000)), refs=["G2", "S1"])
    cities = _cities((-100, -100, 4000, 3100), (4000, -100, 10_100, 100))
    sites = _sites([(1000, 0), (6000, 50)], 500.0)
    rsu = _rsu([(3900, 0)], [300.0])
    net = prepare_roads(roads, cities, TM, piece_m=SETTINGS.piece_m)
    assert isinstance(net, PreparedRoads) and net.crs == TM
    gaps = road_coverage(net, sites, settings=SETTINGS, min_gap_m=0)
    plain = road_coverage(roads, sites, cities, settings=SETTINGS, crs=TM, min_gap_m=0)
    pd.testing.assert_frame_equal(gaps.by_city, plain.by_city)
    assert _gap_runs(gaps) == _gap_runs(plain)
    assert gaps.total["covered_km"].iloc[0] == pytest.approx(
        1.0 + 2 * np.sqrt(500**2 - 50**2) / 1e3
    )
    equipped = rsu_road_km(net, rsu, settings=SETTINGS)
    assert equipped.by_city["rsu_km"].to_dict() == pytest.approx({320100: 0.4, 320200: 0.2})
    again = cover_lines(net, [1000.0 + X0], [Y0], [500.0])
    assert again["length_m"].sum() == pytest.approx(13_000.0)
    assert again.loc[again["covered"], "length_m"].sum() == pytest.approx(1000.0)


def test_prepared_roads_without_cities_and_without_roads():
    net = prepare_roads(_roads(_line((0, 0), (10_000, 0))), crs=TM)
    runs = cover_lines(net, [X0 + 5000.0], [Y0], [1000.0])
    assert runs["city_adcode"].tolist() == [-1, -1, -1]
    assert runs["length_m"].tolist() == pytest.approx([4000, 2000, 4000])
    empty = prepare_roads(_roads(), crs=TM)
    assert len(cover_lines(empty, [X0], [Y0], [100.0])) == 0


def test_prepared_roads_bring_their_own_cities_and_crs():
    roads = _roads(_line((0, 0), (10_000, 0)))
    cities = _cities((-100, -100, 10_100, 100))
    net = prepare_roads(roads, cities, TM)
    with pytest.raises(DataError, match="come with the prepared roads"):
        cover_lines(net, [X0], [Y0], [100.0], cities)
    with pytest.raises(DataError, match="come with the prepared roads"):
        road_coverage(net, _sites([(0, 0)], 100.0), cities, settings=SETTINGS)
    with pytest.raises(DataError, match="come with the prepared roads"):
        rsu_road_km(net, _rsu([(0, 0)]), crs=TM, settings=SETTINGS)


def test_given_site_coordinates_and_reach_are_used_as_they_are():
    roads = _roads(_line((0, 0), (10_000, 0)))
    sites = _sites([(1000, 0), (6000, 0)], 100.0)
    x, y = X0 + np.array([1000.0, 6000.0]), np.full(2, Y0)
    result = road_coverage(
        roads, sites, settings=SETTINGS, crs=TM, xy=(x, y), reach_m=[500.0, 1000.0]
    )
    assert result.total["covered_km"].iloc[0] == pytest.approx(3.0)
    with pytest.raises(CRSError, match="xy needs the crs"):
        road_coverage(roads, sites, settings=SETTINGS, xy=(x, y))
    with pytest.raises(DataError, match="one coordinate pair per site"):
        road_coverage(roads, sites, settings=SETTINGS, crs=TM, xy=(x[:1], y[:1]))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(-50, 50), max_size=30),
    st.lists(st.integers(-50, 50), max_size=30),
)
def test_property_merged_edges_are_the_sorted_distinct_union(static, extra):
    static = np.unique(np.asarray(static, dtype="float64") / 4)
    extra = np.asarray(extra, dtype="float64") / 4
    expected = np.unique(np.concatenate([static, extra]))
    merged, owner = _merged_edges(static, extra)
    assert merged.tolist() == expected.tolist()
    # the last static edge at or before each merged edge (-1 before the first)
    assert owner.tolist() == (np.searchsorted(static, merged, side="right") - 1).tolist()
