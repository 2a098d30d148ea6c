"""Site tables (``read_sites(..., points=False)``): the same answers as point layers.

A site table carries the Sites contract's columns without a Point per site;
every function that takes sites must give exactly what it gives for the point
layer of the same sites.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine

from geo5g.coverage import load_settings, site_reach
from geo5g.errors import CRSError, DataError
from geo5g.facilities import port_coverage
from geo5g.hexbin import hexbin
from geo5g.popcover import covered_population
from geo5g.project import is_site_table, metric_crs, metric_xy, require_crs, table_crs
from geo5g.sites import read_sites, site_points, sites_from_arrays, write_sites
from geo5g.zones import assign_zones

LON0, LAT0 = 118.8, 32.05  # Nanjing


def _columns(n, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "site_id": [f"S{i}" for i in range(n)],
        "operator": ["China Mobile"] * n,
        "band": ["3.5GHz" if i % 2 else "700MHz" for i in range(n)],
        "radius_m": np.full(n, np.nan),
        "commissioned": np.full(n, np.datetime64("2023-01-01"), dtype="datetime64[ns]"),
        "lon": LON0 + rng.uniform(-0.05, 0.05, n),
        "lat": LAT0 + rng.uniform(-0.05, 0.05, n),
    }


@pytest.fixture
def pair():
    cols = _columns(200)
    layer = sites_from_arrays(**cols, source="t", synthetic=True)
    table = sites_from_arrays(**cols, source="t", synthetic=True, points=False)
    return layer, table


def test_table_shape_and_attrs(pair):
    layer, table = pair
    assert type(table) is pd.DataFrame
    assert is_site_table(table) and not is_site_table(layer)
    assert list(table.columns) == [c for c in layer.columns if c != "geometry"]
    assert table.attrs == {"source": "t", "synthetic": True, "crs": "EPSG:4326"}
    pd.testing.assert_frame_equal(table, pd.DataFrame(layer.drop(columns="geometry")))


def test_read_sites_points_false(tmp_path, pair):
    layer, _ = pair
    path = write_sites(layer, tmp_path / "s.parquet")
    table = read_sites(path, points=False)
    back = read_sites(path)
    assert is_site_table(table) and isinstance(back, gpd.GeoDataFrame)
    pd.testing.assert_frame_equal(table, pd.DataFrame(back.drop(columns="geometry")))
    assert table.attrs["crs"] == "EPSG:4326" and table.attrs["synthetic"] is True


def test_site_points_round_trip(pair):
    layer, table = pair
    points = site_points(table)
    assert isinstance(points, gpd.GeoDataFrame) and points.crs.to_epsg() == 4326
    assert shapely.equals(points.geometry.values, layer.geometry.values).all()
    assert "crs" not in points.attrs and points.attrs["source"] == "t"
    assert site_points(layer) is layer


def test_write_sites_from_table(tmp_path, pair):
    layer, table = pair
    back = read_sites(write_sites(table, tmp_path / "t.parquet"))
    assert np.array_equal(back["lon"], layer["lon"]) and np.array_equal(back["lat"], layer["lat"])


@pytest.mark.parametrize("crs", [None, "EPSG:3857"])
def test_table_without_wgs84_crs_is_refused(pair, crs):
    _, table = pair
    table = table.copy()
    table.attrs = {k: v for k, v in table.attrs.items() if k != "crs"}
    if crs is not None:
        table.attrs["crs"] = crs
    with pytest.raises(CRSError, match=r"never guesses|must be WGS-84"):
        require_crs(table, "sites")
    with pytest.raises(CRSError):
        table_crs(table)
    with pytest.raises(CRSError):
        site_points(table)


def test_site_points_rejects_other_frames():
    with pytest.raises(DataError, match="lon and lat"):
        site_points(pd.DataFrame({"x": [1.0]}))


def test_attrs_survive_filter_and_assign(pair):
    _, table = pair
    sub = table[table["band"] == "3.5GHz"].assign(adcode=1)
    assert sub.attrs["crs"] == "EPSG:4326" and is_site_table(sub)


def test_metric_xy_same_numbers(pair):
    layer, table = pair
    crs = metric_crs((LON0 - 1, LAT0 - 1, LON0 + 1, LAT0 + 1))
    for a, b in zip(metric_xy(layer, crs, "l"), metric_xy(table, crs, "t"), strict=True):
        np.testing.assert_array_equal(a, b)


def test_assign_zones_same(pair):
    layer, table = pair
    zones = gpd.GeoDataFrame(
        {"name": ["w", "e"]},
        geometry=[
            shapely.box(LON0 - 0.1, LAT0 - 0.1, LON0, LAT0 + 0.1),
            shapely.box(LON0, LAT0 - 0.1, LON0 + 0.1, LAT0 + 0.1),
        ],
        index=pd.Index([320101, 320102], name="adcode"),
        crs="EPSG:4326",
    )
    pd.testing.assert_series_equal(assign_zones(layer, zones), assign_zones(table, zones))
    # zones in metres: the table's lon/lat are transformed to them
    crs = metric_crs(zones.total_bounds)
    pd.testing.assert_series_equal(
        assign_zones(layer.to_crs(crs), zones.to_crs(crs)),
        assign_zones(table, zones.to_crs(crs)),
    )


def test_site_reach_and_ports_same(pair):
    layer, table = pair
    settings = load_settings()
    crs = metric_crs((LON0 - 1, LAT0 - 1, LON0 + 1, LAT0 + 1))
    for a, b in zip(
        site_reach(layer, crs, settings), site_reach(table, crs, settings), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    ports = gpd.GeoDataFrame(
        {"port_id": ["P1", "P2"], "name": ["a", "b"]},
        geometry=[shapely.Point(LON0, LAT0), shapely.Point(LON0 + 0.5, LAT0)],
        crs="EPSG:4326",
    )
    pd.testing.assert_frame_equal(
        port_coverage(ports, layer, settings=settings),
        port_coverage(ports, table, settings=settings),
    )


def test_hexbin_same(pair):
    layer, table = pair
    a, b = hexbin(layer, 2000.0), hexbin(table, 2000.0)
    pd.testing.assert_frame_equal(
        pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
    )
    assert shapely.equals(a.geometry.values, b.geometry.values).all()


def test_popcover_same(pair):
    layer, table = pair
    pop = np.ones((120, 120))
    grid = Affine(0.001, 0.0, LON0 - 0.06, 0.0, -0.001, LAT0 + 0.06)
    a = covered_population(pop, layer, 300.0, transform=grid, crs="EPSG:4326")
    b = covered_population(pop, table, 300.0, transform=grid, crs="EPSG:4326")
    pd.testing.assert_frame_equal(a, b)
    assert 0 < b.loc["total", "covered"] < b.loc["total", "population"]
