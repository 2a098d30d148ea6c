"""Tests for geo5g.roads: road, port and RSU readers (incl. OSM PBF) ."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely import LineString, Point, box

from geo5g.errors import CRSError, DataError, InputError
from geo5g.roads import (
    read_demo_ports,
    read_demo_roads,
    read_demo_rsu,
    read_ports,
    read_roads,
    read_rsu,
)

HERE = Path(__file__).parent / "data" / "roads"
_spec = importlib.util.spec_from_file_location("make_tiny_pbf", HERE / "make_tiny_pbf.py")
tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny)


def _lines(crs="EPSG:4326", **columns):
    data = {"ref": ["G2", None], "name_zh": ["京沪高速", "无名路"], **columns}
    geoms = [LineString([(118, 32), (118.1, 32)]), LineString([(118, 32.1), (118.1, 32.1)])]
    return gpd.GeoDataFrame(data, geometry=geoms, crs=crs)


def _one_line_error(err) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


# ------------------------------------------------------------------ roads


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp", ".parquet"])
def test_read_roads_formats(tmp_path, suffix):
    path = tmp_path / f"roads{suffix}"
    gdf = _lines()
    if suffix == ".parquet":
        gdf.to_parquet(path)
    else:
        gdf.to_file(path)
    roads = read_roads(path)
    assert roads["ref"].tolist() == ["G2", "无名路"]  # missing ref falls back to the name
    assert roads["name"].tolist() == ["京沪高速", "无名路"]
    assert roads["schematic"].tolist() == [False, False]
    assert roads["weight"].tolist() == [1.0, 1.0]
    assert roads.crs.to_epsg() == 4326
    assert roads.attrs["source"] == path.name


def test_read_roads_keeps_schematic_flag_and_no_ref(tmp_path):
    gdf = _lines(schematic=[True, True])
    gdf["ref"] = None
    gdf["name_zh"] = [None, "x"]
    gdf.to_file(tmp_path / "r.gpkg")
    roads = read_roads(tmp_path / "r.gpkg")
    assert roads["ref"].tolist() == ["(no ref)", "x"]
    assert roads.attrs["schematic"]


def _check_tiny(roads):
    assert sorted(roads["ref"]) == ["G2", "S19", "无编号高速"]
    assert set(roads["highway"]) == {"motorway", "trunk_link"}
    by_ref = roads.set_index("ref")
    assert by_ref.loc["G2", "name"] == "京沪高速"
    assert by_ref.loc["G2", "weight"] == 0.5  # one carriageway (oneway=yes)
    assert by_ref.loc["无编号高速", "weight"] == 1.0
    assert not roads["schematic"].any()
    assert roads.crs.to_epsg() == 4326


def test_read_roads_from_committed_pbf():
    _check_tiny(read_roads(HERE / "tiny.osm.pbf"))


def test_read_roads_from_a_pbf_built_here(tmp_path):
    pytest.importorskip("osmium")
    path = tiny.write_tiny_pbf(tmp_path / "extract.osm.pbf")
    _check_tiny(read_roads(path))


def test_pbf_roads_feed_the_analysis():
    from geo5g.corridors import road_coverage

    roads = read_roads(HERE / "tiny.osm.pbf")
    sites = gpd.GeoDataFrame(
        {"site_id": ["a"], "band": ["3.5GHz"], "radius_m": [1000.0]},
        geometry=[Point(118.05, 32.0)],
        crs=4326,
    )
    result = road_coverage(roads, sites, urban=[False])
    g2 = result.by_ref.loc["G2"]
    # 0.1° of longitude at 32°N ≈ 9.45 km, counted at half weight (one carriageway)
    assert g2["length_km"] == pytest.approx(9.45 / 2, rel=0.01)
    assert g2["covered_km"] == pytest.approx(1.0, rel=1e-3)


def test_roads_without_crs(tmp_path):
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        _lines(crs=None).to_file(tmp_path / "nocrs.gpkg")
    with pytest.raises(CRSError) as err:
        read_roads(tmp_path / "nocrs.gpkg")
    assert _one_line_error(err).startswith("nocrs.gpkg: layer has no CRS")


def test_points_given_as_roads(tmp_path):
    pts = gpd.GeoDataFrame({"ref": ["a", "b"]}, geometry=[Point(0, 0), Point(1, 1)], crs=4326)
    pts.to_file(tmp_path / "pts.geojson")
    with pytest.raises(DataError) as err:
        read_roads(tmp_path / "pts.geojson")
    message = _one_line_error(err)
    assert "2 features are Point, not lines" in message and "features 1, 2" in message


def test_empty_and_geometry_less_roads(tmp_path):
    _lines().iloc[:0].to_file(tmp_path / "empty.gpkg")
    with pytest.raises(DataError, match="empty"):
        read_roads(tmp_path / "empty.gpkg")
    gdf = _lines(weight=[1.5, 1.0])
    gdf.loc[1, "geometry"] = None
    gdf.to_file(tmp_path / "bad.gpkg")
    with pytest.raises(DataError) as err:
        read_roads(tmp_path / "bad.gpkg")
    message = _one_line_error(err)
    assert "1 features have no geometry (features 2)" in message
    assert "weight outside (0, 1]" in message  # every problem in one message


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_roads(tmp_path / "nope.geojson")
    junk = tmp_path / "junk.geojson"
    junk.write_text("not json", encoding="utf-8")
    with pytest.raises(InputError, match="cannot read"):
        read_roads(junk)


# ------------------------------------------------------------------ ports and RSUs


def test_read_ports_csv_with_generated_ids(tmp_path):
    path = tmp_path / "ports.csv"
    path.write_text("name,lon,lat\nA,120.1,31.9\nB,121.2,31.6\n", encoding="utf-8")
    ports = read_ports(path)
    assert ports["port_id"].tolist() == ["ports-1", "ports-2"]
    assert ports["name"].tolist() == ["A", "B"]
    assert ports.geometry.x.tolist() == [120.1, 121.2]
    assert not ports["synthetic"].any()


def test_read_ports_gcj02_csv_is_converted(tmp_path):
    path = tmp_path / "ports.csv"
    path.write_text("port_id,name,lon,lat\np,A,120.1,31.9\n", encoding="utf-8")
    ports = read_ports(path, coords="gcj02")
    assert ports.geometry.x.iloc[0] != 120.1
    assert abs(ports.geometry.x.iloc[0] - 120.1) < 0.01


def test_read_ports_polygons_and_bad_csv(tmp_path):
    gpd.GeoDataFrame(
        {"port_id": ["a"], "name": ["quay"]}, geometry=[box(120, 31, 120.01, 31.01)], crs=4326
    ).to_file(tmp_path / "areas.geojson")
    assert read_ports(tmp_path / "areas.geojson").geom_type.tolist() == ["Polygon"]
    bad = tmp_path / "bad.csv"
    bad.write_text("port_id,lon,lat\na,31.9,120.1\na,120,x\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_ports(bad)
    message = _one_line_error(err)
    assert "are lon/lat swapped?" in message and "non-numeric coordinates (lines 3)" in message
    nocols = tmp_path / "nocols.csv"
    nocols.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="no longitude/latitude"):
        read_ports(nocols)


def test_duplicate_port_ids(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("port_id,lon,lat\na,120,31\na,121,31\n", encoding="utf-8")
    with pytest.raises(DataError, match="share a port_id"):
        read_ports(path)


def test_lines_given_as_ports(tmp_path):
    _lines().to_file(tmp_path / "l.geojson")
    with pytest.raises(DataError, match="LineString, not points or polygons"):
        read_ports(tmp_path / "l.geojson")


def test_read_rsu(tmp_path):
    path = tmp_path / "rsu.csv"
    path.write_text("rsu_id,lon,lat,range_m\nr1,120,31,\nr2,120.01,31,450\n", encoding="utf-8")
    rsu = read_rsu(path)
    assert rsu["rsu_id"].tolist() == ["r1", "r2"]
    assert np.isnan(rsu["range_m"].iloc[0]) and rsu["range_m"].iloc[1] == 450.0
    bad = tmp_path / "bad.csv"
    bad.write_text("lon,lat,range_m\n120,31,-5\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"range_m outside \(0, 100,000\] m"):
        read_rsu(bad)
    with pytest.raises(DataError, match="coords="):
        read_rsu(path, coords="utm")


def test_empty_rsu_layer(tmp_path):
    path = tmp_path / "rsu.csv"
    path.write_text("lon,lat\n", encoding="utf-8")
    with pytest.raises(DataError, match="empty"):
        read_rsu(path)


# ------------------------------------------------------------------ bundled layers


@pytest.mark.parametrize(("province", "n_min"), [("jiangsu", 25), ("jiangxi", 25)])
def test_demo_roads_are_schematic(province, n_min):
    roads = read_demo_roads(province)
    assert len(roads) >= n_min
    assert roads["schematic"].all() and roads.attrs["schematic"]
    assert roads["ref"].is_unique


def test_demo_ports():
    jiangsu, jiangxi = read_demo_ports("jiangsu"), read_demo_ports("jiangxi")
    assert len(jiangsu) == 11 and jiangsu["port_id"].str.startswith("WPI-").all()
    assert jiangxi["name"].tolist() == ["Jiujiang Port"]
    assert not jiangsu["synthetic"].any()


def test_demo_rsu_and_missing_provinces():
    rsu = read_demo_rsu("Jiangsu")
    assert rsu["synthetic"].all() and (rsu["range_m"] > 0).all()
    with pytest.raises(InputError, match="no bundled rsu layer for province 'jiangxi'"):
        read_demo_rsu("jiangxi")
    with pytest.raises(InputError, match="no bundled roads layer"):
        read_demo_roads("atlantis")


# ------------------------------------------------------------------ writing


def test_pbf_without_expressways(tmp_path):
    osmium = pytest.importorskip("osmium")
    path = tmp_path / "streets.osm.pbf"
    writer = osmium.SimpleWriter(str(path))
    writer.add_node(osmium.osm.mutable.Node(id=1, location=(118.0, 32.0)))
    writer.add_node(osmium.osm.mutable.Node(id=2, location=(118.1, 32.0)))
    writer.add_way(osmium.osm.mutable.Way(id=3, nodes=[1, 2], tags={"highway": "residential"}))
    writer.close()
    with pytest.raises(DataError, match="no highway=motorway/trunk"):
        read_roads(path)


@pytest.mark.parametrize("value", ["0", "-5", "inf", "1e308", "100001", "nan"])
def test_rsu_ranges_must_be_physical(tmp_path, value):
    bad = tmp_path / "rsu.csv"
    bad.write_text(f"lon,lat,range_m\n120,31,300\n120.1,31,{value}\n", encoding="utf-8")
    if value == "nan":  # NaN means "the default range"
        assert np.isnan(read_rsu(bad)["range_m"].iloc[1])
        return
    with pytest.raises(DataError, match=r"1 rows have a range_m outside .*features 2\)"):
        read_rsu(bad)
