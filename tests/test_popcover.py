"""Population within reach of sites: geo5g.popcover."""

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st

from geo5g.errors import CRSError, DataError, InputError
from geo5g.popcover import POPCOVER_COLUMNS, coverage_mask, covered_population

UTM = "EPSG:32650"  # metres
# a 1 km² city of 10 m pixels, its lower left corner at (500 000, 3 500 000)
X0, Y0 = 500_000.0, 3_500_000.0
FINE = Affine(10.0, 0.0, X0, 0.0, -10.0, Y0 + 1000.0)


def _brute_force(shape, transform, x, y, reach, metres=(1.0, 1.0)):
    """Pixel centres within reach of some site, by comparing every pixel with every site."""
    rows, cols = np.indices(shape)
    cx = transform.c + (cols + 0.5) * transform.a
    cy = transform.f + (rows + 0.5) * transform.e
    dx = (cx[..., None] - np.asarray(x)) * metres[0]
    dy = (cy[..., None] - np.asarray(y)) * metres[1]
    return (dx**2 + dy**2 <= np.asarray(reach) ** 2).any(axis=-1)


def test_one_site_in_a_square_km_covers_pi_r_squared():
    pop = np.ones((100, 100))
    for r in (50.0, 100.0, 200.0):
        out = covered_population(pop, ([X0 + 500.0], [Y0 + 500.0]), r, transform=FINE, crs=UTM)
        assert list(out.columns) == list(POPCOVER_COLUMNS)
        assert out.loc["total", "population"] == 10_000
        assert out.loc["total", "share"] == pytest.approx(math.pi * r**2 / 1e6, rel=0.03)


def test_hand_counted_pixels():
    # 100 m pixels; a site at the shared corner of four pixels reaching 250 m covers the
    # centres at (±50, ±50) and (±50, ±150) and (±150, ±150) metres: 16 pixels
    grid = Affine(100.0, 0.0, 0.0, 0.0, -100.0, 1000.0)
    out = covered_population(np.ones((10, 10)), ([500.0], [500.0]), 250.0, transform=grid, crs=UTM)
    assert out.loc["total", "covered"] == 16
    assert out.loc["total", "share"] == 0.16


def test_a_pixel_centre_exactly_at_reach_is_covered():
    mask = coverage_mask((3, 3), Affine(1, 0, 0, 0, -1, 3), UTM, ([1.5], [1.5]), 1.0)
    assert mask.astype(int).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]


@pytest.mark.parametrize("block_rows", [1, 7, 256])
def test_mask_matches_brute_force_and_block_rows_do_not_matter(block_rows):
    rng = np.random.default_rng(5)
    x = X0 + rng.uniform(-100, 1100, 40)
    y = Y0 + rng.uniform(-100, 1100, 40)
    reach = rng.uniform(5, 120, 40)
    pop = rng.uniform(0, 3, (100, 100))
    out = covered_population(pop, (x, y), reach, transform=FINE, crs=UTM, block_rows=block_rows)
    want = _brute_force(pop.shape, FINE, x, y, reach)
    assert out.loc["total", "covered"] == pytest.approx(pop[want].sum())
    assert (coverage_mask(pop.shape, FINE, UTM, (x, y), reach) == want).all()


def test_geographic_raster_uses_metres_on_the_ellipsoid():
    # 0.0001° pixels near Nanjing (32°N): about 9.4 m × 11.1 m
    res = 1e-4
    grid = Affine(res, 0.0, 118.79, 0.0, -res, 32.07)
    lon, lat = 118.79 + 50 * res, 32.07 - 50 * res
    mask = coverage_mask((100, 100), grid, "EPSG:4326", ([lon], [lat]), 300.0)
    area_px = (res * 94_450.0) * (res * 110_860.0)  # metres per degree at 32°N (WGS-84)
    assert mask.sum() * area_px == pytest.approx(math.pi * 300.0**2, rel=0.02)
    # the disk is round in metres, so taller than wide in pixels
    rows, cols = np.nonzero(mask)
    assert np.ptp(cols) > np.ptp(rows)


def test_sites_layer_is_transformed_to_the_raster_crs():
    sites = gpd.GeoDataFrame(geometry=[shapely.Point(X0 + 500.0, Y0 + 500.0)], crs=UTM)
    wgs = sites.to_crs(4326)
    pop = np.ones((100, 100))
    a = covered_population(pop, sites, 200.0, transform=FINE, crs=UTM)
    b = covered_population(pop, wgs, 200.0, transform=FINE, crs=UTM)
    assert a.loc["total", "covered"] == b.loc["total", "covered"] > 0


def test_zones_split_the_population():
    zones = gpd.GeoDataFrame(
        {"name": ["west", "east"]},
        geometry=[
            shapely.box(X0, Y0, X0 + 500, Y0 + 1000),
            shapely.box(X0 + 500, Y0, X0 + 1000, Y0 + 1000),
        ],
        index=pd.Index([320101, 320102], name="adcode"),
        crs=UTM,
    )
    pop = np.ones((100, 100))
    out = covered_population(
        pop, ([X0 + 250.0], [Y0 + 500.0]), 100.0, zones, transform=FINE, crs=UTM
    )
    assert out.index.tolist() == [320101, 320102]
    assert out["population"].tolist() == [5000, 5000]
    assert out.loc[320102, "covered"] == 0
    assert out.loc[320101, "share"] == pytest.approx(math.pi * 100**2 / 5e5, rel=0.05)
    # zones in another CRS are reprojected to the raster's
    again = covered_population(
        pop, ([X0 + 250.0], [Y0 + 500.0]), 100.0, zones.to_crs(4326), transform=FINE, crs=UTM
    )
    assert again["covered"].sum() == pytest.approx(out["covered"].sum(), rel=0.01)


def test_zone_without_people_has_nan_share():
    zones = gpd.GeoDataFrame(
        geometry=[shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)],
        index=pd.Index([1], name="adcode"),
        crs=UTM,
    )
    out = covered_population(
        np.zeros((100, 100)), ([X0 + 500.0], [Y0 + 500.0]), 100.0, zones, transform=FINE, crs=UTM
    )
    assert out.loc[1, "population"] == 0 and np.isnan(out.loc[1, "share"])


def test_nodata_and_nan_count_as_zero(tmp_path):
    pop = np.ones((100, 100), dtype="float32")
    pop[:10] = -1.0  # nodata
    pop[10:20] = np.nan
    path = tmp_path / "pop.tif"
    with rasterio.open(
        path, "w", driver="GTiff", height=100, width=100, count=1, dtype="float32",
        crs=UTM, transform=FINE, nodata=-1.0,
    ) as dst:  # fmt: skip
        dst.write(pop, 1)
    from_file = covered_population(path, ([X0 + 500.0], [Y0 + 500.0]), 2000.0)
    assert from_file.loc["total", "population"] == 8000
    assert from_file.loc["total", "share"] == 1.0
    # the same as an array, and the caller's array is left alone
    again = covered_population(
        pop, ([X0 + 500.0], [Y0 + 500.0]), 2000.0, transform=FINE, crs=UTM, nodata=-1.0
    )
    assert again.loc["total", "population"] == 8000
    assert np.isnan(pop[15, 0])


@pytest.mark.parametrize("sites", [([], []), (np.array([X0 - 1e6]), np.array([Y0]))])
def test_no_site_or_far_away_covers_nobody(sites):
    reach = 500.0 if len(sites[0]) else []
    out = covered_population(np.ones((100, 100)), sites, reach, transform=FINE, crs=UTM)
    assert out.loc["total", "covered"] == 0
    assert out.loc["total", "share"] == 0


def test_errors(tmp_path):
    pop = np.ones((10, 10))
    with pytest.raises(DataError, match="reach must be finite and > 0"):
        covered_population(pop, ([X0], [Y0]), 0.0, transform=FINE, crs=UTM)
    with pytest.raises(DataError, match="needs transform= and crs="):
        covered_population(pop, ([X0], [Y0]), 10.0)
    with pytest.raises(DataError, match="rotated"):
        covered_population(pop, ([X0], [Y0]), 10.0, transform=Affine(1, 0.5, 0, 0, -1, 0), crs=UTM)
    with pytest.raises(CRSError, match="no CRS"):
        covered_population(
            pop, gpd.GeoDataFrame(geometry=[shapely.Point(X0, Y0)]), 10.0, transform=FINE, crs=UTM
        )
    with pytest.raises(DataError, match="single point"):
        covered_population(
            pop,
            gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs=UTM),
            10.0,
            transform=FINE,
            crs=UTM,
        )
    with pytest.raises(InputError, match="cannot open the raster"):
        covered_population(tmp_path / "missing.tif", ([X0], [Y0]), 10.0)
    with pytest.raises(DataError, match="block_rows"):
        covered_population(pop, ([X0], [Y0]), 10.0, transform=FINE, crs=UTM, block_rows=0)


_coords = st.floats(-50, 1050, allow_nan=False)
_site = st.tuples(_coords, _coords, st.floats(1, 400))


@settings(max_examples=40, deadline=None)
@given(st.lists(_site, max_size=12), _site)
def test_adding_a_site_never_lowers_coverage(sites, extra):
    rng = np.random.default_rng(len(sites))
    pop = rng.uniform(0, 5, (40, 40))
    grid = Affine(25.0, 0.0, X0, 0.0, -25.0, Y0 + 1000.0)

    def run(points):
        x = [X0 + p[0] for p in points]
        y = [Y0 + p[1] for p in points]
        reach = [p[2] for p in points] if points else []
        return covered_population(pop, (x, y), reach, transform=grid, crs=UTM).loc["total"]

    before, after = run(sites), run([*sites, extra])
    assert after["covered"] >= before["covered"]
    assert 0.0 <= before["share"] <= after["share"] <= 1.0
    assert before["covered"] <= before["population"] + 1e-9


@pytest.fixture(params=["numpy", "compiled"])
def stamp_path(request, monkeypatch):
    """Run a test through either stamping path: NumPy (few sites) or numba (millions)."""
    from geo5g import _stamp

    monkeypatch.setattr(_stamp, "compiled", lambda n: request.param == "compiled")
    return request.param


@pytest.mark.parametrize("block_rows", [1, 7, 256])
def test_both_stamping_paths_match_brute_force(stamp_path, block_rows):
    rng = np.random.default_rng(11)
    n = 60
    x = X0 + rng.uniform(-200, 1200, n)
    y = Y0 + rng.uniform(-200, 1200, n)
    y[:3] = [np.nan, Y0 + 1e12, Y0 - 1e12]  # no position, far above, far below the raster
    reach = rng.uniform(5, 150, n)
    pop = rng.uniform(0, 3, (100, 100))
    finite = np.isfinite(y)
    want = _brute_force(pop.shape, FINE, x[finite], y[finite], reach[finite])
    assert (coverage_mask(pop.shape, FINE, UTM, (x, y), reach) == want).all()
    out = covered_population(pop, (x, y), reach, transform=FINE, crs=UTM, block_rows=block_rows)
    assert out.loc["total", "covered"] == pytest.approx(pop[want].sum())


def test_both_stamping_paths_cover_a_centre_exactly_at_reach(stamp_path):
    mask = coverage_mask((3, 3), Affine(1, 0, 0, 0, -1, 3), UTM, ([1.5], [1.5]), 1.0)
    assert mask.astype(int).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]


@settings(max_examples=30, deadline=None)
@given(st.lists(_site, min_size=1, max_size=30), st.sampled_from([UTM, "EPSG:4326"]))
def test_property_compiled_and_numpy_stamps_are_identical(sites, crs):
    from geo5g import _stamp

    x = np.array([p[0] for p in sites])
    y = np.array([p[1] for p in sites])
    reach = np.array([p[2] for p in sites])
    if crs == UTM:
        x, y, grid = X0 + x, Y0 + y, Affine(25.0, 0.0, X0, 0.0, -25.0, Y0 + 1000.0)
    else:  # a degree grid near 32° N: sites 0–1 km as 1e-5 degrees, reach in metres
        x, y, grid = 118.0 + x * 1e-5, 32.0 + y * 1e-5, Affine(2e-4, 0, 118.0, 0, -2e-4, 32.01)
    masks = []
    for compiled in (False, True):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_stamp, "compiled", lambda n, c=compiled: c)
            masks.append(coverage_mask((50, 50), grid, crs, (x, y), reach))
    assert (masks[0] == masks[1]).all()
