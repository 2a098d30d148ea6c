"""Tests for geo5g.demo: allocation, sampling, calibration, reproducibility."""

from __future__ import annotations

import re
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo5g import demo
from geo5g.demo import (
    Calibration,
    SyntheticModel,
    allocate_city_totals,
    allocate_county_totals,
    load_calibration,
    synthetic_sites,
    synthetic_sites_national,
)
from geo5g.errors import CRSError, DataError, InputError
from geo5g.sites import SITE_COLUMNS, read_sites

DATA = Path(__file__).resolve().parent.parent / "data"
QUIET = SyntheticModel(city_noise=0.0)


def _grid_counties(cities, size=0.1):
    """2 × 2 counties of ``size`` degrees per city; the south-west one is urban (区)."""
    rows = []
    for city, (x0, y0) in cities.items():
        for k in range(4):
            x, y = x0 + size * (k % 2), y0 + size * (k // 2)
            rows.append(
                {
                    "adcode": city + k + 1,
                    "city_adcode": city,
                    "urban": k == 0,
                    "geometry": shapely.box(x, y, x + size, y + size),
                }
            )
    return gpd.GeoDataFrame(rows, crs="EPSG:4326").set_index("adcode")


@pytest.fixture
def counties():
    return _grid_counties({320100: (118.0, 32.0), 320200: (119.0, 32.0), 320300: (118.0, 33.0)})


@pytest.fixture
def population():
    return pd.Series([1_000_000, 600_000, 150_000], index=[320100, 320200, 320300])


def _county_of(sites, counties):
    point, zone = counties.sindex.query(sites.geometry, predicate="within")
    out = pd.Series(np.nan, index=sites.index)
    out.iloc[point] = counties.index.to_numpy()[zone]
    return out


# --------------------------------------------------------------------------- apportion


@settings(max_examples=60, deadline=None)
@given(
    weights=st.lists(st.floats(0.001, 1e6), min_size=1, max_size=30),
    total=st.integers(0, 10**7),
    n_groups=st.integers(1, 4),
    data=st.data(),
)
def test_apportion_is_exact_and_within_one_of_quota(weights, total, n_groups, data):
    n_groups = min(n_groups, len(weights))
    groups = np.arange(len(weights)) % n_groups
    totals = np.array(
        data.draw(st.lists(st.integers(0, total), min_size=n_groups, max_size=n_groups))
    )
    out = demo._apportion(weights, totals, groups)
    assert out.dtype == np.int64 and (out >= 0).all()
    np.testing.assert_array_equal(np.bincount(groups, weights=out, minlength=n_groups), totals)
    w = np.asarray(weights)
    quota = totals[groups] * w / np.bincount(groups, weights=w)[groups]
    assert (np.abs(out - quota) < 1 + 1e-6).all()


def test_apportion_hand_checked():
    # quotas 3.5, 3.5, 3.0 of 10 → floors 3, 3, 3 + one for the first tied remainder
    assert demo._apportion([7, 7, 6], [10], [0, 0, 0]).tolist() == [4, 3, 3]
    assert demo._apportion([1, 1], [0], [0, 0]).tolist() == [0, 0]


def test_apportion_rejects_group_without_weight():
    with pytest.raises(DataError, match="without weight"):
        demo._apportion([0.0, 0.0], [5], [0, 0])


# --------------------------------------------------------------------------- cities


def test_city_totals_exact_and_denser_cities_higher():
    pop = pd.Series([1_000_000, 1_000_000, 1_000_000], index=[330200, 330300, 330400])
    area = pd.Series([250.0, 1000.0, 4000.0], index=pop.index)
    out = allocate_city_totals(pop, area, total=9000, model=QUIET)
    assert out.name == "stations" and out.index.name == "adcode"
    assert out.sum() == 9000
    # density 4000, 1000, 250 per km²; per-10k ∝ sqrt(relative density) = 2 : 1 : 0.5
    assert out.tolist() == [5143, 2571, 1286]


def test_city_capital_bonus():
    pop = pd.Series([1_000_000, 1_000_000], index=[360100, 360200])
    area = pd.Series([1000.0, 1000.0], index=pop.index)
    out = allocate_city_totals(pop, area, total=2200, model=QUIET)
    assert out.tolist() == [1200, 1000]  # capital_factor 1.2


def test_anchor_honoured_exactly():
    pop = pd.Series([9_314_685, 7_462_135, 4_986_192], index=[320100, 320200, 321300])
    area = pd.Series([6587.0, 4627.0, 8555.0], index=pop.index)
    out = allocate_city_totals(pop, area, total=60_000, anchors={320100: 43.04}, seed=3)
    assert out[320100] == round(43.04 * 931.4685)
    assert out.sum() == 60_000


@pytest.mark.parametrize(
    ("anchors", "total", "message"),
    [
        ({320100: 200.0}, 1000, "anchors need"),
        ({999999: 10.0}, 1000, "not in the population"),
        (None, -1, "negative"),
    ],
)
def test_city_totals_errors(anchors, total, message):
    pop = pd.Series([100_000, 200_000], index=[320100, 320200])
    area = pd.Series([10.0, 20.0], index=pop.index)
    with pytest.raises(DataError, match=message):
        allocate_city_totals(pop, area, total=total, anchors=anchors)


@pytest.mark.parametrize("bad", [0, np.nan, -5])
def test_city_totals_reject_bad_population(bad):
    pop = pd.Series([100_000, bad], index=[320100, 320200])
    area = pd.Series([10.0, 20.0], index=pop.index)
    with pytest.raises(
        DataError, match=r"population missing or not positive for cities \[320200\]"
    ):
        allocate_city_totals(pop, area, total=10)


def test_empty_population():
    with pytest.raises(DataError, match="no cities"):
        allocate_city_totals(pd.Series(dtype="float64"), pd.Series(dtype="float64"), total=0)


# --------------------------------------------------------------------------- counties


def test_county_totals_urban_share(counties):
    city_totals = pd.Series([4000, 600, 0], index=[320100, 320200, 320300])
    out = allocate_county_totals(counties, city_totals)
    assert out.name == "stations"
    assert out.groupby(counties["city_adcode"]).sum().tolist() == [4000, 600, 0]
    # four near-equal areas; the urban one weighs 3: 3/6 of the city's stations
    assert out[320101] == pytest.approx(2000, abs=2)
    assert out[320102] == pytest.approx(out[320103], abs=2)
    assert (out[[320101, 320201]] > 2.9 * out[[320102, 320202]].to_numpy()).all()


def test_county_totals_city_without_counties(counties):
    with pytest.raises(DataError, match=r"no counties: \[999900\]"):
        allocate_county_totals(counties, pd.Series([10], index=[999900]))


# --------------------------------------------------------------------------- synthetic_sites


def test_synthetic_sites_contract_and_calibration(counties, population):
    sites = synthetic_sites(
        counties, population, total=12_345, seed=7, as_of="2023-06-30", anchors={320300: 20.0}
    )
    assert list(sites.columns) == [*SITE_COLUMNS, "geometry"]
    assert sites.crs.to_epsg() == 4326
    assert len(sites) == 12_345
    assert sites.attrs["synthetic"] is True and sites.attrs["seed"] == 7
    assert "SYNTHETIC" in sites.attrs["source"]
    assert sites["site_id"].is_unique
    assert all(re.fullmatch(r"SYN-JS-\d{6}", s) for s in sites["site_id"].iloc[[0, -1]])
    assert sites["site_id"].iloc[0] == "SYN-JS-000001"
    assert sites["radius_m"].isna().all()
    # every point inside the county it was drawn for
    county = _county_of(sites, counties)
    assert county.notna().all()
    city_pop = population.reindex(counties["city_adcode"]).set_axis(counties.index)
    expected = allocate_county_totals(
        counties,
        allocate_city_totals(
            population,
            pd.Series(demo._area_km2(counties), index=counties.index)
            .groupby(counties["city_adcode"])
            .sum(),
            total=12_345,
            anchors={320300: 20.0},
            seed=7,
        ),
    )
    pd.testing.assert_series_equal(
        county.value_counts().reindex(counties.index, fill_value=0).rename("stations"),
        expected,
        check_names=False,
        check_index_type=False,
    )
    # the anchor: 20 per 10k of 150,000 residents
    per_city = county.map(counties["city_adcode"]).value_counts()
    assert per_city[320300] == 300
    assert city_pop.notna().all()


def test_synthetic_sites_operators_bands_dates(counties, population):
    sites = synthetic_sites(counties, population, total=20_000, seed=1, as_of="2022-09-30")
    shares = sites["operator"].value_counts(normalize=True)
    assert shares["China Mobile"] == pytest.approx(0.5, abs=0.02)
    assert shares["China Telecom"] + shares["China Unicom"] == pytest.approx(0.4, abs=0.02)
    assert shares["China Broadnet"] == pytest.approx(0.1, abs=0.01)
    bands = sites.groupby("operator")["band"].unique().map(set)
    assert bands["China Broadnet"] == {"700MHz"}
    assert bands["China Mobile"] == {"2.6GHz", "700MHz", "4.9GHz"}
    assert bands["China Telecom"] == bands["China Unicom"] == {"3.5GHz", "2.1GHz"}
    assert sites["commissioned"].min() >= pd.Timestamp("2019-06-06")
    assert sites["commissioned"].max() <= pd.Timestamp("2022-09-30")
    late = sites["band"].isin(["700MHz", "2.1GHz"])
    assert sites.loc[late, "commissioned"].min() >= pd.Timestamp("2021-01-01")
    assert (sites["commissioned"] == sites["commissioned"].dt.normalize()).all()


def test_synthetic_sites_follow_growth_curve(counties, population):
    growth = pd.Series(
        [0, 100, 1000], index=pd.to_datetime(["2020-01-01", "2021-01-01", "2022-01-01"])
    )
    model = SyntheticModel(band_start=())
    sites = synthetic_sites(
        counties, population, total=20_000, seed=2, as_of="2022-01-01", growth=growth, model=model
    )
    early = (sites["commissioned"] < pd.Timestamp("2021-01-01")).mean()
    assert early == pytest.approx(0.1, abs=0.01)


def test_growth_curve_extended_past_last_point(counties, population):
    growth = pd.Series([0, 1000], index=pd.to_datetime(["2020-01-01", "2021-01-01"]))
    sites = synthetic_sites(
        counties,
        population,
        total=4000,
        seed=2,
        as_of="2022-01-01",
        growth=growth,
        model=SyntheticModel(band_start=()),
    )
    # the slope continues: half the stations after the last published point
    assert (sites["commissioned"] >= pd.Timestamp("2021-01-01")).mean() == pytest.approx(
        0.5, abs=0.03
    )


def test_as_of_before_curve(counties, population):
    with pytest.raises(DataError, match="growth curve"):
        synthetic_sites(counties, population, total=10, as_of="2010-01-01")


def test_same_seed_same_output(counties, population):
    a = synthetic_sites(counties, population, total=3000, seed=11)
    b = synthetic_sites(counties.sample(frac=1.0, random_state=3), population, total=3000, seed=11)
    c = synthetic_sites(counties, population, total=3000, seed=12)
    pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b))
    assert not np.array_equal(a["lon"], c["lon"])


def test_zero_sites(counties, population):
    sites = synthetic_sites(counties, population, total=0)
    assert len(sites) == 0 and list(sites.columns) == [*SITE_COLUMNS, "geometry"]


def test_thin_sliver_county_still_gets_its_points():
    zones = gpd.GeoDataFrame(
        {"city_adcode": [320100, 320100], "urban": [True, False]},
        geometry=[shapely.box(118, 32, 118.1, 32.1), shapely.box(118.1, 32, 118.10001, 32.3)],
        index=pd.Index([320102, 320111], name="adcode"),
        crs=4326,
    )
    sites = synthetic_sites(zones, pd.Series([1e6], index=[320100]), total=500, seed=0)
    inside = shapely.contains_xy(zones.geometry.iloc[1], sites["lon"], sites["lat"])
    assert inside.sum() > 0
    assert _county_of(sites, zones).notna().all()


def test_missing_population_and_crs(counties, population):
    with pytest.raises(DataError, match=r"no population for cities \[320300\]"):
        synthetic_sites(counties, population.drop(320300), total=10)
    with pytest.raises(CRSError, match="no CRS"):
        synthetic_sites(counties.set_crs(None, allow_override=True), population, total=10)
    with pytest.raises(DataError, match="missing columns urban"):
        synthetic_sites(counties.drop(columns="urban"), population, total=10)


def test_projected_counties_accepted(counties, population):
    a = synthetic_sites(counties, population, total=500, seed=4)
    b = synthetic_sites(counties.to_crs(32650), population, total=500, seed=4)
    np.testing.assert_allclose(a["lon"], b["lon"], atol=1e-6)


# --------------------------------------------------------------------------- calibration


def test_load_calibration_jiangsu_and_jiangxi():
    js = load_calibration("jiangsu")
    assert (js.total, js.code, js.as_of) == (227_000, "JS", pd.Timestamp("2023-12-31"))
    assert js.anchors == {320100: 43.04}
    assert js.growth.is_monotonic_increasing and js.growth.index.is_monotonic_increasing
    assert js.growth.iloc[-1] == js.total
    jx = load_calibration("jiangxi")
    assert (jx.total, jx.as_of) == (62_000, pd.Timestamp("2022-09-30"))
    national = load_calibration("national")
    assert national.total == 4_800_000
    assert sum(s for s, _ in national.regions.values()) == 3_916_000
    provinces = [p for _, ps in national.regions.values() for p in ps]
    assert len(provinces) == len(set(provinces)) == 31


def test_load_calibration_errors(tmp_path):
    with pytest.raises(DataError, match="no section 'tibet'"):
        load_calibration("tibet")
    bad = tmp_path / "c.toml"
    bad.write_text("[x]\nname = 'X'\n")
    with pytest.raises(DataError, match="malformed"):
        load_calibration("x", bad)
    bad.write_text("[x\n")
    with pytest.raises(DataError, match="not valid TOML"):
        load_calibration("x", bad)
    with pytest.raises(InputError, match="cannot read"):
        load_calibration("x", tmp_path / "missing.toml")


def test_write_demo_sites_unknown_province():
    with pytest.raises(InputError, match="jiangsu, jiangxi"):
        demo.write_demo_sites("atlantis")


# --------------------------------------------------------------------------- national


def _national_fixture():
    # one city per province: two East (11, 32), one Central (36), one "HK" (81)
    cities = gpd.GeoDataFrame(
        {"province_adcode": [110000, 320000, 360000, 810000]},
        geometry=[
            shapely.box(116, 39, 117, 40),
            shapely.box(118, 32, 119, 33),
            shapely.box(115, 28, 116, 29),
            shapely.box(114, 22, 114.3, 22.4),
        ],
        index=pd.Index([110100, 320100, 360100, 810000], name="adcode"),
        crs=4326,
    )
    census = pd.Series([2_000_000, 2_000_000, 4_000_000, 7_000_000], index=cities.index)
    cal = Calibration(
        key="national",
        name="test",
        code="CN",
        total=1000,
        as_of=pd.Timestamp("2024-06-30"),
        seed=1,
        growth=pd.Series([0, 100], index=pd.to_datetime(["2019-06-06", "2024-06-30"])),
        regions={"east": (600, (11, 32)), "central": (200, (36,))},
    )
    return cities, census, cal


def test_national_regional_factor():
    cities, census, cal = _national_fixture()
    sites = synthetic_sites_national(
        cities, census, total=8000, seed=5, as_of="2024-06-30", calibration=cal
    )
    assert len(sites) == 8000 and sites.attrs["synthetic"] is True
    where = _county_of(sites, cities)
    counts = where.value_counts().reindex(cities.index, fill_value=0)
    # East holds 3/4 of the stations with half the residents: 6000 vs 2000
    assert counts[[110100, 320100]].sum() == 6000
    assert counts[360100] == 2000
    assert counts[810000] == 0  # outside the four regions
    assert sites["site_id"].iloc[-1] == "SYN-CN-008000"


def test_national_needs_population():
    cities, census, cal = _national_fixture()
    with pytest.raises(DataError, match=r"no population for cities \[360100\]"):
        synthetic_sites_national(cities, census.drop(360100), total=10, calibration=cal)
    with pytest.raises(DataError, match="province_adcode"):
        synthetic_sites_national(cities.drop(columns="province_adcode"), census, calibration=cal)


# --------------------------------------------------------------------------- bundled demo files


@pytest.mark.parametrize("province", ["jiangsu", "jiangxi"])
def test_bundled_demo_files(province):
    path = DATA / "sites" / f"{province}_5g_sites_SYNTHETIC.parquet"
    if not path.exists():
        pytest.skip(f"{path.name} not generated yet (python -m geo5g demo-sites)")
    cal = load_calibration(province)
    sites = read_sites(path)
    assert sites.attrs["synthetic"] is True
    assert len(sites) == cal.total
    assert path.stat().st_size < 6_000_000
    assert sites["commissioned"].max() <= cal.as_of
    from geo5g.boundaries import read_boundaries
    from geo5g.population import read_census

    counties = read_boundaries(province, "county")
    county = _county_of(sites, counties)
    assert county.notna().mean() > 0.999  # borders shared by two polygons aside
    city = county.map(counties["city_adcode"])
    per_10k = city.value_counts() / read_census().reindex(counties["city_adcode"].unique()) * 1e4
    assert (per_10k < cal.plan_per_10k).any()
    assert (per_10k > cal.plan_per_10k).any()
    for adcode, value in cal.anchors.items():
        assert per_10k[adcode] == pytest.approx(value, abs=0.2)


@pytest.mark.slow
def test_national_scale_generation():
    boundaries = pytest.importorskip("geo5g.boundaries")
    if not (DATA / "boundaries" / "china_cities.geojson").exists():
        pytest.skip("china_cities.geojson not bundled yet")
    from geo5g.population import read_census

    cities = boundaries.read_boundaries("all", "city")
    start = time.perf_counter()
    sites = synthetic_sites_national(cities, read_census())
    elapsed = time.perf_counter() - start
    assert len(sites) == 4_800_000 and sites["site_id"].is_unique
    assert elapsed < 60, f"{elapsed:.1f} s"
    sample = sites.sample(20_000, random_state=0)
    assert _county_of(sample, cities).notna().mean() > 0.999
    per_province = _county_of(sample, cities).map(cities["province_adcode"]).value_counts()
    assert per_province.index.isin([710000, 810000, 820000]).sum() == 0
