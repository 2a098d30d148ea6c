"""Tests of geo5g.population: census table, user tables, raster zonal sums."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from shapely import box

from geo5g.errors import CRSError, DataError, InputError
from geo5g.population import (
    census_population,
    raster_population,
    read_census,
    read_census_table,
    read_population_table,
)

# A 4x4 raster of 1 km pixels (UTM 50N), origin (500000, 3550000), values 1..16 row by row:
#   1  2  3  4
#   5  6  7  8
#   9 10 11 12
#  13 14 15 16
UTM = "EPSG:32650"
X0, Y0 = 500_000.0, 3_550_000.0
GRID = np.arange(1, 17, dtype="float32").reshape(4, 4)


def write_tif(path, values, *, crs=UTM, nodata=None, dtype="float32"):
    values = np.asarray(values, dtype=dtype)
    profile = dict(
        driver="GTiff",
        width=values.shape[1],
        height=values.shape[0],
        count=1,
        dtype=dtype,
        transform=Affine(1000.0, 0.0, X0, 0.0, -1000.0, Y0),
        nodata=nodata,
    )
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
    return path


def zones_frame(geoms, codes, crs=UTM):
    return gpd.GeoDataFrame(
        {"name_zh": [f"z{c}" for c in codes]},
        geometry=geoms,
        index=pd.Index(codes, name="adcode", dtype="int64"),
        crs=crs,
    )


@pytest.fixture
def two_squares():
    # west: the 2x2 top-left pixels (1+2+5+6 = 14); east: the right half, 4 rows (4*... = 84)
    west = box(X0, Y0 - 2000, X0 + 2000, Y0)
    east = box(X0 + 2000, Y0 - 4000, X0 + 4000, Y0)
    return zones_frame([west, east], [320100, 320200])


# ------------------------------------------------------------------------ census


def test_census_jiangsu_and_jiangxi_totals():
    census = read_census()
    assert census.name == "population"
    assert census.index.name == "adcode"
    assert census.index.dtype == "int64" and census.dtype == "int64"
    assert len(census) == 370 and census.index.is_unique
    assert census[(census.index // 10000) == 32].sum() == 84_748_016
    assert census[(census.index // 10000) == 36].sum() == 45_188_635
    # municipalities under their census codes
    assert {110100, 120100, 310100, 500000} <= set(census.index)


def test_census_table_names():
    table = read_census_table()
    assert table.loc[320100, "name_en"] == "Nanjing"
    assert table.loc[360100, "name_zh"] == "南昌市"
    assert list(table.columns) == ["province", "name_zh", "name_en", "population"]


def test_census_population_aligns_to_zone_order():
    zones = pd.DataFrame({"name_zh": ["南昌市", "南京市"]}, index=pd.Index([360100, 320100]))
    pop = census_population(zones, read_census())
    assert pop.index.tolist() == [360100, 320100]
    assert pop.name == "population"
    assert pop.loc[320100] == 9_314_685


def test_census_population_default_census():
    zones = pd.DataFrame({"name_zh": ["南京市"]}, index=pd.Index([320100]))
    assert census_population(zones).tolist() == [9_314_685]


def test_census_population_missing_counties_explains():
    zones = pd.DataFrame(
        {"name_zh": ["玄武区", "南京市"], "level": ["county", "city"]},
        index=pd.Index([320102, 320100]),
    )
    with pytest.raises(
        DataError, match=r"1 of 2 zones \(320102 玄武区\).*prefecture-level.*raster"
    ):
        census_population(zones, read_census())


def test_census_population_empty_zones():
    zones = pd.DataFrame({"name_zh": []}, index=pd.Index([], dtype="int64"))
    assert census_population(zones, read_census()).empty


# ------------------------------------------------------------------------ user tables


def test_read_population_table(tmp_path):
    path = tmp_path / "pop.csv"
    path.write_text("adcode,population,note\n320102,537825,x\n320104,740809,y\n", "utf-8")
    pop = read_population_table(path)
    assert pop.to_dict() == {320102: 537825, 320104: 740809}
    assert pop.dtype == "int64" and pop.index.dtype == "int64" and pop.name == "population"


def test_read_population_table_float_estimates(tmp_path):
    path = tmp_path / "pop.csv"
    path.write_text("adcode,population\n320102,1.5\n", "utf-8")
    assert read_population_table(path).dtype == "float64"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("adcode,people\n320102,1\n", "missing column.*population"),
        ("adcode,population\n3201,1\n32010x,2\n", r"2 rows .*6-digit.*lines 2, 3"),
        ("adcode,population\n320102,1\n320102,2\n", "320102 appear more than once"),
        ("adcode,population\n320102,-5\n", "negative population"),
        ("adcode,population\n320102,\n320104,many\n", r"2 rows have a population that is empty"),
    ],
)
def test_read_population_table_errors(tmp_path, body, message):
    path = tmp_path / "pop.csv"
    path.write_text(body, "utf-8")
    with pytest.raises(DataError, match=message):
        read_population_table(path)


def test_read_population_table_collects_all_problems(tmp_path):
    path = tmp_path / "pop.csv"
    path.write_text("adcode,population\n12,1\n320102,-1\n", "utf-8")
    with pytest.raises(DataError, match=r"6-digit.*negative"):
        read_population_table(path)


def test_read_population_table_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_population_table(tmp_path / "nope.csv")


def test_read_census_bad_counts(tmp_path):
    path = tmp_path / "census.csv"
    path.write_text(
        "adcode,province,name_zh,name_en,resident_pop_2020_census\n"
        "320100,江苏省,南京市,Nanjing,9314685.5\n",
        "utf-8",
    )
    with pytest.raises(DataError, match="not whole numbers"):
        read_census(path)


# ------------------------------------------------------------------------ rasters


def test_raster_hand_computed(tmp_path, two_squares):
    tif = write_tif(tmp_path / "pop.tif", GRID)
    pop = raster_population(two_squares, tif)
    # west: 1+2+5+6; east: columns 3-4 of every row: 3+4+7+8+11+12+15+16
    assert pop.to_dict() == {320100: 14.0, 320200: 76.0}
    assert pop.dtype == "float64" and pop.name == "population"
    assert pop.index.name == "adcode"


@pytest.mark.parametrize("block_rows", [1, 2, 3, 4, 100])
def test_raster_windowed_equals_whole(tmp_path, two_squares, block_rows):
    tif = write_tif(tmp_path / "pop.tif", GRID)
    whole = raster_population(two_squares, tif)
    assert raster_population(two_squares, tif, block_rows=block_rows).equals(whole)


def test_raster_nodata_and_nan_excluded(tmp_path, two_squares):
    values = GRID.copy()
    values[0, 0] = -99999.0  # nodata
    values[0, 1] = np.nan
    tif = write_tif(tmp_path / "pop.tif", values, nodata=-99999.0)
    pop = raster_population(two_squares, tif, block_rows=1)
    assert pop.loc[320100] == 5.0 + 6.0


def test_raster_pixel_centre_rule(tmp_path):
    # a zone covering 1.4 x 1.4 pixels holds one pixel centre only
    zone = zones_frame([box(X0, Y0 - 1400, X0 + 1400, Y0)], [320100])
    tif = write_tif(tmp_path / "pop.tif", GRID)
    assert raster_population(zone, tif).tolist() == [1.0]


def test_raster_zone_outside_and_empty_get_zero(tmp_path):
    zones = zones_frame(
        [box(X0 + 10_000, Y0, X0 + 12_000, Y0 + 2000), box(X0, Y0 - 1000, X0 + 1000, Y0), None],
        [320100, 320200, 320300],
    )
    tif = write_tif(tmp_path / "pop.tif", GRID)
    assert raster_population(zones, tif).tolist() == [0.0, 1.0, 0.0]


def test_raster_all_zones_outside(tmp_path):
    zones = zones_frame([box(X0 + 10_000, Y0, X0 + 12_000, Y0 + 2000)], [320100])
    tif = write_tif(tmp_path / "pop.tif", GRID)
    assert raster_population(zones, tif).tolist() == [0.0]


def test_raster_no_zones(tmp_path):
    zones = zones_frame([], [])
    tif = write_tif(tmp_path / "pop.tif", GRID)
    assert raster_population(zones, tif).empty


def test_raster_without_crs(tmp_path, two_squares):
    tif = write_tif(tmp_path / "pop.tif", GRID, crs=None)
    with pytest.raises(CRSError, match="raster has no CRS"):
        raster_population(two_squares, tif)


def test_zones_without_crs(tmp_path, two_squares):
    tif = write_tif(tmp_path / "pop.tif", GRID)
    with pytest.raises(CRSError, match="zones: layer has no CRS"):
        raster_population(two_squares.set_crs(None, allow_override=True), tif)


def test_raster_crs_mismatch_and_reproject(tmp_path, two_squares):
    tif = write_tif(tmp_path / "pop.tif", GRID)
    wgs = two_squares.to_crs(4326)
    # the one rule (as in population coverage): zones go to the raster's CRS
    assert raster_population(wgs, tif).to_dict() == {320100: 14.0, 320200: 76.0}
    with pytest.raises(CRSError, match=r"gdalwarp -t_srs EPSG:4326.*reproject_zones=True"):
        raster_population(wgs, tif, reproject_zones=False)


def test_raster_missing_file(tmp_path, two_squares):
    with pytest.raises(InputError, match="cannot open"):
        raster_population(two_squares, tmp_path / "missing.tif")


def test_raster_bad_band(tmp_path, two_squares):
    tif = write_tif(tmp_path / "pop.tif", GRID)
    with pytest.raises(DataError, match="band 2"):
        raster_population(two_squares, tif, band=2)


@settings(max_examples=30, deadline=None)
@given(
    values=arrays("float64", (6, 5), elements=st.floats(0, 1e6, allow_nan=False)),
    block_rows=st.integers(1, 7),
    cut=st.integers(1, 4),
)
def test_raster_partition_sums_to_total(tmp_path_factory, values, block_rows, cut):
    # two zones tiling the raster exactly: their sums add up to the raster total
    tif = write_tif(tmp_path_factory.mktemp("r") / "pop.tif", values, dtype="float64")
    west = box(X0, Y0 - 6000, X0 + cut * 1000, Y0)
    east = box(X0 + cut * 1000, Y0 - 6000, X0 + 5000, Y0)
    pop = raster_population(zones_frame([west, east], [1, 2]), tif, block_rows=block_rows)
    assert pop.sum() == pytest.approx(values.sum(), rel=1e-12, abs=1e-6)
    assert pop.loc[1] == pytest.approx(values[:, :cut].sum(), rel=1e-12, abs=1e-6)


@pytest.mark.parametrize("block_rows", [0, -3])
def test_raster_bad_block_rows(tmp_path, two_squares, block_rows):
    tif = write_tif(tmp_path / "pop.tif", GRID)
    with pytest.raises(DataError, match="block_rows"):
        raster_population(two_squares, tif, block_rows=block_rows)


# ---------------------------------------------------------- numbers never wrong


@pytest.mark.parametrize("value", ["1.6e9", "9223372036854775808", "1e308", "inf", "-inf", "-0.5"])
def test_read_population_table_refuses_unphysical_counts(tmp_path, value):
    path = tmp_path / "pop.csv"
    path.write_text(f"adcode,population\n320102,100\n320104,{value}\n", "utf-8")
    with pytest.raises(DataError, match=r"pop\.csv: 1 rows .*\(lines 3\)"):
        read_population_table(path)


def test_raster_negative_pixels_without_nodata_are_refused(tmp_path, two_squares):
    values = GRID.copy()
    values[0, 0] = -3.4028235e38  # WorldPop's nodata, undeclared
    tif = write_tif(tmp_path / "pop.tif", values)
    with pytest.raises(DataError, match=r"pop\.tif: 1 pixels .* negative.*set the nodata"):
        raster_population(two_squares, tif)


def test_raster_negative_pixel_outside_the_zones_is_ignored(tmp_path):
    values = GRID.copy()
    values[3, 0] = -1.0  # under no zone
    west = zones_frame([box(X0, Y0 - 2000, X0 + 2000, Y0)], [320100])
    assert raster_population(west, write_tif(tmp_path / "p.tif", values)).iloc[0] == 14.0


def test_raster_absurd_sum_is_refused(tmp_path, two_squares):
    values = GRID.copy()
    values[0, 0] = 3e38  # a float32 fill value read as people
    with pytest.raises(DataError, match=r"1 zones sum to more than 1\.5e\+09 .*adcode 320100"):
        raster_population(two_squares, write_tif(tmp_path / "pop.tif", values))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fractional_worldpop_like_raster(tmp_path, two_squares, dtype):
    # WorldPop: fractional people per pixel, float32, nodata -99999
    values = GRID / 8.0
    values[3, 3] = -99999.0
    tif = write_tif(tmp_path / "pop.tif", values, nodata=-99999.0, dtype=dtype)
    pop = raster_population(two_squares, tif)
    assert pop.loc[320100] == pytest.approx(14 / 8)
    assert pop.loc[320200] == pytest.approx((76 - 16) / 8)
    assert (pop >= 0).all()


# --------------------------------------------------------------------------- people_on_grid


def _lonlat_raster(path, values, nodata=None, crs="EPSG:4326"):
    """A north-up raster of 0.001° pixels with its top-left corner at 118° E, 32° N."""
    values = np.asarray(values, dtype="float32")
    with rasterio.open(
        path, "w", driver="GTiff", width=values.shape[1], height=values.shape[0], count=1,
        dtype="float32", crs=crs, transform=Affine(0.001, 0, 118.0, 0, -0.001, 32.0),
        nodata=nodata,
    ) as dst:  # fmt: skip
        dst.write(values, 1)
    return path


TM_118 = "+proj=tmerc +lat_0=0 +lon_0=118 +k=1 +x_0=500000 +y_0=0 +datum=WGS84 +units=m"


def _tm_grid(res):
    from geo5g.project import transform_xy

    x, y = transform_xy([117.99], [32.01], "EPSG:4326", TM_118)
    return Affine(res, 0, float(x[0]), 0, -res, float(y[0]))


def test_people_on_grid_puts_each_pixel_in_the_cell_of_its_centre(tmp_path):
    from geo5g.population import people_on_grid
    from geo5g.project import transform_xy

    values = np.zeros((40, 50))
    values[7, 11] = 5.0
    values[30, 44] = 2.5
    values[0, 0] = -3.0  # negative: nobody
    values[1, 1] = -9999.0  # nodata
    path = _lonlat_raster(tmp_path / "p.tif", values, nodata=-9999.0)
    grid = _tm_grid(250.0)
    out = people_on_grid(path, TM_118, grid, (30, 30))
    assert out.sum() == pytest.approx(7.5)
    for (r, c), people in (((7, 11), 5.0), ((30, 44), 2.5)):
        x, y = transform_xy([118.0 + (c + 0.5) * 0.001], [32.0 - (r + 0.5) * 0.001], 4326, TM_118)
        col, row = (x[0] - grid.c) / grid.a, (y[0] - grid.f) / grid.e
        assert out[int(row), int(col)] == people


@settings(max_examples=10, deadline=None)
@given(arrays(np.float64, (60, 70), elements=st.floats(0, 100)), st.sampled_from([90.0, 333.0]))
def test_people_on_grid_lattice_equals_every_pixel_exact(tmp_path_factory, values, res):
    # the lattice's bilinear centres land every pixel in the same cell as exact ones
    from geo5g.population import people_on_grid

    path = _lonlat_raster(tmp_path_factory.mktemp("pog") / "p.tif", values)
    grid, shape = _tm_grid(res), (int(9000 / res), int(9000 / res))
    fast = people_on_grid(path, TM_118, grid, shape, step=16)
    exact = people_on_grid(path, TM_118, grid, shape, step=1)
    np.testing.assert_allclose(fast, exact, rtol=1e-12, atol=1e-9)
    inside = exact.sum()
    assert inside == pytest.approx(values.astype("float32").astype("float64").sum(), rel=1e-9)


def test_people_on_grid_refuses_a_raster_without_crs(tmp_path):
    from geo5g.population import people_on_grid

    path = tmp_path / "p.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=2, height=2, count=1, dtype="float32",
        transform=Affine(0.001, 0, 118.0, 0, -0.001, 32.0),
    ) as dst:  # fmt: skip
        dst.write(np.ones((2, 2), dtype="float32"), 1)
    with pytest.raises(CRSError, match="no CRS"):
        people_on_grid(path, TM_118, _tm_grid(100.0), (5, 5))
