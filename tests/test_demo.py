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
    load_model,
    synthetic_sites,
    synthetic_sites_national,
)
from geo5g.errors import CRSError, DataError, InputError
from geo5g.project import metric_crs, to_metric, transform_xy
from geo5g.sites import SITE_COLUMNS, read_sites, write_sites

DATA = Path(__file__).resolve().parent.parent / "data"
QUIET = SyntheticModel(city_noise=0.0)

# The plausibility rules the demo sites are held to (see data/sites/README.md).
DISC_M = 2000.0  # no county holds more than DISC_SHARE of its sites within 2 km of one point …
DISC_SHARE = 0.35
DISC_AREA_FACTOR = 2.0  # … or, in a small district, more than 2 × the disc's share of its area
EXPRESSWAY_M = 1000.0  # at least EXPRESSWAY_SHARE of Jiangsu's sites within 1 km of an expressway
EXPRESSWAY_SHARE = 0.15
START = pd.Timestamp("2019-06-06")  # 5G licences: no site commissioned before


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


def _densest_disc_share(sites, zones, radius_m=DISC_M, candidates=50_000):
    """Per zone: the largest share of its sites within ``radius_m`` of one of its sites.

    The discs are centred on a seeded sample of the sites (the densest disc sits
    where the sites are); zones are kept apart by an x offset, so one k-d tree
    counts the sites of each zone only.
    """
    from scipy.spatial import cKDTree

    from geo5g.zones import locate

    lon, lat = sites["lon"].to_numpy(), sites["lat"].to_numpy()
    zone = locate(lon, lat, zones)
    keep = zone >= 0
    x, y = transform_xy(lon[keep], lat[keep], "EPSG:4326", metric_crs(zones.total_bounds))
    zone = zone[keep]
    x = x + zone * 1e7
    rng = np.random.default_rng(0)
    pick = rng.choice(zone.size, size=min(candidates, zone.size), replace=False)
    near = cKDTree(np.column_stack([x, y])).query_ball_point(
        np.column_stack([x[pick], y[pick]]), r=radius_m, return_length=True
    )
    share = near / np.bincount(zone, minlength=len(zones))[zone[pick]]
    best = pd.Series(share).groupby(zone[pick]).max()
    return best.set_axis(zones.index[best.index])


def _disc_limit(zones, radius_m=DISC_M):
    """DISC_SHARE, or in a zone so small that the disc covers > DISC_SHARE / 2 of it, twice that."""
    area_m2 = demo._area_km2(zones) * 1e6
    disc = np.pi * radius_m**2 / area_m2
    return pd.Series(np.maximum(DISC_SHARE, DISC_AREA_FACTOR * disc), index=zones.index)


def _share_near(sites, roads, distance_m):
    """Share of the sites within ``distance_m`` of any road (in a metric CRS)."""
    crs = metric_crs(roads.total_bounds)
    x, y = transform_xy(sites["lon"].to_numpy(), sites["lat"].to_numpy(), "EPSG:4326", crs)
    tree = shapely.STRtree(to_metric(roads, crs).geometry.to_numpy())
    hit, _ = tree.query(shapely.points(x, y), predicate="dwithin", distance=distance_m)
    return np.unique(hit).size / len(sites)


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


def test_bounded_apportion_hand_checked():
    # 8:1:1 of 10 → 8, 1, 1; the first may have 5 at most: 5, then 5 over 1:1 → 3, 2
    out = demo._bounded_apportion([8, 1, 1], [10], [0, 0, 0], [-1, -1, -1], 0, [5, 10, 10])
    assert out.tolist() == [5, 3, 2]
    # 1:1:8 → 1, 1, 8; the first needs 3: 3, then 7 over 1:8 → 0.78, 6.22 → 1, 6
    out = demo._bounded_apportion([1, 1, 8], [10], [0, 0, 0], [-1, -1, -1], [3, 0, 0], 100)
    assert out.tolist() == [3, 1, 6]
    # a fixed member keeps its count; two groups are split independently
    out = demo._bounded_apportion([1, 1, 1, 1], [9, 4], [0, 0, 1, 1], [7, -1, -1, -1], 0, 100)
    assert out.tolist() == [7, 2, 2, 2]


def test_bounded_apportion_infeasible():
    with pytest.raises(DataError, match="per-10k bounds cannot"):
        demo._bounded_apportion([1, 1], [10], [0, 0], [-1, -1], 0, [4, 4])


# --------------------------------------------------------------------------- cities


def test_city_totals_exact_and_denser_cities_higher():
    pop = pd.Series([1_000_000, 1_000_000, 1_000_000], index=[330200, 330300, 330400])
    area = pd.Series([250.0, 1000.0, 4000.0], index=pop.index)
    out = allocate_city_totals(pop, area, total=9000, model=QUIET)
    assert out.name == "stations" and out.index.name == "adcode"
    assert out.sum() == 9000
    # density 4000, 1000, 250 per km²: relative 4, 1, 0.25, clipped to [0.4, 3];
    # per-10k ∝ sqrt(relative density) = √3 : 1 : √0.4 (quotas 4633.3, 2675.0, 1691.7)
    assert SyntheticModel().density_clip == (0.4, 3.0)
    assert out.tolist() == [4633, 2675, 1692]


def test_city_capital_bonus():
    pop = pd.Series([1_000_000, 1_000_000], index=[360100, 360200])
    area = pd.Series([1000.0, 1000.0], index=pop.index)
    out = allocate_city_totals(pop, area, total=2200, model=QUIET)
    assert out.tolist() == [1200, 1000]  # capital_factor 1.2


def test_city_per_10k_bounds():
    pop = pd.Series([1_000_000, 1_000_000, 1_000_000], index=[330200, 330300, 330400])
    area = pd.Series([250.0, 1000.0, 4000.0], index=pop.index)
    # free: 4633, 2675, 1692 (above). At most 40 per 10k: 4000, and 5000 left over √1 : √0.4
    # (3064, 1936); at least 20 per 10k: 2000, and the 3000 left to the middle one.
    out = allocate_city_totals(pop, area, total=9000, model=QUIET, max_per_10k=40, min_per_10k=20)
    assert out.tolist() == [4000, 3000, 2000]
    with pytest.raises(DataError, match="bounds cannot"):
        allocate_city_totals(pop, area, total=9000, max_per_10k=25)


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


def _one_county(total=2000, seed=0, roads=None):
    """A 0.3° × 0.3° county (≈ 930 km², seat at its centre) of a city of a million."""
    zones = gpd.GeoDataFrame(
        {"city_adcode": [320800], "urban": [False]},
        geometry=[shapely.box(119.0, 33.0, 119.3, 33.3)],
        index=pd.Index([320826], name="adcode"),
        crs=4326,
    )
    return zones, synthetic_sites(
        zones, pd.Series([1e6], index=[320800]), total=total, seed=seed, roads=roads
    )


# An expressway 11 km south of the seat, across the county (≈ 28 km inside it).
ROAD = gpd.GeoDataFrame(
    {"ref": ["G2"]}, geometry=[shapely.LineString([(118.9, 33.05), (119.4, 33.05)])], crs=4326
)


def test_no_point_holds_a_county(counties, population):
    # 34 per 10k, as in the demos (a county of a hundred sites is a lottery, not a pattern)
    sites = synthetic_sites(counties, population, total=60_000, seed=3)
    best = _densest_disc_share(sites, counties)
    assert (best <= _disc_limit(counties)).all(), best.round(3).to_dict()
    assert (_disc_limit(counties) == DISC_SHARE).all()  # 104 km² counties: the plain rule
    zones, one = _one_county()
    assert _densest_disc_share(one, zones).iloc[0] <= DISC_SHARE


def test_several_centres_and_a_rural_scatter():
    _, sites = _one_county(total=4000, seed=1)
    x, y = transform_xy(sites["lon"], sites["lat"], "EPSG:4326", "EPSG:32650")
    cx, cy = transform_xy([119.15], [33.15], "EPSG:4326", "EPSG:32650")
    r = np.hypot(x - cx, y - cy)
    # density falls with distance from the seat, but most sites are not at it
    ring = np.histogram(r, bins=[0, 2000, 4000, 8000])[0] / np.diff([0, 4, 16, 64])
    assert ring[0] > ring[1] > ring[2]
    assert (r < 2000).mean() < 0.25 and (r > 8000).mean() > 0.3
    # towns and the rural cover reach every quarter of the county
    quarters = np.bincount(2 * (x > cx).astype(int) + (y > cy).astype(int), minlength=4)
    assert quarters.min() > 0.15 * len(sites)


def test_sites_follow_expressways():
    near, before = [], []
    for seed in range(4):  # a town more or less near the road moves one draw by points
        _, plain = _one_county(seed=seed)
        _, along = _one_county(seed=seed, roads=ROAD)
        assert len(along) == len(plain) == 2000
        near.append([_share_near(along, ROAD, d) for d in (EXPRESSWAY_M, 300)])
        before.append([_share_near(plain, ROAD, d) for d in (EXPRESSWAY_M, 300)])
        # the corridor sites (28 km × 1.2 per km, 150 m off the line) show within 300 m
        assert near[-1][1] > 1.5 * before[-1][1], (near[-1], before[-1])
    near, before = np.mean(near, axis=0), np.mean(before, axis=0)
    # 1 km each side of the road is 6 % of the county; with the corridor and an interchange
    # town, more of the sites
    assert near[0] >= 0.05 and near[0] >= before[0] + 0.015, (near, before)


def test_main_roads_join_towns_to_larger_centres():
    # seats 0, 1 (weight inf); towns 2 (big, near seat 0), 3 (small, near town 2), 4 (in zone 1)
    cx = np.array([118.0, 119.0, 118.05, 118.06, 119.2])
    cy = np.array([32.0, 32.0, 32.0, 32.0, 32.0])
    zone = np.array([0, 1, 0, 0, 1])
    weight = np.array([np.inf, np.inf, 2.0, 1.0, 1.0])
    kx = np.full(2, 94.4)
    assert demo._parents(cx, cy, zone, weight, kx, 2).tolist() == [0, 2, 1]


def test_band_mix_by_environment():
    env = np.repeat(np.arange(3, dtype="int8"), 20_000)  # urban, town, rural
    op, ops, band, labels = demo._sample_operators_bands(env, np.random.default_rng(0), QUIET)
    names = np.asarray(labels)[band]
    mid = pd.Series(np.isin(names, ["3.5GHz", "4.9GHz"])).groupby(env).mean()
    wide = pd.Series(np.isin(names, ["700MHz", "2.1GHz", "2.6GHz"])).groupby(env).mean()
    assert mid[0] > mid[1] > mid[2] and wide[0] < wide[1] < wide[2]
    mobile = np.asarray(ops)[op] == "China Mobile"
    assert not ((names == "4.9GHz") & (env == 2)).any()  # no 4.9 GHz capacity in the fields
    assert ((names == "700MHz") & mobile & (env == 2)).sum() > (
        (names == "2.6GHz") & mobile & (env == 2)
    ).sum()


def test_dates_follow_the_curve_exactly_urban_first():
    growth = pd.Series(
        [0, 300, 1000], index=pd.to_datetime(["2019-06-06", "2021-01-01", "2023-01-01"])
    )
    env = np.repeat(np.arange(3, dtype="int8"), [4000, 3000, 3000])
    labels = ["3.5GHz", "700MHz"]
    band = np.where(np.arange(env.size) % 4 == 0, 1, 0).astype("int8")  # a quarter 700 MHz
    dates = pd.Series(
        demo._sample_dates(band, labels, env, growth, pd.Timestamp("2023-01-01"),
                           np.random.default_rng(1), QUIET)
    )  # fmt: skip
    assert dates.min() >= START and dates.max() <= pd.Timestamp("2023-01-01")
    # exactly stratified: 30 % by 2021-01-01 (± a day's rounding)
    assert (dates < pd.Timestamp("2021-01-01")).mean() == pytest.approx(0.3, abs=0.002)
    assert dates[band == 1].min() >= pd.Timestamp("2021-01-01")  # 700 MHz not before 2021
    median = dates.groupby(env).median()
    assert median[0] < median[1] < median[2]


def test_model_settings_file(tmp_path):
    assert load_model() == SyntheticModel()
    model = SyntheticModel()
    assert dict(model.settlements)["county"].seat_env == "urban"
    assert sum(p for _, p in model.operator_shares) == pytest.approx(1.0)
    text = Path(demo.__file__).with_name("settings").joinpath("demo.toml").read_text("utf-8")
    bad = tmp_path / "demo.toml"
    bad.write_text(
        text.replace('"China Broadnet" = 0.1', '"China Broadnet" = 0.2').replace(
            "seat_share = 0.40", "seat_share = -1"
        ),
        encoding="utf-8",
    )
    with pytest.raises(DataError) as err:
        load_model(bad)
    message = str(err.value)  # one message naming the file and every problem
    assert message.startswith(str(bad))
    assert "settlements.county.seat_share must be a number ≥ 0" in message
    assert "[operators] must sum to 1 (got 1.1)" in message
    with pytest.raises(InputError, match="cannot read"):
        load_model(tmp_path / "missing.toml")


def test_same_seed_same_bytes(tmp_path, counties, population):
    paths = []
    for name in ("a", "b"):
        sites = synthetic_sites(counties, population, total=3000, seed=11, roads=ROAD)
        paths.append(write_sites(sites, tmp_path / f"{name}.parquet"))
    assert paths[0].read_bytes() == paths[1].read_bytes()


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
    assert (js.min_city_per_10k, js.max_city_per_10k) == (8, 47)
    jx = load_calibration("jiangxi")
    # judged at its plan's target year, 2023
    assert (jx.total, jx.as_of) == (104_150, pd.Timestamp("2023-12-31"))
    national = load_calibration("national")
    assert (national.total, national.as_of) == (4_800_000, pd.Timestamp("2025-12-31"))
    assert national.anchors == js.anchors  # one Nanjing anchor for both demos
    assert national.provinces == {32: 346_000, 36: 147_400}
    assert sum(s for s, _ in national.regions.values()) == 3_916_000
    provinces = [p for _, ps in national.regions.values() for p in ps]
    assert len(provinces) == len(set(provinces)) == 31
    for cal in (js, jx, national):
        assert cal.growth.is_monotonic_increasing and cal.growth.index.is_monotonic_increasing
        assert cal.growth.index[0] == START and cal.growth.iloc[0] == 0
        assert cal.growth.index[-1] == cal.as_of and cal.growth.iloc[-1] == cal.total
    from geo5g.population import read_census

    census = read_census()
    province = census.index // 10000
    people = {
        "jiangsu": census[province == 32].sum(),
        "jiangxi": census[province == 36].sum(),
        "national": census[province.isin(provinces)].sum(),
    }
    for cal in (js, jx, national):  # the bounds bracket the area's mean with room
        mean = cal.total / people[cal.key] * 1e4
        assert cal.min_city_per_10k < 0.5 * mean and cal.max_city_per_10k > 1.5 * mean
    # each row of MIIT's regional figures sums to that date's national count (± rounding)
    history = national.region_history.sum(axis=1)
    assert history.to_numpy() == pytest.approx(national.growth.reindex(history.index), abs=1000)


def _regional(history, region, date):
    """A region's stations on a date, linear between the published dates."""
    days = (history.index - pd.Timestamp("2000-01-01")).days
    return np.interp((pd.Timestamp(date) - pd.Timestamp("2000-01-01")).days, days, history[region])


def test_derived_totals_recomputed():
    js, jx, national = (load_calibration(k) for k in ("jiangsu", "jiangxi", "national"))
    history = national.region_history
    # Jiangxi 2023-12-31: its 2022-09-30 count grown with the Central region
    base = jx.growth[pd.Timestamp("2022-09-30")]
    assert base == 62_000
    central = _regional(history, "central", "2023-12-31") / _regional(
        history, "central", "2022-09-30"
    )
    assert jx.total == pytest.approx(base * central, rel=0.01)
    # national 2025-12-31: the region's 2024-06-30 share of 4.8 million, the province's share
    # of its region held at its latest published count
    share = {name: s / 3_916_000 * national.total for name, (s, _) in national.regions.items()}
    jiangsu = (
        js.growth[pd.Timestamp("2023-06-30")]
        * share["east"]
        / _regional(history, "east", "2023-06-30")
    )
    jiangxi = base * share["central"] / _regional(history, "central", "2022-09-30")
    assert national.provinces[32] == pytest.approx(jiangsu, rel=0.01)
    assert national.provinces[36] == pytest.approx(jiangxi, rel=0.01)


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


def _bundled(province):
    path = DATA / "sites" / f"{province}_5g_sites_SYNTHETIC.parquet"
    if not path.exists():
        pytest.skip(f"{path.name} not generated yet (python -m geo5g demo-sites)")
    return path


@pytest.fixture(scope="module")
def bundled():
    """Per province: the calibration, the bundled sites, the county zones and the census."""
    from geo5g.boundaries import read_boundaries
    from geo5g.population import read_census

    census = read_census()
    return {
        p: (load_calibration(p), read_sites(_bundled(p)), read_boundaries(p, "county"), census)
        for p in ("jiangsu", "jiangxi")
    }


@pytest.mark.parametrize("province", ["jiangsu", "jiangxi"])
def test_bundled_demo_files(province, bundled):
    cal, sites, counties, census = bundled[province]
    assert sites.attrs["synthetic"] is True
    assert len(sites) == cal.total  # the published (or derived) total, exactly
    assert _bundled(province).stat().st_size < 6_000_000
    county = _county_of(sites, counties)
    assert county.notna().mean() > 0.999  # borders shared by two polygons aside
    city = county.map(counties["city_adcode"])
    per_10k = city.value_counts() / census.reindex(counties["city_adcode"].unique()) * 1e4
    assert (per_10k < cal.plan_per_10k).any()
    assert (per_10k > cal.plan_per_10k).any()
    for adcode, value in cal.anchors.items():  # Nanjing: 43.04 per 10k
        assert per_10k[adcode] == pytest.approx(value, rel=0.01)
    # plausible cities: within the stated bounds (a few border sites aside), none at zero
    assert per_10k.index.size == counties["city_adcode"].nunique()
    assert per_10k.max() <= cal.max_city_per_10k * 1.005, per_10k.round(1).to_dict()
    assert per_10k.min() >= cal.min_city_per_10k * 0.995, per_10k.round(1).to_dict()


@pytest.mark.parametrize("province", ["jiangsu", "jiangxi"])
def test_bundled_no_point_holds_a_county(province, bundled):
    _, sites, counties, _ = bundled[province]
    best = _densest_disc_share(sites, counties)
    limit = _disc_limit(counties).reindex(best.index)
    assert (best <= limit).all(), best[best > limit].round(3).to_dict()
    assert (limit == DISC_SHARE).mean() > 0.9  # the small-district allowance is the exception


def test_bundled_jiangsu_sites_along_expressways(bundled):
    from geo5g.roads import read_demo_roads

    _, sites, _, _ = bundled["jiangsu"]
    roads = read_demo_roads("jiangsu")
    assert _share_near(sites, roads, EXPRESSWAY_M) >= EXPRESSWAY_SHARE
    # and the corridor sites themselves: 1.2 per km of the ≈ 4,640 km, within ≈ 150 m
    assert _share_near(sites, roads, 300) > 0.02


@pytest.mark.parametrize("province", ["jiangsu", "jiangxi"])
def test_bundled_dates_follow_the_curve(province, bundled):
    cal, sites, _, _ = bundled[province]
    dates = sites["commissioned"]
    assert dates.min() >= START and dates.max() <= cal.as_of
    curve = cal.growth / cal.growth[cal.as_of]
    share = pd.Series([(dates <= d).mean() for d in curve.index], index=curve.index)
    assert share.to_numpy() == pytest.approx(curve.to_numpy(), abs=0.01), share - curve
    late = sites["band"].isin(["700MHz", "2.1GHz"])
    assert sites.loc[late, "commissioned"].min() >= pd.Timestamp("2021-01-01")


@pytest.mark.slow
@pytest.mark.parametrize("province", ["jiangsu", "jiangxi"])
def test_bundled_files_are_reproducible(province, tmp_path):
    """The bundled file is what the generator writes today, byte for byte (a few s each)."""
    out = demo.write_demo_sites(province, tmp_path / "again.parquet")
    assert out.read_bytes() == _bundled(province).read_bytes()


@pytest.fixture(scope="module")
def national():
    boundaries = pytest.importorskip("geo5g.boundaries")
    if not (DATA / "boundaries" / "china_cities.geojson").exists():
        pytest.skip("china_cities.geojson not bundled yet")
    from geo5g.population import read_census
    from geo5g.zones import locate

    cities = boundaries.read_boundaries("all", "city").sort_index()
    census = read_census()
    start = time.perf_counter()
    sites = synthetic_sites_national(cities, census, points=False)
    elapsed = time.perf_counter() - start
    where = locate(sites["lon"].to_numpy(), sites["lat"].to_numpy(), cities)
    return cities, census, sites, where, elapsed


@pytest.mark.slow
def test_national_scale_generation(national):
    cities, _, sites, where, elapsed = national
    assert len(sites) == 4_800_000 and sites["site_id"].is_unique
    assert elapsed < 60, f"{elapsed:.1f} s"
    assert (where >= 0).mean() > 0.999
    province = cities["province_adcode"].to_numpy()[where[where >= 0]]
    assert np.isin(province, [710000, 810000, 820000]).sum() == 0


@pytest.mark.slow
def test_national_calibration(national):
    cities, census, _, where, _ = national
    cal = load_calibration("national")
    counts = pd.Series(np.bincount(where[where >= 0], minlength=len(cities)), index=cities.index)
    province = counts.groupby(cities["province_adcode"] // 10000).sum()
    for prefix, stations in cal.provinces.items():  # Jiangsu, Jiangxi: within 1 %
        assert province[prefix] == pytest.approx(stations, rel=0.01)
    # the regions without those provinces: each holds its 2024-06-30 share
    share = {name: s / 3_916_000 * cal.total for name, (s, _) in cal.regions.items()}
    for name, (_, members) in cal.regions.items():
        assert province.reindex(members).sum() == pytest.approx(share[name], rel=0.01)
    per_10k = counts / census.reindex(cities.index) * 1e4
    for adcode, value in cal.anchors.items():  # the same Nanjing anchor as the Jiangsu demo
        assert per_10k[adcode] == pytest.approx(value, rel=0.01)
    # plausible cities: none above the cap (Shihezi was 148.9), none at zero (Sansha was) but
    # those of Hong Kong, Macao and Taiwan, which MIIT's statistics do not cover
    outside = (cities["province_adcode"] // 10000).isin([71, 81, 82])
    assert (counts[outside] == 0).all()
    assert per_10k[~outside].max() <= cal.max_city_per_10k * 1.005
    assert per_10k[~outside].min() >= cal.min_city_per_10k * 0.995
    assert counts[460300] > 0  # Sansha
