"""Best-server SS-RSRP rasters: geo5g.signal.

Expected values are written out from TR 38.901 Table 7.4.1-1 with literal numbers
(UMa, 3.5 GHz band of geo5g/settings/linkbudget.toml: 200 W = 53 dBm, 24 dBi, no
feeder, 273 RB), never taken from the functions under test.
"""

import dataclasses
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

from geo5g import signal
from geo5g.errors import CRSError, DataError, InputError
from geo5g.linkbudget import LOS_MODES, SERVICES, LinkBudgetModel, load_link_budget
from geo5g.project import metric_crs, transform_xy
from geo5g.signal import (
    BAND_DESCRIPTIONS,
    population_covered_by_signal,
    rsrp_dbm,
    signal_raster,
    site_rsrp_params,
)

SETTINGS = load_link_budget()
MODEL = LinkBudgetModel(SETTINGS)  # outdoor, p = 0.9, NLOS
CRS = metric_crs((118.9, 31.9, 119.1, 32.1))  # transverse Mercator on 119°E, k = 1 there
X0, Y0 = (float(v[0]) for v in transform_xy([119.0], [32.0], 4326, CRS))  # on the meridian
Z90 = 1.2815515655446004  # Φ⁻¹(0.9)
THRESHOLD = -105.0
# SS-RSRP budget of the 3.5 GHz band: EIRP 53 + 24 dBm, per RE of 12 · 273 subcarriers
P_RE_35 = 53.0 + 24.0 - 10.0 * math.log10(12 * 273)


def uma_nlos_db(d2d, fc=3.5, h_bs=25.0, h_ut=1.5):
    """TR 38.901 UMa NLOS path loss, written out (hE = 1 m)."""
    d3d = math.sqrt(d2d**2 + (h_bs - h_ut) ** 2)
    d_bp = 4.0 * (h_bs - 1.0) * (h_ut - 1.0) * fc * 1e9 / 3e8
    if d2d <= d_bp:
        los = 28.0 + 22.0 * math.log10(d3d) + 20.0 * math.log10(fc)
    else:
        los = (
            28.0
            + 40.0 * math.log10(d3d)
            + 20.0 * math.log10(fc)
            - 9.0 * math.log10(d_bp**2 + (h_bs - h_ut) ** 2)
        )
    nlos = 13.54 + 39.08 * math.log10(d3d) + 20.0 * math.log10(fc) - 0.6 * (h_ut - 1.5)
    return max(los, nlos)


def rsrp_35_uma(d2d, eirp=77.0):
    """SS-RSRP of a 3.5 GHz UMa site outdoors at p = 0.9 (σSF = 6 dB)."""
    p_re = eirp - 10.0 * math.log10(12 * 273)
    return p_re - uma_nlos_db(max(d2d, 10.0)) - Z90 * 6.0


def site_table(xy, **columns):
    """A site table (lon/lat, EPSG:4326) at projected points of CRS."""
    x, y = (np.asarray(v, dtype="float64") for v in zip(*xy, strict=True))
    lon, lat = transform_xy(x, y, CRS, 4326)
    table = pd.DataFrame({"lon": lon, "lat": lat, **columns})
    table.attrs["crs"] = "EPSG:4326"
    return table


def centre(grid, row, col):
    """Pixel centre offset from (X0, Y0) in metres."""
    t = grid.transform
    return t.c + (col + 0.5) * t.a - X0, t.f + (row + 0.5) * t.e - Y0


def random_sites(n, seed, spread=10_000.0):
    rng = np.random.default_rng(seed)
    x, y = X0 + rng.uniform(-spread, spread, n), Y0 + rng.uniform(-spread, spread, n)
    xy = list(zip(x, y, strict=True))
    return site_table(
        xy,
        operator=rng.choice(["China Mobile", "China Unicom", "China Telecom", "中国广电"], n),
        band=rng.choice(["3.5GHz", "2.6GHz", "700MHz", "n79", "2.1GHz", None], n),
        height_m=rng.choice([np.nan, 8.0, 30.0, 45.0], n),
    ), rng.uniform(size=n) < 0.7


# --------------------------------------------------------------------------- the formula


def test_hand_value_of_one_site():
    p = site_rsrp_params(MODEL, pd.DataFrame({"band": ["3.5GHz"]}), np.array([True]))
    assert p.budget_dbm[0] == pytest.approx(P_RE_35, abs=1e-9)
    assert p.fc_ghz[0] == 3.5 and p.h_bs_m[0] == 25.0 and p.h_ut_m[0] == 1.5
    assert p.penetration_db[0] == 0.0 and p.sigma_pen_db[0] == 0.0
    for d in (5.0, 100.0, 560.0, 900.0, 4000.0):  # 5 m: the 10 m value
        assert rsrp_dbm(p, d)[0] == pytest.approx(rsrp_35_uma(d), abs=1e-9)
    assert np.isnan(rsrp_dbm(p, 5001.0)[0])  # beyond UMa's 5 km


@pytest.mark.parametrize("los", LOS_MODES)
@pytest.mark.parametrize("service", SERVICES)
def test_rsrp_at_reach_is_the_threshold(service, los):
    model = LinkBudgetModel(SETTINGS, service=service, probability=0.95, los=los)
    grid = pd.MultiIndex.from_product(
        [list(SETTINGS.bands), ["UMa", "UMi", "RMa"], [np.nan, 12.0, 40.0], [np.nan, 60.0]],
        names=["band", "scenario", "height_m", "eirp_dbm"],
    ).to_frame(index=False)
    urban = (grid["scenario"] != "RMa").to_numpy()
    p = site_rsrp_params(model, grid, urban)
    # the same reach as the model's own (no radius_m here)
    np.testing.assert_allclose(p.reach_m, model.reach_m(grid, urban), rtol=0, atol=1e-9)
    solved = p.limit == "mapl"
    assert solved.sum() >= len(grid) // 3
    got = rsrp_dbm(p, p.reach_m)
    np.testing.assert_allclose(got[solved], THRESHOLD, atol=0.01)
    # clamped at the longest distance: budget left over there
    far = p.limit == "max-distance"
    assert (got[far] >= THRESHOLD - 0.01).all()


@settings(max_examples=60)
@given(
    st.sampled_from(list(SETTINGS.bands)),
    st.sampled_from(["UMa", "UMi", "RMa"]),
    st.floats(3.0, 150.0),
    st.sampled_from(SERVICES),
    st.sampled_from(LOS_MODES),
    st.floats(10.0, 5000.0),
    st.floats(10.0, 5000.0),
)
def test_rsrp_does_not_rise_with_distance(band, scenario, height, service, los, d1, d2):
    model = LinkBudgetModel(SETTINGS, service=service, los=los)
    sites = pd.DataFrame({"band": [band], "scenario": [scenario], "height_m": [height]})
    p = site_rsrp_params(model, sites, np.array([scenario != "RMa"]))
    near, far = sorted((d1, d2))
    a, b = rsrp_dbm(p, near)[0], rsrp_dbm(p, far)[0]
    # RMa LOS's PL2 may step down by < 0.01 dB at the breakpoint (linkbudget notes)
    assert b <= a + 0.01
    if los == "nlos" and scenario == "UMa" and far > near * 1.01:
        assert b < a


def test_rsrp_broadcasts_and_refuses_negative_distances():
    p = site_rsrp_params(MODEL, pd.DataFrame({"band": ["3.5GHz"] * 2}), np.array([True, True]))
    assert rsrp_dbm(p, np.array([[100.0, 200.0], [300.0, 400.0]])).shape == (2, 2)
    with pytest.raises(DataError, match="negative"):
        rsrp_dbm(p, -1.0)
    with pytest.raises(DataError, match="broadcast"):
        rsrp_dbm(p, np.ones(3))


# --------------------------------------------------------------------------- the raster


def test_pixels_equal_the_hand_formula():
    sites = site_table([(X0, Y0)], operator=["China Mobile"], band=["3.5GHz"])
    g = signal_raster(
        sites, MODEL, [True], bounds=(X0 - 1000, Y0 - 1000, X0 + 1000, Y0 + 1000), crs=CRS
    )
    assert g.rsrp_dbm.shape == (20, 20) and g.rsrp_dbm.dtype == np.float32
    # (row, col) → centre offset: (−950 + 100 col, 950 − 100 row)
    for row, col, d in [
        (9, 10, math.hypot(50, 50)),
        (10, 13, math.hypot(350, 50)),
        (4, 16, math.hypot(650, 550)),  # beyond the 560 m breakpoint
        (0, 19, math.hypot(950, 950)),
    ]:
        dx, dy = centre(g, row, col)
        assert math.hypot(dx, dy) == pytest.approx(d, abs=1e-6)
        assert g.rsrp_dbm[row, col] == pytest.approx(rsrp_35_uma(d), abs=1e-3)
    assert (g.operator == 1).all()  # China Mobile everywhere


def test_pixels_beyond_the_cutoff_are_nodata():
    # a 3.5 GHz UMa site is still above −135 dBm at 5 km: its cutoff is UMa's 5 km
    sites = site_table([(X0, Y0)], operator=["China Mobile"], band=["3.5GHz"])
    g = signal_raster(
        sites,
        MODEL,
        [True],
        bounds=(X0 - 8500, Y0 - 8500, X0 + 8500, Y0 + 8500),
        crs=CRS,
        resolution_m=1000,
    )
    assert g.rsrp_dbm.shape == (17, 17)  # centres at −8000 … 8000 m
    assert g.rsrp_dbm[8, 12] == pytest.approx(rsrp_35_uma(4000.0), abs=1e-3)  # (4000, 0)
    assert rsrp_35_uma(5000.0) > THRESHOLD - 30
    for row, col in [(4, 12), (8, 14), (0, 0)]:  # 5657 m, 6000 m, 11.3 km
        assert np.isnan(g.rsrp_dbm[row, col])
        assert g.operator[row, col] == 0 and g.operators[row, col] == 0


def test_a_pixel_between_two_sites_takes_the_stronger():
    sites = site_table(
        [(X0, Y0), (X0, Y0 + 2000)],
        operator=["China Mobile", "China Telecom"],
        band=["3.5GHz", "3.5GHz"],
        eirp_dbm=[77.0, 70.0],
    )
    g = signal_raster(
        sites, MODEL, [True, True], bounds=(X0 - 500, Y0 - 500, X0 + 500, Y0 + 2500), crs=CRS
    )
    # centre (50, 950): 951 m from A, 1051 m from B (7 dB weaker): A serves
    a, b = rsrp_35_uma(math.hypot(50, 950)), rsrp_35_uma(math.hypot(50, 1050), eirp=70.0)
    assert centre(g, 15, 5) == pytest.approx((50.0, 950.0))
    assert a > b and g.rsrp_dbm[15, 5] == pytest.approx(a, abs=1e-3)
    assert g.operator[15, 5] == 1
    # centre (50, 2250): 250 m from B, 2251 m from A: B serves despite its 7 dB less
    a, b = rsrp_35_uma(math.hypot(50, 2250)), rsrp_35_uma(math.hypot(50, 250), eirp=70.0)
    assert centre(g, 2, 5) == pytest.approx((50.0, 2250.0))
    assert b > a and g.rsrp_dbm[2, 5] == pytest.approx(b, abs=1e-3)
    assert g.operator[2, 5] == 3


@pytest.mark.parametrize(
    ("operator", "band", "code", "count"),
    [
        ("China Telecom", "3.5GHz", 3, 2),  # co-built with China Unicom
        ("China Unicom", "2.1GHz", 2, 2),
        ("China Mobile", "2.6GHz", 1, 2),  # China Broadnet users on 2.6 GHz
        ("China Mobile", "700MHz", 1, 2),  # the shared 700 MHz layer
        ("China Mobile", "4.9GHz", 1, 1),  # not shared
    ],
)
def test_operator_count_respects_sharing(operator, band, code, count):
    sites = site_table([(X0, Y0)], operator=[operator], band=[band])
    reach = float(MODEL.reach_m(sites, np.array([True]))[0])
    res = reach / 10
    g = signal_raster(
        sites,
        MODEL,
        [True],
        bounds=(X0 - 3 * reach, Y0 - 3 * reach, X0 + 3 * reach, Y0 + 3 * reach),
        crs=CRS,
        resolution_m=res,
    )
    rows, cols = np.indices(g.rsrp_dbm.shape)
    d = np.hypot(*centre(g, rows, cols))
    inside, outside = d < 0.95 * reach, (d > 1.05 * reach) & np.isfinite(g.rsrp_dbm)
    assert inside.sum() > 100 and outside.sum() > 100
    assert (g.operators[inside] == count).all() and (g.operator[inside] == code).all()
    assert (g.rsrp_dbm[inside] >= THRESHOLD).all()
    assert (g.operators[outside] == 0).all() and (g.operator[outside] == code).all()
    assert (g.rsrp_dbm[outside] < THRESHOLD).all()


def test_operators_restricts_the_count():
    sites = site_table([(X0, Y0)], operator=["China Telecom"], band=["3.5GHz"])
    g = signal_raster(
        sites,
        MODEL,
        [True],
        bounds=(X0 - 500, Y0 - 500, X0 + 500, Y0 + 500),
        crs=CRS,
        operators="联通",
    )
    assert (g.operators == 1).all() and (g.operator == 3).all()


def test_a_point_layer_gives_the_table_s_raster():
    sites, urban = random_sites(30, seed=8, spread=3000)
    layer = gpd.GeoDataFrame(
        sites.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(sites["lon"], sites["lat"]),
        crs=4326,
    ).to_crs(CRS)
    kw = {"bounds": (X0 - 3000, Y0 - 3000, X0 + 3000, Y0 + 3000), "crs": CRS}
    a = signal_raster(sites, MODEL, urban, **kw)
    b = signal_raster(layer, MODEL, urban, **kw)
    np.testing.assert_allclose(a.rsrp_dbm, b.rsrp_dbm, atol=1e-4)
    np.testing.assert_array_equal(a.operators, b.operators)


def test_raster_invariants_and_tile_size_does_not_matter():
    sites, urban = random_sites(120, seed=3)
    kw = {"bounds": (X0 - 6000, Y0 - 6000, X0 + 6000, Y0 + 6000), "crs": CRS, "resolution_m": 150}
    big = signal_raster(sites, MODEL, urban, tile_px=512, **kw)
    small = signal_raster(sites, MODEL, urban, tile_px=16, **kw)
    for a, b in zip(
        (big.rsrp_dbm, big.operator, big.operators),
        (small.rsrp_dbm, small.operator, small.operators),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    value = big.rsrp_dbm[np.isfinite(big.rsrp_dbm)]
    assert value.size and (value >= THRESHOLD - 30 - 1e-3).all()
    assert (big.operators[big.rsrp_dbm < THRESHOLD] == 0).all()
    assert (big.operator[np.isfinite(big.rsrp_dbm)] > 0).all()


def test_distributed_cluster_gives_the_threaded_raster():
    distributed = pytest.importorskip("distributed")
    sites, urban = random_sites(300, seed=11)
    kw = {
        "bounds": (X0 - 10_000, Y0 - 10_000, X0 + 10_000, Y0 + 10_000),
        "crs": CRS,
        "tile_px": 64,
    }
    local = signal_raster(sites, MODEL, urban, **kw)
    assert local.rsrp_dbm.shape == (200, 200)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = signal_raster(sites, MODEL, urban, scheduler=client, **kw)
        by_address = signal_raster(sites, MODEL, urban, scheduler=cluster.scheduler_address, **kw)
    for other in (remote, by_address):
        np.testing.assert_array_equal(other.rsrp_dbm, local.rsrp_dbm)
        np.testing.assert_array_equal(other.operator, local.operator)
        np.testing.assert_array_equal(other.operators, local.operators)
        assert other.transform == local.transform


def test_geotiff_is_tiled_compressed_described_and_written_in_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(signal, "_TILES_PER_BATCH", 3)  # 5 × 5 tiles in 9 batches
    sites, urban = random_sites(60, seed=5, spread=14_000)
    kw = {"bounds": (X0 - 15_000, Y0 - 14_000, X0 + 15_000, Y0 + 14_000), "crs": CRS}
    memory = signal_raster(sites, MODEL, urban, resolution_m=50, **kw)
    assert memory.rsrp_dbm.shape == (560, 600)  # more than one 512-pixel block each way
    path = signal_raster(
        sites, MODEL, urban, resolution_m=50, tile_px=128, out=tmp_path / "s.tif", **kw
    )
    assert path == tmp_path / "s.tif"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.tif"]  # no temporary left
    with rasterio.open(path) as src:
        assert src.count == 3 and src.dtypes == ("float32",) * 3
        assert math.isnan(src.nodata)
        assert src.profile["tiled"] and src.block_shapes == [(512, 512)] * 3
        assert src.compression == rasterio.enums.Compression.zstd
        assert src.descriptions == BAND_DESCRIPTIONS
        assert src.overviews(1) == [2, 4, 8]  # halved while at least 64 pixels wide
        assert src.transform == memory.transform
        assert rasterio.crs.CRS.from_wkt(CRS.to_wkt()) == src.crs
        np.testing.assert_array_equal(src.read(1), memory.rsrp_dbm)
        np.testing.assert_array_equal(src.read(2), memory.operator.astype("float32"))
        np.testing.assert_array_equal(src.read(3), memory.operators.astype("float32"))
    assert np.isnan(memory.rsrp_dbm).any() and np.isfinite(memory.rsrp_dbm).any()


def test_refusals():
    sites = site_table([(X0, Y0)], operator=["China Mobile"], band=["3.5GHz"])
    kw = {"bounds": (X0 - 500, Y0 - 500, X0 + 500, Y0 + 500), "crs": CRS}
    with pytest.raises(CRSError, match="projected CRS in metres"):
        signal_raster(sites, MODEL, [True], **{**kw, "crs": "EPSG:4326"})
    with pytest.raises(DataError, match="bounds"):
        signal_raster(sites, MODEL, [True], **{**kw, "bounds": (1, 1, 0, 2)})
    with pytest.raises(DataError, match="resolution_m"):
        signal_raster(sites, MODEL, [True], resolution_m=0, **kw)
    with pytest.raises(DataError, match="tile_px"):
        signal_raster(sites, MODEL, [True], tile_px=4, **kw)
    with pytest.raises(DataError, match="scheduler"):
        signal_raster(sites, MODEL, [True], scheduler="gpu", **kw)
    with pytest.raises(DataError, match="operator column"):
        signal_raster(sites.drop(columns="operator"), MODEL, [True], **kw)
    with pytest.raises(DataError, match="urban flags"):
        signal_raster(sites, MODEL, [True, False], **kw)
    bare = pd.DataFrame({"lon": [119.0], "lat": [32.0], "operator": ["China Mobile"]})
    with pytest.raises(CRSError, match="attrs"):
        signal_raster(bare, MODEL, [True], **kw)  # a table of lon/lat without a CRS


# --------------------------------------------------------------------------- population


def _population_raster(path):
    """6 × 6 pixels of 500 m centred on (X0, Y0): 2.5 people west, 0.75 east of X0."""
    values = np.full((6, 6), 2.5, dtype="float32")
    values[:, 3:] = 0.75
    values[2, 2] = -99999.0  # nodata, centre (−250, 250): a covered pixel of the west
    values[0, 5] = np.nan  # centre (1250, 1250): not covered, east
    profile = {
        "driver": "GTiff", "width": 6, "height": 6, "count": 1, "dtype": "float32",
        "crs": rasterio.crs.CRS.from_wkt(CRS.to_wkt()), "nodata": -99999.0,
        "transform": Affine(500.0, 0.0, X0 - 1500.0, 0.0, -500.0, Y0 + 1500.0),
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
    return path


def test_population_covered_by_signal_hand_counted(tmp_path):
    sites = site_table([(X0, Y0)], operator=["China Telecom"], band=["3.5GHz"])
    reach = float(MODEL.reach_m(sites, np.array([True]))[0])
    # population centres at (±250 | ±750 | ±1250) m each way; the RSRP pixels that
    # contain them (100 m, edges at 75 + 100 k) have centres at most 807 m from the
    # site where the population centre is within 791 m, else at least 1061 m
    assert 807.0 < reach < 1061.0
    grid = signal_raster(
        sites, MODEL, [True], bounds=(X0 - 1525, Y0 - 1525, X0 + 1525, Y0 + 1525), crs=CRS
    )
    assert grid.rsrp_dbm.shape == (31, 31)
    tif = signal_raster(
        sites, MODEL, [True], bounds=(X0 - 1525, Y0 - 1525, X0 + 1525, Y0 + 1525), crs=CRS,
        out=tmp_path / "rsrp.tif",
    )  # fmt: skip
    pop = _population_raster(tmp_path / "pop.tif")
    zones = gpd.GeoDataFrame(
        geometry=[
            shapely.box(X0 - 1500, Y0 - 1500, X0, Y0 + 1500),
            shapely.box(X0, Y0 - 1500, X0 + 1500, Y0 + 1500),
            shapely.box(X0 + 9000, Y0, X0 + 9500, Y0 + 500),  # no pixel
        ],
        index=pd.Index([320100, 320200, 320300], name="adcode"),
        crs=CRS,
    )
    # covered: the 4 × 4 centres within 791 m but the 4 corners at 1061 m = 12 pixels,
    # 6 west (one is nodata) and 6 east; each zone has 18 pixels, one of them empty
    expected = pd.DataFrame(
        {
            "population": [17 * 2.5, 17 * 0.75, 0.0],
            "covered": [5 * 2.5, 6 * 0.75, 0.0],
            "share": [5 / 17, 6 / 17, np.nan],
        },
        index=zones.index,
    )
    for source in (grid, tif, (grid.rsrp_dbm, grid.transform, grid.crs)):
        out = population_covered_by_signal(source, pop, zones, THRESHOLD)
        pd.testing.assert_frame_equal(out, expected)
    # zones in degrees are moved to the raster's CRS
    out = population_covered_by_signal(tif, pop, zones.to_crs(4326), THRESHOLD)
    pd.testing.assert_frame_equal(out, expected)
    total = population_covered_by_signal(tif, pop, None, THRESHOLD)
    assert total.loc["total"].tolist() == [17 * 3.25, 5 * 2.5 + 6 * 0.75, 17.0 / 55.25]
    # a higher threshold covers fewer people
    strict = population_covered_by_signal(tif, pop, zones, -80.0)
    assert (strict["covered"] <= expected["covered"]).all()
    assert strict["covered"].sum() < expected["covered"].sum()


def test_population_refusals(tmp_path):
    pop = _population_raster(tmp_path / "pop.tif")
    grid = (np.zeros((2, 2), dtype="float32"), Affine(1, 0, 0, 0, -1, 2), CRS)
    with pytest.raises(DataError, match="threshold_dbm"):
        population_covered_by_signal(grid, pop, None, float("nan"))
    with pytest.raises(InputError, match="cannot open"):
        population_covered_by_signal(grid, tmp_path / "missing.tif", None, THRESHOLD)


# --------------------------------------------------------------------------- compiled kernel


def numpy_raster(*args, **kwargs):
    """signal_raster computed by the numpy reference tiles instead of the numba kernel."""
    kernel = signal._kernel
    signal._kernel = lambda: None
    try:
        return signal_raster(*args, **kwargs)
    finally:
        signal._kernel = kernel


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(list(SETTINGS.bands)),
    st.sampled_from(["UMa", "UMi", "RMa"]),
    st.floats(3.0, 150.0),
    st.sampled_from(SERVICES),
    st.sampled_from(LOS_MODES),
    st.sampled_from([0.5, 0.9, 0.99]),
)
def test_kernel_terms_give_rsrp_dbm(band, scenario, height, service, los, probability):
    model = LinkBudgetModel(SETTINGS, service=service, probability=probability, los=los)
    sites = pd.DataFrame({"band": [band], "scenario": [scenario], "height_m": [height]})
    p = site_rsrp_params(model, sites, np.array([scenario != "RMa"]))
    cf = signal._coefficients(p)
    mode = signal._LOS_CODE[los]
    edges = [0.0, 5.0, 10.0, 18.0, 5000.0, 5000.5, 10_000.0]
    d = np.concatenate([edges, np.geomspace(1, 12e3, 60)])
    want = rsrp_dbm(p, d[:, None])[:, 0]
    got = np.array([signal._value(cf, 0, float(v), p.z, mode) for v in d])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)], rtol=0, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 60),
    st.integers(0, 2**16),
    st.sampled_from(SERVICES),
    st.sampled_from(LOS_MODES),
    st.sampled_from([0.5, 0.9, 0.99]),
    st.sampled_from([37.0, 150.0, 400.0]),
    st.integers(0, 5),
)
def test_kernel_equals_the_numpy_reference(n, seed, service, los, probability, res, twins):
    sites, urban = random_sites(n, seed, spread=8000.0)
    if twins:  # co-located copies of the first site: ties go to the earlier site
        sites = pd.concat([sites, sites.iloc[[0] * twins]], ignore_index=True)
        sites.attrs["crs"] = "EPSG:4326"
        urban = np.concatenate([urban, np.repeat(urban[:1], twins)])
    model = LinkBudgetModel(SETTINGS, service=service, probability=probability, los=los)
    kw = {
        "bounds": (X0 - 9000, Y0 - 7000, X0 + 9000, Y0 + 7000),
        "crs": CRS,
        "resolution_m": res,
        "tile_px": 32,
    }
    got = signal_raster(sites, model, urban, **kw)
    want = numpy_raster(sites, model, urban, **kw)
    np.testing.assert_array_equal(np.isnan(got.rsrp_dbm), np.isnan(want.rsrp_dbm))
    np.testing.assert_allclose(got.rsrp_dbm, want.rsrp_dbm, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(got.operator, want.operator)
    np.testing.assert_array_equal(got.operators, want.operators)


def test_kernel_prunes_only_where_the_rsrp_falls_with_distance():
    sites, urban = random_sites(5, seed=1)
    assert signal._kernel() is not None  # numba is a dependency: the tests run the kernel
    assert signal._may_prune(site_rsrp_params(MODEL, sites, urban))
    params = site_rsrp_params(MODEL, sites, urban)
    # Φ⁻¹(p) < 0 (p < 0.5, which the model refuses): RMa's LOS σ step would raise the RSRP
    assert not signal._may_prune(dataclasses.replace(params, z=-0.5))


def test_kernel_equals_the_reference_on_a_dense_network():
    # many overlapping cells: the block bounds of the kernel prune most sites here
    sites, urban = random_sites(400, seed=5, spread=6000.0)
    kw = {"bounds": (X0 - 7000, Y0 - 7000, X0 + 7000, Y0 + 7000), "crs": CRS, "resolution_m": 70}
    for model in (MODEL, LinkBudgetModel(SETTINGS, service="indoor", los="weighted")):
        got = signal_raster(sites, model, urban, **kw)
        want = numpy_raster(sites, model, urban, **kw)
        np.testing.assert_array_equal(np.isnan(got.rsrp_dbm), np.isnan(want.rsrp_dbm))
        np.testing.assert_allclose(got.rsrp_dbm, want.rsrp_dbm, rtol=0, atol=1e-4)
        np.testing.assert_array_equal(got.operator, want.operator)
        np.testing.assert_array_equal(got.operators, want.operators)
