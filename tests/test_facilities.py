"""Tests for geo5g.facilities: port coverage (points and areas)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pyproj import CRS
from shapely import Point, box

from geo5g.coverage import load_settings
from geo5g.errors import CRSError
from geo5g.facilities import PORT_COLUMNS, port_coverage, summarise_ports

TM = CRS.from_proj4(
    "+proj=tmerc +lat_0=0 +lon_0=118 +k=1 +x_0=500000 +y_0=0 +datum=WGS84 +units=m +no_defs"
)
X0, Y0 = 500_000.0, 3_500_000.0
SETTINGS = load_settings()


def _sites(xy, radius, operators=None, crs=TM):
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    n = len(xy)
    return gpd.GeoDataFrame(
        {
            "site_id": [f"s{i}" for i in range(n)],
            "operator": operators or ["China Mobile"] * n,
            "band": ["3.5GHz"] * n,
            "radius_m": np.broadcast_to(np.asarray(radius, dtype=float), n),
        },
        geometry=gpd.points_from_xy(X0 + xy[:, 0], Y0 + xy[:, 1]),
        crs=crs,
    )


def _ports(geoms, crs=TM):
    moved = [shapely.affinity.translate(g, X0, Y0) for g in geoms]
    return gpd.GeoDataFrame(
        {
            "port_id": [f"p{i}" for i in range(len(geoms))],
            "name": [f"port {i}" for i in range(len(geoms))],
        },
        geometry=moved,
        crs=crs,
    )


def test_port_exactly_at_reach_is_covered():
    sites = _sites([(0, 0)], 500)
    ports = _ports([Point(500, 0), Point(0, -500), Point(500.01, 0)])
    table = port_coverage(ports, sites, settings=SETTINGS, crs=TM)
    assert table["covered"].tolist() == [True, True, False]
    assert table["distance_m"].to_numpy() == pytest.approx([500, 500, 500.01])
    assert table["status"].tolist() == ["covered", "covered", "not covered"]
    assert list(table.index) == ["p0", "p1", "p2"] and table.index.name == "port_id"
    assert set(PORT_COLUMNS) <= set(table.columns)


def test_serving_and_nearest_sites():
    # the nearest site (100 m, reach 50 m) does not serve; the 900 m one (reach 1 km) does
    sites = _sites([(100, 0), (900, 0)], [50.0, 1000.0], ["China Unicom", "China Telecom"])
    table = port_coverage(_ports([Point(0, 0)]), sites, settings=SETTINGS, crs=TM)
    row = table.loc["p0"]
    assert row["covered"]
    assert row["nearest_site_id"] == "s0"
    assert row["distance_m"] == pytest.approx(100.0)
    assert row["serving_site_id"] == "s1"
    assert row["serving_operator"] == "China Telecom"
    assert row["serving_reach_m"] == 1000.0


def test_of_two_covering_sites_the_nearer_serves():
    sites = _sites([(300, 0), (-100, 0)], 1000.0)
    table = port_coverage(_ports([Point(0, 0)]), sites, settings=SETTINGS, crs=TM)
    assert table.loc["p0", "serving_site_id"] == "s1"


def test_area_share_matches_exact_geometry():
    area = box(0, 0, 2000, 1000)
    sites = _sites([(0, 0), (2000, 1000)], [800.0, 600.0])
    table = port_coverage(_ports([area]), sites, settings=SETTINGS, crs=TM)
    disks = shapely.union_all(
        shapely.buffer(shapely.points([X0, X0 + 2000], [Y0, Y0 + 1000]), [800, 600], quad_segs=256)
    )
    exact = (
        shapely.area(shapely.intersection(shapely.affinity.translate(area, X0, Y0), disks))
        / area.area
    )
    row = table.loc["p0"]
    assert row["kind"] == "area"
    assert row["covered_share"] == pytest.approx(exact, abs=0.01)
    assert row["status"] == "partial" and not row["covered"]
    assert row["serving_site_id"] == "s0"  # covers the larger part
    assert row["distance_m"] == 0.0  # a site on the area's corner


def test_area_mostly_covered_counts_as_covered():
    table = port_coverage(
        _ports([box(-100, -100, 100, 100)]), _sites([(0, 0)], 1000.0), settings=SETTINGS, crs=TM
    )
    assert table.loc["p0", "covered_share"] == 1.0
    assert table.loc["p0", "covered"]


def test_distance_to_an_area_is_to_its_edge():
    table = port_coverage(
        _ports([box(0, 0, 100, 100)]), _sites([(400, 50)], 100.0), settings=SETTINGS, crs=TM
    )
    assert table.loc["p0", "distance_m"] == pytest.approx(300.0)
    assert table.loc["p0", "status"] == "not covered"


def test_thin_area_share_is_geometric():
    # a 1 km sliver with a 50 m-reach site on it: 100 m of its length is covered
    sliver = box(0, 0, 1000, 0.01)
    table = port_coverage(_ports([sliver]), _sites([(500, 0)], 50.0), settings=SETTINGS, crs=TM)
    assert table.loc["p0", "covered_share"] == pytest.approx(0.1, abs=1e-3)
    assert table.loc["p0", "status"] == "partial"
    assert table.loc["p0", "serving_site_id"] == "s0"


def test_no_sites_means_nothing_covered():
    sites = _sites(np.empty((0, 2)), 1.0)
    table = port_coverage(
        _ports([Point(0, 0), box(0, 0, 10, 10)]), sites, settings=SETTINGS, crs=TM
    )
    assert not table["covered"].any()
    assert table["distance_m"].isna().all()
    assert table["serving_site_id"].isna().all()


def test_ports_in_degrees_use_a_metric_crs():
    sites = _sites([(0, 0)], 1000.0).to_crs(4326)
    ports = _ports([Point(999, 0), Point(1001, 0)]).to_crs(4326)
    table = port_coverage(ports, sites, settings=SETTINGS)
    assert table["covered"].tolist() == [True, False]
    assert table.crs.to_epsg() == 4326  # the ports keep their own CRS


def test_ports_without_crs_are_refused():
    with pytest.raises(CRSError, match="no CRS"):
        port_coverage(_ports([Point(0, 0)], crs=None), _sites([(0, 0)], 1.0), crs=TM)


@pytest.mark.parametrize(
    ("covered", "status", "expected"),
    [
        (
            [True, False, False, True],
            ["covered", "partial", "not covered", "covered"],
            (4, 2, 1, 50.0),
        ),
        ([], [], (0, 0, 0, np.nan)),
    ],
)
def test_summarise_ports(covered, status, expected):
    table = pd.DataFrame(
        {"covered": pd.array(covered, dtype=bool), "status": pd.array(status, dtype=str)}
    )
    summary = summarise_ports(table)
    got = (summary["n_ports"], summary["n_covered"], summary["n_partial"], summary["covered_pct"])
    np.testing.assert_equal(got, expected)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-500, 1500), st.floats(-500, 1500), st.floats(100, 800)),
        min_size=1,
        max_size=6,
    )
)
@example([(0.0, 403.0, 515.0), (213.0, 5.0, 440.0)])  # 2 % off with a 500-point grid
def test_property_area_share_close_to_exact(sites):
    s = np.asarray(sites, dtype=float)
    area = box(0, 0, 1000, 1000)
    table = port_coverage(_ports([area]), _sites(s[:, :2], s[:, 2]), settings=SETTINGS, crs=TM)
    disks = shapely.union_all(
        shapely.buffer(shapely.points(X0 + s[:, 0], Y0 + s[:, 1]), s[:, 2], quad_segs=128)
    )
    exact = shapely.area(shapely.intersection(shapely.affinity.translate(area, X0, Y0), disks))
    share = table.loc["p0", "covered_share"]
    assert share == pytest.approx(exact / area.area, abs=1e-3)  # geometric, 64-gon disks
    assert table.loc["p0", "covered"] == (share >= SETTINGS.port_min_share)


def test_given_site_coordinates_and_reach_give_the_same_table():
    sites = _sites([(0, 0), (2000, 0)], 500)
    ports = _ports([Point(400, 0), box(1800, -100, 2600, 100), Point(5000, 0)])
    plain = port_coverage(ports, sites, settings=SETTINGS, crs=TM)
    xy = (X0 + np.array([0.0, 2000.0]), np.full(2, Y0))
    given_ = port_coverage(ports, sites, settings=SETTINGS, crs=TM, xy=xy, reach_m=[500.0] * 2)
    pd.testing.assert_frame_equal(pd.DataFrame(given_), pd.DataFrame(plain))
    # a larger reach given for the first site reaches the far port
    wider = port_coverage(ports, sites, settings=SETTINGS, crs=TM, xy=xy, reach_m=[5000.0, 500.0])
    assert wider.loc["p2", "covered"] and wider.loc["p2", "serving_site_id"] == "s0"
    with pytest.raises(CRSError, match="xy needs the crs"):
        port_coverage(ports, sites, settings=SETTINGS, xy=xy)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-3e5, 3e5), st.floats(-3e5, 3e5)), min_size=1, max_size=40),
    st.lists(
        st.tuples(st.floats(-2e5, 2e5), st.floats(-2e5, 2e5), st.sampled_from([0.0, 400.0])),
        min_size=1,
        max_size=5,
    ),
)
def test_widening_nearest_search_equals_brute_force(sites, ports):
    # sites from metres to hundreds of km away: every step of the widening search is used
    from geo5g.facilities import _nearest_sites

    xy = np.asarray(sites, dtype=float)
    geoms = np.array(
        [box(x, y, x + w, y + w) if w else shapely.Point(x, y) for x, y, w in ports], dtype=object
    )
    distance, nearest = _nearest_sites(geoms, xy[:, 0], xy[:, 1])
    exact = shapely.distance(geoms[:, None], shapely.points(xy)[None, :])
    np.testing.assert_allclose(distance, exact.min(axis=1), rtol=0, atol=1e-6)
    np.testing.assert_allclose(exact[np.arange(len(geoms)), nearest], distance, atol=1e-6)
