"""Lengths that hold anywhere in China: local conformal zones with their scale factors.

Roads and sites are placed at China's corners (53°, 40° and 18° N; 75° and 134° E) and
measured by the pipeline the CLI runs; road km, gap km and port distances are checked
against the geodesic (pyproj.Geod on WGS-84) within 0.1 %.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyproj import Geod, Proj, Transformer

from geo5g.pipeline import Request, run
from geo5g.project import MAX_ZONE_WIDTH_DEG, measure_frame, split_lines

GEOD = Geod(ellps="WGS84")
PLACES = [(75.2, 53.0), (75.2, 40.0), (75.2, 18.0), (134.6, 53.0), (134.6, 40.0), (134.6, 18.0)]
REACH = 1_000.0  # metres, given per site (radius_m)
SPACING = 2_200.0  # sites 2.2 reaches apart: 2 km of every 2.2 km covered (90.9 %)
N_SITES = 12
ROAD_M = 30_000.0


def _layout(tmp_path):
    """Per place: a 30 km road due north, sites on it, a port 5 km east of a site."""
    zones, roads, sites, ports, truth = [], [], [], [], []
    for k, (lon, lat) in enumerate(PLACES):
        n = 301
        lons, lats, _ = GEOD.fwd(
            np.full(n, lon), np.full(n, lat), np.zeros(n), np.linspace(0, ROAD_M, n)
        )
        roads.append(
            {
                "type": "Feature",
                "properties": {"ref": f"R{k}", "name": f"road {k}"},
                "geometry": {"type": "LineString", "coordinates": np.c_[lons, lats].tolist()},
            }
        )
        # sites on the road from 1.5 km on, every SPACING metres
        along = 1_500.0 + SPACING * np.arange(N_SITES)
        slon, slat, _ = GEOD.fwd(
            np.full(N_SITES, lon), np.full(N_SITES, lat), np.zeros(N_SITES), along
        )
        sites += [
            (f"S{k}-{i}", a, b, REACH) for i, (a, b) in enumerate(zip(slon, slat, strict=True))
        ]
        plon, plat, _ = GEOD.fwd(slon[3], slat[3], 90.0, 5_000.0)
        ports.append((f"P{k}", plon, plat))
        covered = 2 * REACH * N_SITES  # the disks do not overlap and lie on the road
        truth.append({"road_m": GEOD.line_length(lons, lats), "covered_m": covered})
        pad = 0.5
        box = [[lon - pad, lat - pad], [lon + pad, lat - pad], [lon + pad, lat + pad]]
        box += [[lon - pad, lat + pad], [lon - pad, lat - pad]]
        zones.append(
            {
                "type": "Feature",
                "properties": {"adcode": 110101 + k, "name_zh": f"区{k}"},
                "geometry": {"type": "Polygon", "coordinates": [box]},
            }
        )

    def collection(features):
        return json.dumps({"type": "FeatureCollection", "features": features})

    (tmp_path / "zones.geojson").write_text(collection(zones), encoding="utf-8")
    (tmp_path / "roads.geojson").write_text(collection(roads), encoding="utf-8")
    site_csv = "site_id,lon,lat,radius_m\n" + "".join(
        f"{a},{b:.10f},{c:.10f},{d}\n" for a, b, c, d in sites
    )
    (tmp_path / "sites.csv").write_text(site_csv, encoding="utf-8")
    port_csv = "port_id,name,lon,lat\n" + "".join(
        f"{a},{a},{b:.10f},{c:.10f}\n" for a, b, c in ports
    )
    (tmp_path / "ports.csv").write_text(port_csv, encoding="utf-8")
    return truth


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("corners")
    truth = _layout(tmp_path)
    done = run(
        Request(
            province="all",
            boundaries=tmp_path / "zones.geojson",
            sites=tmp_path / "sites.csv",
            roads=tmp_path / "roads.geojson",
            ports=tmp_path / "ports.csv",
            min_gap_m=0.0,
        ),
        "gaps",
    )
    return done, truth


def test_the_frame_spans_several_zones(measured):
    done, _ = measured
    assert len(done.geometry.frame.zones) == 11  # 75–135°E in zones ≤ 6° wide


@pytest.mark.parametrize("k", range(len(PLACES)))
def test_road_and_gap_km_are_geodesic(measured, k):
    done, truth = measured
    by_ref = done.gaps.by_ref.loc[f"R{k}"]
    road_m = truth[k]["road_m"]
    gap_m = road_m - truth[k]["covered_m"]
    assert by_ref["length_km"] * 1000 == pytest.approx(road_m, rel=1e-3)
    assert by_ref["gap_km"] * 1000 == pytest.approx(gap_m, rel=1e-3), PLACES[k]


@pytest.mark.parametrize("k", range(len(PLACES)))
def test_port_distances_are_geodesic(measured, k):
    done, _ = measured
    assert done.ports.loc[f"P{k}", "distance_m"] == pytest.approx(5_000.0, rel=1e-3)


def test_without_the_scale_factor_the_edges_would_be_off():
    """The correction matters: at a 6° zone's edge at 18° N a km in the zone is 0.12 % long."""
    zone = measure_frame((104.0, 10.0, 110.0, 20.0)).zones[0]
    to_zone = Transformer.from_crs(4326, zone.crs, always_xy=True)
    x, y = to_zone.transform(zone.lon0 + 3.0, 18.0)
    k = float(zone.scale(np.array([x]), np.array([y]))[0])
    assert k - 1 > 1e-3


@given(
    st.floats(min_value=70.0, max_value=136.0),
    st.floats(min_value=0.0, max_value=55.0),
    st.floats(min_value=-3.2, max_value=3.2),
)
def test_scale_factor_equals_projs(lon0, lat, dlon):
    zone = measure_frame((lon0 - 1, lat, lon0 + 1, lat + 0.1)).zones[0]
    to_zone = Transformer.from_crs(4326, zone.crs, always_xy=True)
    x, y = to_zone.transform(zone.lon0 + dlon, lat)
    ours = float(zone.scale(np.array([x]), np.array([y]))[0])
    proj = Proj(zone.crs).get_factors(zone.lon0 + dlon, lat).meridional_scale
    assert ours == pytest.approx(proj, abs=1e-9)


def test_scale_factor_of_arrays_in_slices_equals_projs(monkeypatch):
    """The compiled kernel on both cores: every slice, NaN kept, shape kept."""
    from geo5g import _tmerc

    monkeypatch.setattr(_tmerc, "_POINTS_PER_THREAD", 7)  # several slices on a small array
    monkeypatch.setattr(_tmerc, "_compiled", lambda n: True)  # the kernel, not NumPy
    zone = measure_frame((118.0, 18.0, 124.0, 54.0)).zones[0]
    lon = np.linspace(zone.lon0 - 3.2, zone.lon0 + 3.2, 41)
    lat = np.linspace(18.0, 54.0, 41)
    x, y = Transformer.from_crs(4326, zone.crs, always_xy=True).transform(lon, lat)
    x, y = np.append(x, np.nan), np.append(y, 3e6)
    ours = zone.scale(x.reshape(2, 21), y.reshape(2, 21))
    assert ours.shape == (2, 21)
    proj = Proj(zone.crs).get_factors(lon, lat).meridional_scale
    np.testing.assert_allclose(ours.ravel()[:-1], proj, rtol=0, atol=1e-9)
    assert np.isnan(ours.ravel()[-1])
    monkeypatch.setattr(_tmerc, "_compiled", lambda n: False)  # NumPy: the same factors
    np.testing.assert_allclose(zone.scale(x, y), ours.ravel(), rtol=0, atol=1e-15)


def test_zone_widths():
    for bounds in [(73.5, 18, 135.1, 53.6), (97.3, 26, 108.5, 34.3), (116.4, 30.8, 121.9, 35.1)]:
        frame = measure_frame(bounds)
        widths = [z.east - z.west for z in frame.zones]
        assert max(widths) <= MAX_ZONE_WIDTH_DEG + 1e-9


def test_split_lines_continues_chainage(tmp_path):
    import geopandas as gpd
    import shapely

    lons = np.linspace(76.0, 96.0, 201)
    lats = np.full_like(lons, 40.0)
    layer = gpd.GeoDataFrame(
        {"ref": ["A"]}, geometry=[shapely.LineString(np.c_[lons, lats])], crs=4326
    )
    parts = split_lines(measure_frame((73.5, 18, 135.1, 53.6)), layer)
    pieces = [p for p in parts if len(p)]
    assert len(pieces) == 5  # the road crosses four zone edges (79.1, 84.7, 90.3, 95.9°E)
    offsets = [float(p["chain_offset_m"].iloc[0]) for p in pieces]
    assert offsets[0] == 0.0 and offsets == sorted(offsets)
    # the last piece starts at the vertex 95.9°E, after the ellipsoidal length of the rest
    assert offsets[-1] == pytest.approx(GEOD.line_length(lons[:200], lats[:200]), rel=1e-6)


def test_a_remote_port_gets_its_nearest_site_across_a_zone_edge(tmp_path):
    """A port in a zone without sites, near its edge: the nearest site is in the next zone.

    The frame of 100–112°E has two zones, edge 106°E. The port lies just west of the
    edge; A (north-east, about 225 km) and B (due east, about 125 km) lie east of it.
    A lies within the search radius's longitude span (about 1.1°), B beyond it: the
    nearest is B, not the first site the longitude strip offers.
    """
    from geo5g.pipeline import load, measure_ports, project, reach

    lat = 30.0
    port = (105.95, lat)
    a = (106.25, lat + 2.0)
    b = (107.25, lat)
    box = [[100, 28], [112, 28], [112, 34], [100, 34], [100, 28]]
    zones = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"adcode": 510100, "name_zh": "区"},
                "geometry": {"type": "Polygon", "coordinates": [box]},
            }
        ],
    }
    (tmp_path / "zones.geojson").write_text(json.dumps(zones), encoding="utf-8")
    (tmp_path / "sites.csv").write_text(
        f"site_id,lon,lat,radius_m\nA,{a[0]},{a[1]},1000\nB,{b[0]},{b[1]},1000\n",
        encoding="utf-8",
    )
    (tmp_path / "ports.csv").write_text(
        f"port_id,name,lon,lat\nP,P,{port[0]},{port[1]}\n", encoding="utf-8"
    )
    request = Request(
        province="all",
        boundaries=tmp_path / "zones.geojson",
        sites=tmp_path / "sites.csv",
        ports=tmp_path / "ports.csv",
    )
    inputs = load(request, ("sites", "ports"))
    geometry = project(inputs)
    assert [z.west for z in geometry.frame.zones[1:]] == [106.0]
    ports = measure_ports(inputs, geometry, reach(inputs, geometry))
    _, _, to_b = GEOD.inv(*port, *b)
    assert ports.loc["P", "nearest_site_id"] == "B"
    assert ports.loc["P", "distance_m"] == pytest.approx(to_b, rel=1e-3)


def test_cut_roads_record_their_longitudes(measured):
    """Each zone's cut roads carry their longitude span (RSU zone lists use it): it holds
    the span of the zone's prepared network, as projecting the network back gives it."""
    from geo5g.pipeline import _extents

    done, _ = measured
    recorded = _extents(done.gaps.networks, done.geometry.roads)
    projected = _extents(done.gaps.networks)
    assert sum(e is not None for e in recorded) == 2  # roads at 75.2° and 134.6° E only
    for got, back in zip(recorded, projected, strict=True):
        assert (got is None) == (back is None)
        if got is not None:
            assert got[0] <= back[0] + 1e-9 and back[1] <= got[1] + 1e-9


@given(
    lon0=st.floats(73.0, 135.0),
    lat=st.lists(st.floats(-56.0, 56.0), min_size=1, max_size=20),
    dlon=st.lists(st.floats(-12.0, 12.0), min_size=1, max_size=20),
)
def test_zone_forward_equals_projs_exact_tmerc(lon0, lat, dlon):
    """Within 4° of the central meridian the fast series is within 0.1 mm of PROJ's exact
    transverse Mercator; beyond, the exact one is used (the same numbers)."""
    zone = measure_frame((lon0 - 0.5, 0.0, lon0 + 0.5, 1.0)).zones[0]
    n = min(len(lat), len(dlon))
    lon = zone.lon0 + np.asarray(dlon[:n])
    lat = np.asarray(lat[:n])
    x, y = zone.forward(lon, lat)
    ex, ey = Transformer.from_crs(4326, zone.crs, always_xy=True).transform(lon, lat)
    near = np.abs(lon - zone.lon0) <= 4.0
    assert np.all(np.hypot(x - ex, y - ey)[near] <= 1e-4)
    assert np.array_equal(x[~near], ex[~near]) and np.array_equal(y[~near], ey[~near])


def test_zone_forward_keeps_nan():
    zone = measure_frame((100.0, 20.0, 101.0, 21.0)).zones[0]
    x, y = zone.forward([np.nan, 100.5], [20.0, np.nan])
    assert np.isnan(x[0]) and np.isnan(y[0]) and np.isnan(y[1])


@given(
    lon0=st.floats(73.0, 135.0),
    lat=st.lists(st.floats(-56.0, 56.0), min_size=1, max_size=20),
    dlon=st.lists(st.floats(-12.0, 12.0), min_size=1, max_size=20),
)
def test_zone_inverse_equals_projs_exact_inverse(lon0, lat, dlon):
    """Back to degrees within 1e-9° (0.1 mm) of PROJ's exact inverse, anywhere."""
    zone = measure_frame((lon0 - 0.5, 0.0, lon0 + 0.5, 1.0)).zones[0]
    n = min(len(lat), len(dlon))
    exact = Transformer.from_crs(4326, zone.crs, always_xy=True)
    x, y = exact.transform(zone.lon0 + np.asarray(dlon[:n]), np.asarray(lat[:n]))
    lon, lat_back = zone.inverse(x, y)
    elon, elat = exact.transform(x, y, direction="INVERSE")
    assert np.all(np.abs(lon - elon) <= 1e-9) and np.all(np.abs(lat_back - elat) <= 1e-9)


def test_zone_layer_equals_to_metric():
    import geopandas as gpd
    import shapely

    from geo5g.project import to_metric

    zone = measure_frame((100.0, 20.0, 104.0, 24.0)).zones[0]
    lines = gpd.GeoDataFrame(
        {"ref": ["G1", "G2"]},
        geometry=[
            shapely.LineString([(101, 21), (102, 22)]),
            shapely.LineString([(100, 20), (100.5, 20.5), (106.5, 23)]),
        ],
        crs=4326,
    )
    lines.attrs["source"] = "roads.geojson"
    got, want = zone.layer(lines, "roads"), to_metric(lines, zone.crs, "roads")
    assert list(got.columns) == list(want.columns) and got.crs == want.crs
    assert got.attrs == want.attrs
    gap = shapely.get_coordinates(got.geometry.values) - shapely.get_coordinates(want.geometry)
    assert np.abs(gap).max() <= 1e-4
