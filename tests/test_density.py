"""Stations per 10k: hand-computed cases, edge cases and invariants."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import box

from geo5g.density import (
    count_stations,
    density_by_operator,
    density_table,
    per_10k,
    province_summary,
    required_stations,
)
from geo5g.zones import assign_zones


@pytest.fixture
def city():
    """Two 1 km² cities in metres (and a third with nobody living in it)."""
    return gpd.GeoDataFrame(
        {"name_zh": ["甲市", "乙市", "丙市"], "name_en": ["Jia", "Yi", "Bing"]},
        geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000), box(2000, 0, 3000, 1000)],
        index=pd.Index([100, 200, 300], name="adcode"),
        crs="EPSG:32650",
    )


def _sites(xy):
    return gpd.GeoDataFrame(geometry=shapely.points(np.asarray(xy, float)), crs="EPSG:32650")


def test_square_city_hand_computed(city):
    # 30 sites in city 100 (10,000 residents) → 30 per 10k; 5 in city 200 (20,000) → 2.5.
    xy = [(500, 500)] * 30 + [(1500, 500)] * 5 + [(9000, 9000)] * 2
    zone_of = assign_zones(_sites(xy), city)
    pop = pd.Series({100: 10_000, 200: 20_000, 300: 0})
    t = density_table(city, zone_of, pop, 26, ">")
    assert t.loc[100, "stations"] == 30
    assert t.loc[100, "per_10k"] == pytest.approx(30.0)
    assert bool(t.loc[100, "met"]) and t.loc[100, "shortfall"] == 0
    assert t.loc[200, "per_10k"] == pytest.approx(2.5)
    # > 26 per 10k for 20,000 residents needs 53 stations (52 is exactly 26)
    assert t.loc[200, "shortfall"] == 53 - 5
    assert t.loc[300, "met"] is pd.NA and t.loc[300, "shortfall"] is pd.NA
    assert zone_of.isna().sum() == 2  # reported, not dropped
    s = province_summary(t, int(zone_of.isna().sum()), 26, ">")
    assert s["stations"] == 35 and s["population"] == 30_000
    assert s["unassigned_sites"] == 2 and s["zones_met"] == 1 and s["zones_below"] == 1


@pytest.mark.parametrize(
    ("pop", "threshold", "op", "need"),
    [(10_000, 26, ">", 27), (10_000, 26, ">=", 26), (15_000, 18, ">", 28), (0, 26, ">=", 0)],
)
def test_required_stations(pop, threshold, op, need):
    assert required_stations(pop, threshold, op) == need


def test_exactly_at_threshold_strict_vs_not(city):
    zone_of = assign_zones(_sites([(500, 500)] * 26), city)
    pop = pd.Series({100: 10_000, 200: 1, 300: 1})
    assert not bool(density_table(city, zone_of, pop, 26, ">").loc[100, "met"])
    assert bool(density_table(city, zone_of, pop, 26, ">=").loc[100, "met"])


def test_empty_sites(city):
    zone_of = assign_zones(_sites(np.empty((0, 2))), city)
    t = density_table(city, zone_of, pd.Series({100: 100, 200: 100, 300: 100}), 18)
    assert t["stations"].tolist() == [0, 0, 0]
    assert t["shortfall"].tolist() == [1, 1, 1]


def test_missing_population_is_na(city):
    zone_of = assign_zones(_sites([(500, 500)]), city)
    t = density_table(city, zone_of, pd.Series({100: 10_000}), 18)
    assert t.loc[200, "population"] is pd.NA
    assert np.isnan(t.loc[200, "per_10k"])


def test_per_10k_zero_population_nan():
    assert per_10k(pd.Series([3]), pd.Series([0])).isna().all()


def test_by_operator(city):
    zone_of = assign_zones(_sites([(500, 500)] * 3 + [(1500, 500)]), city)
    operator = pd.Series(["China Mobile", "China Mobile", None, "China Telecom"])
    got = density_by_operator(zone_of, operator, pd.Series({100: 10_000, 200: 10_000, 300: 0}))
    assert got.loc[(100, "China Mobile"), "stations"] == 2
    assert got.loc[(100, "unknown"), "stations"] == 1
    assert got.loc[(200, "China Telecom"), "per_10k"] == pytest.approx(1.0)
    assert got["stations"].sum() == 4


def test_count_stations_fills_zero_zones():
    zone_of = pd.Series(pd.array([1, 1, None], dtype="Int64"))
    assert count_stations(zone_of, [1, 2]).tolist() == [2, 0]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 2), min_size=0, max_size=80),
    st.integers(1, 50_000),
    st.floats(1, 60),
)
def test_adding_a_site_never_lowers_density_or_raises_shortfall(zones_idx, pop, threshold):
    idx = pd.Index([1, 2, 3])
    zones = pd.DataFrame({"name_zh": ["a", "b", "c"], "name_en": ["a", "b", "c"]}, index=idx)
    population = pd.Series(pop, index=idx)
    before = density_table(
        zones, pd.Series(pd.array(zones_idx, "Int64") + 1), population, threshold
    )
    after = density_table(
        zones, pd.Series(pd.array([*zones_idx, 0], "Int64") + 1), population, threshold
    )
    assert (after["per_10k"] >= before["per_10k"]).all()
    assert (after["shortfall"] <= before["shortfall"]).all()
    assert (before["shortfall"] >= 0).all()
    # met ⇔ no shortfall
    assert (before["met"].astype(bool) == (before["shortfall"] == 0)).all()
