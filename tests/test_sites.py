"""Tests for geo5g.sites: every reader, the OpenCelliD derivation, every error case."""

from __future__ import annotations

import gzip
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo5g.coords import wgs84_to_bd09, wgs84_to_gcj02
from geo5g.errors import CRSError, DataError, InputError
from geo5g.sites import (
    DEFAULT_GNB_ID_BITS,
    SITE_COLUMNS,
    base_station_ids,
    normalise_band,
    normalise_operator,
    read_sites,
    write_sites,
)

FIXTURES = Path(__file__).parent / "data" / "sites"
OCID_SAMPLE = FIXTURES / "opencellid_sample.csv"
OCID_HEADER = (
    "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"
)


def _write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _assert_contract(sites):
    assert list(sites.columns) == [*SITE_COLUMNS, "geometry"]
    assert sites.crs.to_epsg() == 4326
    assert isinstance(sites.index, pd.RangeIndex)
    assert str(sites["site_id"].dtype) == "str"
    assert sites["commissioned"].dtype == "datetime64[ns]"
    assert sites["lon"].dtype == "float64"
    np.testing.assert_array_equal(sites.geometry.x, sites["lon"])
    np.testing.assert_array_equal(sites.geometry.y, sites["lat"])
    assert sites["site_id"].is_unique


# --------------------------------------------------------------------------- CSV


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        ("lon", "lat"),
        ("LNG", "Lat"),
        ("Longitude", "Latitude"),
        ("long", "latitude"),
        ("x", "y"),
        ("经度", "纬度"),
        (" Lon ", "LAT"),
    ],
)
def test_csv_coordinate_spellings(tmp_path, lon, lat):
    path = _write(tmp_path, "s.csv", f"{lon},{lat}\n118.5,32.25\n119.0,31.5\n")
    sites = read_sites(path)
    _assert_contract(sites)
    assert sites["lon"].tolist() == [118.5, 119.0]
    assert sites["lat"].tolist() == [32.25, 31.5]
    # no id column: "<stem>-<row>"
    assert sites["site_id"].tolist() == ["s-1", "s-2"]
    assert sites["operator"].isna().all()
    assert sites["radius_m"].isna().all()
    assert sites["commissioned"].isna().all()
    assert sites.attrs["source"] == "s.csv"
    assert sites.attrs["synthetic"] is False


CHINESE_CSV = (
    "基站编号,经度,纬度,运营商,频段,覆盖半径,开通日期\n"
    "N001,118.79,32.06,中国移动,n41,500,2021/3/5\n"
    "N002,118.80,32.07,CTCC,3.5G,,2022年1月2日\n"
    "N003,118.81,32.08,联通,2100,350.5,\n"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_encodings_and_attributes(tmp_path, encoding):
    sites = read_sites(_write(tmp_path, "sites.csv", CHINESE_CSV, encoding))
    _assert_contract(sites)
    assert sites["site_id"].tolist() == ["N001", "N002", "N003"]
    assert sites["operator"].tolist() == ["China Mobile", "China Telecom", "China Unicom"]
    assert sites["band"].tolist() == ["2.6GHz", "3.5GHz", "2.1GHz"]
    np.testing.assert_array_equal(sites["radius_m"], [500.0, np.nan, 350.5])
    assert sites["commissioned"].iloc[0] == pd.Timestamp("2021-03-05")
    assert sites["commissioned"].iloc[1] == pd.Timestamp("2022-01-02")
    assert pd.isna(sites["commissioned"].iloc[2])


def test_csv_tab_separated_and_gzip(tmp_path):
    text = "id\tlng\tlat\nA\t113.1\t23.2\n"
    plain = read_sites(_write(tmp_path, "s.tsv", text))
    gz = tmp_path / "s.csv.gz"
    gz.write_bytes(gzip.compress(text.replace("\t", ",").encode()))
    packed = read_sites(gz)
    assert plain["lon"].tolist() == packed["lon"].tolist() == [113.1]
    assert plain["site_id"].tolist() == packed["site_id"].tolist() == ["A"]


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("中国移动", "China Mobile"),
        ("移动", "China Mobile"),
        ("CMCC", "China Mobile"),
        ("China Mobile", "China Mobile"),
        ("china_mobile", "China Mobile"),
        ("联通", "China Unicom"),
        ("CUCC", "China Unicom"),
        ("中国电信", "China Telecom"),
        ("CTCC", "China Telecom"),
        ("广电", "China Broadnet"),
        ("CBN", "China Broadnet"),
        ("China Broadnet", "China Broadnet"),
        ("Acme Wireless", "Acme Wireless"),
    ],
)
def test_operator_names(given, canonical):
    assert normalise_operator([given]).tolist() == [canonical]


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("n28", "700MHz"),
        ("700M", "700MHz"),
        ("700MHz", "700MHz"),
        ("700 MHz", "700MHz"),
        ("n41", "2.6GHz"),
        ("2.6G", "2.6GHz"),
        ("2600", "2.6GHz"),
        ("N78", "3.5GHz"),
        ("3.5G", "3.5GHz"),
        ("3500", "3.5GHz"),
        ("3.5GHz", "3.5GHz"),
        ("n79", "4.9GHz"),
        ("4.9G", "4.9GHz"),
        ("4900", "4.9GHz"),
        ("n1", "2.1GHz"),
        ("2.1G", "2.1GHz"),
        ("3.3GHz", "3.3GHz"),  # indoor band: unknown here, kept as given
        ("n258", "n258"),
        ("mmWave", "mmWave"),
    ],
)
def test_band_names(given, canonical):
    assert normalise_band([given]).tolist() == [canonical]


@pytest.mark.parametrize("values", [[], [None], [""], ["  "]])
def test_normalisers_empty_and_missing(values):
    for fn in (normalise_band, normalise_operator):
        out = fn(values)
        assert len(out) == len(values)
        assert out.isna().all()


@pytest.mark.parametrize(
    ("system", "forward"), [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)]
)
def test_csv_chinese_coordinate_systems(tmp_path, system, forward):
    wgs_lon, wgs_lat = np.array([118.7969, 115.8921]), np.array([32.0603, 28.6765])
    lon, lat = forward(wgs_lon, wgs_lat)
    assert np.abs(lon - wgs_lon).max() > 1e-3  # the offset is real (hundreds of metres)
    text = "lon,lat\n" + "".join(
        f"{float(a)!r},{float(b)!r}\n" for a, b in zip(lon, lat, strict=True)
    )
    sites = read_sites(_write(tmp_path, "amap.csv", text), coords=system)
    np.testing.assert_allclose(sites["lon"], wgs_lon, atol=1e-8)
    np.testing.assert_allclose(sites["lat"], wgs_lat, atol=1e-8)
    np.testing.assert_allclose(sites.geometry.x, wgs_lon, atol=1e-8)


# --------------------------------------------------------------------------- CSV errors


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_sites(tmp_path / "nope.csv")


def test_folder_is_not_a_file(tmp_path):
    with pytest.raises(InputError, match="folder"):
        read_sites(tmp_path)


def test_unknown_extension_lists_supported(tmp_path):
    path = _write(tmp_path, "sites.kml", "x")
    with pytest.raises(InputError, match=r"unknown sites format '\.kml'.*\.csv.*\.gpkg.*\.parquet"):
        read_sites(path)


def test_unknown_fmt_override(tmp_path):
    path = _write(tmp_path, "s.csv", "lon,lat\n1,2\n")
    with pytest.raises(InputError, match="unknown format 'kml'; use one of csv, opencellid"):
        read_sites(path, fmt="kml")


def test_unknown_coordinate_system(tmp_path):
    path = _write(tmp_path, "s.csv", "lon,lat\n118,32\n")
    with pytest.raises(DataError, match="unknown coordinate system 'utm'"):
        read_sites(path, coords="utm")


def test_no_lonlat_columns_lists_found_and_spellings(tmp_path):
    path = _write(tmp_path, "s.csv", "name,east,north\nA,1,2\n")
    with pytest.raises(DataError) as err:
        read_sites(path)
    msg = str(err.value)
    assert msg.startswith("s.csv: no lon and lat column")
    assert "columns found: name, east, north" in msg
    assert "lon/lng/long/longitude/x/经度" in msg and "lat/latitude/y/纬度" in msg


def test_non_numeric_coordinates_named_by_line(tmp_path):
    text = "id,lon,lat\nA,118,32\nB,abc,32\nC,118,\nD,118.5,32.5\n"
    with pytest.raises(
        DataError, match=r"2 rows have missing or non-numeric coordinates \(lines 3, 4\)"
    ):
        read_sites(_write(tmp_path, "s.csv", text))


def test_latitude_and_longitude_out_of_range(tmp_path):
    text = "lon,lat\n118,32\n118,95\n190,32\n118,-91\n"
    with pytest.raises(DataError) as err:
        read_sites(_write(tmp_path, "s.csv", text))
    msg = str(err.value)
    assert "2 rows have latitude outside [-90, 90] (lines 3, 5)" in msg
    assert "1 rows have longitude outside [-180, 180] (lines 4)" in msg
    assert "swapped" not in msg


def test_swapped_lonlat_detected(tmp_path):
    text = "lon,lat\n32.06,118.79\n31.3,120.6\n34.2,117.2\n"
    with pytest.raises(DataError, match=r"latitude outside \[-90, 90\].*are lon/lat swapped\?"):
        read_sites(_write(tmp_path, "s.csv", text))


def test_swapped_lonlat_detected_even_when_in_range(tmp_path):
    # latitudes 73-90 are valid numbers but still China's longitudes
    text = "lon,lat\n30,80\n31,85\n"
    with pytest.raises(DataError, match="are lon/lat swapped"):
        read_sites(_write(tmp_path, "s.csv", text))


@pytest.mark.parametrize("text", ["lon,lat\n", "lon,lat"])
def test_empty_layer(tmp_path, text):
    with pytest.raises(DataError, match="empty layer"):
        read_sites(_write(tmp_path, "s.csv", text))


def test_duplicate_site_ids_listed(tmp_path):
    text = "site_id,lon,lat\nA,118,32\nB,118,32\nA,119,32\nB,119,32\nC,119,32\n"
    with pytest.raises(
        DataError, match=r"2 site_ids are not unique \(e\.g\. 'A', 'B'; lines 2, 3, 4, 5\)"
    ):
        read_sites(_write(tmp_path, "s.csv", text))


def test_unparseable_dates(tmp_path):
    text = "lon,lat,date\n118,32,2021-01-01\n118,32,soon\n"
    with pytest.raises(
        DataError, match=r"1 rows have unparseable commissioned dates \(e\.g\. 'soon'; lines 3\)"
    ):
        read_sites(_write(tmp_path, "s.csv", text))


def test_bad_radius(tmp_path):
    text = "lon,lat,radius_m\n118,32,-5\n118,32,far\n118,32,\n118,32,1e308\n118,32,0\n"
    with pytest.raises(
        DataError,
        match=r"4 rows have a radius_m that is not a number of metres in \(0, 100,000\] "
        r"\(lines 2, 3, 5, 6\)",
    ):
        read_sites(_write(tmp_path, "s.csv", text))


def test_all_problems_reported_at_once(tmp_path):
    text = "id,lon,lat,date\nA,118,32,2021-01-01\nA,x,32,2021-01-01\nB,118,99,never\n"
    with pytest.raises(DataError) as err:
        read_sites(_write(tmp_path, "bad.csv", text))
    msg = str(err.value)
    assert msg.startswith("bad.csv: ")
    for fragment in (
        "non-numeric coordinates (lines 3)",
        "latitude outside",
        "not unique",
        "unparseable commissioned dates",
    ):
        assert fragment in msg
    assert msg.count("bad.csv") == 1


def test_more_than_five_bad_rows_are_elided(tmp_path):
    text = "lon,lat\n" + "x,1\n" * 7
    with pytest.raises(DataError, match=r"7 rows .*\(lines 2, 3, 4, 5, 6, …\)"):
        read_sites(_write(tmp_path, "s.csv", text))


def test_undecodable_text(tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes(b"lon,lat\n118,32\n" + bytes([0x81, 0x20, 0xFF, 0xFE]) * 4 + b"\n")
    with pytest.raises(InputError, match="neither UTF-8 nor GBK"):
        read_sites(path)


# --------------------------------------------------------------------------- OpenCelliD


def test_opencellid_real_sample_lte():
    sites = read_sites(OCID_SAMPLE, radios=("LTE",))
    _assert_contract(sites)
    # 72 lines: header, 19 MCC-460 rows (18 LTE + 1 GSM), 52 rows of other MCCs.
    assert sites.attrs["skipped"] == {"mcc": 52, "radio": 1}
    assert sites.attrs["cells"] == 18
    assert len(sites) == 14
    assert set(sites["operator"]) == {"China Unicom", "China Telecom"}
    assert sites["radius_m"].isna().all()  # `range` is not a reach
    one = sites.set_index("site_id").loc["460-1-LTE-617117"]  # ECI 157982083 >> 8
    assert (one["lon"], one["lat"]) == (116.430922, 39.90713)
    assert one["commissioned"] == pd.Timestamp(1635643887, unit="s")
    # ECIs 1620601 and 1620611 → eNB 6330; samples 4 and 3 weight the centroid
    two = sites.set_index("site_id").loc["460-1-LTE-6330"]
    assert two["lon"] == pytest.approx((4 * 116.44137 + 3 * 116.439585) / 7, abs=1e-12)
    assert two["lat"] == pytest.approx((4 * 39.9025 + 3 * 39.90245) / 7, abs=1e-12)
    assert two["commissioned"] == pd.Timestamp(1662700824, unit="s")
    telecom = sites.set_index("site_id").loc["460-11-LTE-446268"]  # MNC 11
    assert telecom["operator"] == "China Telecom"


def test_opencellid_default_nr_only_sample_has_no_chinese_nr():
    with pytest.raises(DataError, match=r"no NR cells with MCC 460 \(52 rows of other MCCs and 19"):
        read_sites(OCID_SAMPLE)


def test_opencellid_without_header(tmp_path):
    lines = OCID_SAMPLE.read_text().splitlines()[1:]
    path = _write(tmp_path, "cells.csv", "\n".join(lines) + "\n")
    with_header = read_sites(OCID_SAMPLE, radios=("LTE",))
    without = read_sites(path, radios=("lte",))
    pd.testing.assert_frame_equal(
        pd.DataFrame(without.drop(columns="geometry")),
        pd.DataFrame(with_header.drop(columns="geometry")),
    )


def _cells(rows):
    text = OCID_HEADER + "\n"
    for radio, net, cell, lon, lat, samples, created in rows:
        text += f"{radio},460,{net},1,{cell},0,{lon},{lat},1000,{samples},1,{created},0,0\n"
    return text


NR_ROWS = [
    # gNB 0x123456 (24-bit) of China Mobile: three cells, samples 2, 0 (→1), -1 (→1)
    ("NR", 0, 0x123456001, 118.0, 32.0, 2, 1600000000),
    ("NR", 0, 0x123456002, 118.4, 32.4, 0, 1590000000),
    ("NR", 0, 0x123456FFF, 118.8, 32.8, -1, 1610000000),
    # a second gNB of China Mobile, and the same NCI under China Unicom
    ("NR", 0, 0x123457001, 119.0, 31.0, 5, 1620000000),
    ("NR", 1, 0x123456001, 119.5, 31.5, 5, 1630000000),
    ("NR", 15, 0x000001001, 120.0, 30.0, 1, 1640000000),
    ("NR", 12, 0x000001001, 120.0, 30.0, 1, 1640000000),
    ("LTE", 0, 0x1234567, 121.0, 31.0, 3, 1500000000),
]


def test_opencellid_nr_groups_cells_into_gnbs(tmp_path):
    sites = read_sites(_write(tmp_path, "nr.csv", _cells(NR_ROWS))).set_index("site_id")
    assert sorted(sites.index) == sorted(
        [
            f"460-0-NR-{0x123456}",
            f"460-0-NR-{0x123457}",
            f"460-1-NR-{0x123456}",
            "460-15-NR-1",
            "460-12-NR-1",
        ]
    )
    gnb = sites.loc[f"460-0-NR-{0x123456}"]
    assert gnb["lon"] == pytest.approx((2 * 118.0 + 118.4 + 118.8) / 4, abs=1e-12)
    assert gnb["lat"] == pytest.approx((2 * 32.0 + 32.4 + 32.8) / 4, abs=1e-12)
    assert gnb["commissioned"] == pd.Timestamp(1590000000, unit="s")
    assert sites.loc[f"460-1-NR-{0x123456}", "operator"] == "China Unicom"
    assert sites.loc["460-15-NR-1", "operator"] == "China Broadnet"
    assert sites.loc["460-12-NR-1", "operator"] == "MNC 12"


def test_opencellid_with_lte(tmp_path):
    sites = read_sites(_write(tmp_path, "nr.csv", _cells(NR_ROWS)), radios=("NR", "LTE"))
    assert f"460-0-LTE-{0x12345}" in set(sites["site_id"])
    assert sites.attrs["skipped"] == {"mcc": 0, "radio": 0}


def test_opencellid_gnb_bits_per_operator(tmp_path):
    path = _write(tmp_path, "nr.csv", _cells(NR_ROWS))
    # 32-bit gNB IDs for China Mobile split the three cells of gNB 0x123456
    sites = read_sites(path, gnb_id_bits={"CMCC": 32})
    ids = set(sites["site_id"])
    assert {f"460-0-NR-{0x12345600}", f"460-0-NR-{0x123456FF}"} <= ids
    assert f"460-1-NR-{0x123456}" in ids  # Unicom keeps the default 24 bits
    assert len(read_sites(path, gnb_id_bits=22)) == 4  # 0x123456/0x123457 merge at 22 bits


@pytest.mark.parametrize(
    ("radio", "cell", "bits", "expected"),
    [
        ("NR", 0x123456789, 24, 0x123456),
        ("NR", 0x123456789, 22, 0x123456789 >> 14),
        ("NR", 0x123456789, 28, 0x1234567),
        ("NR", 0x123456789, 32, 0x12345678),
        ("NR", 0xFFFFFFFFF, 24, 0xFFFFFF),
        ("NR", 0, 24, 0),
        ("LTE", 0x1234567, 24, 0x12345),
        ("LTE", 256 * 1000 + 7, 24, 1000),
        ("LTE", 0xFFFFFFF, 32, 0xFFFFF),  # gNB length does not apply to LTE
    ],
)
def test_base_station_id_derivation(radio, cell, bits, expected):
    assert base_station_ids([radio], [cell], gnb_id_bits=bits).tolist() == [expected]


def test_default_gnb_bits_is_documented_value():
    assert DEFAULT_GNB_ID_BITS == 24
    assert base_station_ids(["NR"], [0x123456789]).tolist() == [0x123456]


@given(
    bits=st.integers(22, 32),
    data=st.data(),
)
def test_gnb_id_roundtrip_property(bits, data):
    gnb = data.draw(st.integers(0, 2**bits - 1))
    local = data.draw(st.integers(0, 2 ** (36 - bits) - 1))
    nci = (gnb << (36 - bits)) | local
    assert base_station_ids(["NR"], [nci], gnb_id_bits=bits).tolist() == [gnb]


@pytest.mark.parametrize("bits", [21, 33, "24", 24.0, True, {"China Mobile": 40}])
def test_bad_gnb_bits(tmp_path, bits):
    with pytest.raises(DataError, match="gNB-ID length"):
        read_sites(_write(tmp_path, "nr.csv", _cells(NR_ROWS)), gnb_id_bits=bits)


@pytest.mark.parametrize("radios", [("GSM",), (), ("NR", "UMTS")])
def test_bad_radios(tmp_path, radios):
    with pytest.raises(DataError, match="only for 'NR'"):
        read_sites(_write(tmp_path, "nr.csv", _cells(NR_ROWS)), radios=radios)


def test_opencellid_bad_cells_and_coordinates(tmp_path):
    rows = [
        ("NR", 0, 2**36, 118.0, 32.0, 1, 1600000000),
        ("NR", 0, 5, 118.0, 132.0, 1, 1600000000),
        ("NR", 0, 6, 118.0, 32.0, 1, "yesterday"),
    ]
    with pytest.raises(DataError) as err:
        read_sites(_write(tmp_path, "nr.csv", _cells(rows)))
    msg = str(err.value)
    assert "1 rows have a cell that is not an ECI" in msg and "(lines 2)" in msg
    assert "latitude outside [-90, 90] (lines 3)" in msg
    assert "unparseable created time (unix seconds) (lines 4)" in msg


def test_opencellid_fmt_override_and_empty(tmp_path):
    path = _write(tmp_path, "cells.txt", OCID_HEADER + "\n")
    with pytest.raises(DataError, match="empty layer"):
        read_sites(path, fmt="opencellid")


# --------------------------------------------------------------------------- vector formats


@pytest.fixture
def points():
    return gpd.GeoDataFrame(
        {
            "ID": ["a", "b", "c"],
            "Operator": ["中国移动", "电信", None],
            "Band": ["n41", "3500", None],
            "date": ["2020-01-02", "2021-02-03", None],
        },
        geometry=gpd.points_from_xy([118.1, 118.2, 118.3], [32.1, 32.2, 32.3]),
        crs="EPSG:4326",
    )


@pytest.mark.parametrize("ext", ["geojson", "gpkg", "shp", "parquet"])
def test_vector_formats(tmp_path, points, ext):
    path = tmp_path / f"pts.{ext}"
    if ext == "parquet":
        points.to_parquet(path)
    else:
        points.to_file(path, engine="pyogrio")
    sites = read_sites(path)
    _assert_contract(sites)
    assert sites["site_id"].tolist() == ["a", "b", "c"]
    assert sites["operator"].tolist()[:2] == ["China Mobile", "China Telecom"]
    assert sites["band"].tolist()[:2] == ["2.6GHz", "3.5GHz"]
    assert sites["commissioned"].iloc[1] == pd.Timestamp("2021-02-03")
    np.testing.assert_allclose(sites["lon"], [118.1, 118.2, 118.3])


def test_vector_reprojected_then_gcj02(tmp_path, points):
    path = tmp_path / "utm.gpkg"
    points.to_crs("EPSG:32650").to_file(path, engine="pyogrio")
    sites = read_sites(path)
    np.testing.assert_allclose(sites["lon"], [118.1, 118.2, 118.3], atol=1e-9)
    np.testing.assert_allclose(sites["lat"], [32.1, 32.2, 32.3], atol=1e-9)
    gcj = read_sites(path, coords="gcj02")
    back = wgs84_to_gcj02(gcj["lon"], gcj["lat"])
    np.testing.assert_allclose(back, [[118.1, 118.2, 118.3], [32.1, 32.2, 32.3]], atol=1e-8)


@pytest.mark.parametrize("ext", ["shp", "parquet"])
def test_vector_without_crs(tmp_path, points, ext):
    path = tmp_path / f"nocrs.{ext}"
    bare = points.set_crs(None, allow_override=True)
    if ext == "parquet":
        bare.to_parquet(path)
    else:
        with pytest.warns(UserWarning, match="'crs' was not provided"):
            bare.to_file(path, engine="pyogrio")
    with pytest.raises(CRSError, match=r"nocrs.* no CRS"):
        read_sites(path)


def test_polygon_layer_rejected(tmp_path, points):
    layer = points.copy()
    layer.geometry = gpd.GeoSeries(shapely.buffer(np.asarray(layer.geometry), 0.01), crs=4326)
    layer.loc[2, "geometry"] = shapely.LineString([(0, 0), (1, 1)])
    path = tmp_path / "poly.gpkg"
    layer.to_file(path, engine="pyogrio")
    with pytest.raises(DataError, match=r"must be points; found Polygon \(2\), LineString \(1\)"):
        read_sites(path)


def test_missing_geometry_rejected(tmp_path, points):
    layer = points.copy()
    layer.loc[1, "geometry"] = None
    path = tmp_path / "holes.geojson"
    layer.to_file(path, engine="pyogrio")
    with pytest.raises(DataError, match=r"1 features have no geometry \(features 2\)"):
        read_sites(path)


def test_multilayer_geopackage(tmp_path, points):
    path = tmp_path / "multi.gpkg"
    points.to_file(path, layer="a", engine="pyogrio")
    points.iloc[:1].to_file(path, layer="b", engine="pyogrio")
    with pytest.raises(InputError, match=r"2 layers \(a \(Point\), b \(Point\)\); pass layer="):
        read_sites(path)
    assert len(read_sites(path, layer="b")) == 1
    # one point layer next to a polygon layer is chosen without asking
    other = tmp_path / "mixed.gpkg"
    points.to_file(other, layer="pts", engine="pyogrio")
    gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs=4326).to_file(
        other, layer="area", engine="pyogrio"
    )
    assert len(read_sites(other)) == 3


def test_plain_parquet_with_lonlat(tmp_path):
    path = tmp_path / "table.parquet"
    pd.DataFrame({"site": ["x", "y"], "lng": [118.0, 119.0], "lat": [32.0, 33.0]}).to_parquet(path)
    sites = read_sites(path)
    assert sites["site_id"].tolist() == ["x", "y"]
    assert sites["lon"].tolist() == [118.0, 119.0]


def test_swapped_geojson(tmp_path):
    layer = gpd.GeoDataFrame(geometry=gpd.points_from_xy([32.0, 31.0], [118.0, 119.0]), crs=4326)
    path = tmp_path / "swapped.geojson"
    layer.to_file(path, engine="pyogrio")
    with pytest.raises(DataError, match=r"\(features 1, 2\); are lon/lat swapped"):
        read_sites(path)


def test_corrupt_vector_file(tmp_path):
    path = _write(tmp_path, "broken.gpkg", "not a geopackage")
    with pytest.raises(InputError, match=r"broken\.gpkg"):
        read_sites(path)


# --------------------------------------------------------------------------- write_sites


@pytest.mark.parametrize("ext", ["parquet", "gpkg", "csv"])
@pytest.mark.parametrize("synthetic", [True, False])
def test_write_read_roundtrip(tmp_path, ext, synthetic):
    sites = read_sites(_write(tmp_path, "in.csv", CHINESE_CSV))
    sites.attrs["synthetic"] = synthetic
    out = write_sites(sites, tmp_path / "sub" / f"out.{ext}")
    assert out.exists()
    back = read_sites(out)
    pd.testing.assert_frame_equal(
        pd.DataFrame(back.drop(columns="geometry")), pd.DataFrame(sites.drop(columns="geometry"))
    )
    if ext != "csv":
        assert back.attrs["synthetic"] is synthetic


def test_write_parquet_drops_redundant_lonlat(tmp_path):
    import pyarrow.parquet as pq

    sites = read_sites(_write(tmp_path, "in.csv", CHINESE_CSV))
    out = write_sites(sites, tmp_path / "out.parquet")
    names = pq.read_schema(out).names
    assert "lon" not in names and "lat" not in names and "geometry" in names


def test_synthetic_ids_mark_csv_synthetic(tmp_path):
    path = _write(tmp_path, "demo.csv", "site_id,lon,lat\nSYN-JS-000001,118,32\n")
    assert read_sites(path).attrs["synthetic"] is True


@pytest.mark.parametrize("name", ["out.shp", "out.xlsx"])
def test_write_unsupported(tmp_path, name):
    sites = read_sites(_write(tmp_path, "in.csv", "lon,lat\n118,32\n"))
    with pytest.raises(InputError, match="write sites as"):
        write_sites(sites, tmp_path / name)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(73.5, 135.0), st.floats(18.0, 53.5)), min_size=1, max_size=30))
def test_csv_roundtrip_property(tmp_path_factory, coords):
    tmp = tmp_path_factory.mktemp("rt")
    lon, lat = map(np.array, zip(*coords, strict=True))
    text = "lon,lat\n" + "".join(f"{a!r},{b!r}\n" for a, b in coords)
    sites = read_sites(_write(tmp, "p.csv", text))
    np.testing.assert_array_equal(sites["lon"], lon)
    back = read_sites(write_sites(sites, tmp / "p2.csv"))
    np.testing.assert_array_equal(back["lon"], lon)
    np.testing.assert_array_equal(back["lat"], lat)


@given(st.text(max_size=12))
def test_band_normalisation_idempotent(text):
    once = normalise_band([text])
    assert normalise_band(once).equals(once)
