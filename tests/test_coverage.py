"""Tests for geo5g.coverage: settings, the band-table model, urban/rural."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import CRS
from shapely import LineString, box

from geo5g.corridors import road_coverage
from geo5g.coverage import (
    BandTableModel,
    CoverageModel,
    load_settings,
    site_environment,
    site_reach,
    urban_from_density,
    urban_from_zones,
)
from geo5g.errors import DataError, InputError

TM = CRS.from_proj4(
    "+proj=tmerc +lat_0=0 +lon_0=118 +k=1 +x_0=500000 +y_0=0 +datum=WGS84 +units=m +no_defs"
)
SETTINGS = load_settings()


def _sites(xy, band="3.5GHz", radius=np.nan):
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    n = len(xy)
    return gpd.GeoDataFrame(
        {
            "site_id": [f"s{i}" for i in range(n)],
            "band": pd.array(np.broadcast_to(np.asarray(band, dtype=object), n), dtype="string"),
            "radius_m": np.broadcast_to(np.asarray(radius, dtype=float), n),
        },
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=TM,
    )


def test_bundled_settings_load():
    s = SETTINGS
    assert set(s.reach_m) >= {"700MHz", "2.1GHz", "2.6GHz", "3.5GHz", "4.9GHz", "default"}
    for urban, rural in s.reach_m.values():
        assert 0 < urban < rural
    # lower bands reach farther
    assert s.reach_m["700MHz"][1] > s.reach_m["2.6GHz"][1] > s.reach_m["3.5GHz"][1]
    assert s.reach_m["3.5GHz"][1] > s.reach_m["4.9GHz"][1]
    assert s.rsu_range_m == 300.0
    assert s.min_gap_m >= 0 and 0 < s.port_min_share <= 1
    with pytest.raises(FrozenInstanceError):
        s.rsu_range_m = 1.0  # type: ignore[misc]


def test_settings_problems_are_all_reported_in_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[reach_m."3.5GHz"]\nurban = -1\nrural = "far"\n[rsu]\ndefault_range_m = 0\n',
        encoding="utf-8",
    )
    with pytest.raises(DataError) as err:
        load_settings(bad)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(bad))
    for fragment in ("default", "urban", "rural", "rsu_range_m"):
        assert fragment in message


def test_settings_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_settings(tmp_path / "none.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[reach_m\n", encoding="utf-8")
    with pytest.raises(DataError, match="not valid TOML"):
        load_settings(broken)


@pytest.mark.parametrize(
    ("band", "urban", "expected"),
    [
        ("3.5GHz", True, 300.0),
        ("3.5GHz", False, 1000.0),
        ("700MHz", False, 2500.0),
        ("2.6GHz", True, 350.0),
        ("4.9GHz", False, 800.0),
        ("n78", True, 300.0),  # unlisted band → default
        (None, False, 1000.0),  # missing band → default
    ],
)
def test_band_table(band, urban, expected):
    model = BandTableModel(SETTINGS)
    reach = model.reach_m(_sites([(0, 0)], band=band), np.array([urban]))
    assert reach.tolist() == [expected]


def test_radius_column_overrides_the_table():
    model = BandTableModel(SETTINGS)
    sites = _sites([(0, 0), (1, 1), (2, 2)])
    sites["radius_m"] = [np.nan, 123.0, 0.0]  # 0 is not a reach: the table applies
    assert model.reach_m(sites, np.array([True, True, False])).tolist() == [300.0, 123.0, 1000.0]


def test_sites_without_band_or_radius_columns_use_the_default():
    frame = pd.DataFrame({"site_id": ["a", "b"]})
    assert BandTableModel(SETTINGS).reach_m(frame, np.array([True, False])).tolist() == [
        300.0,
        1000.0,
    ]


def test_urban_flags_must_match_sites():
    with pytest.raises(DataError, match="2 sites"):
        BandTableModel(SETTINGS).reach_m(_sites([(0, 0), (1, 1)]), np.array([True]))


def test_band_table_model_satisfies_the_protocol():
    assert isinstance(BandTableModel(SETTINGS), CoverageModel)


def test_urban_from_density():
    cluster = np.column_stack([np.arange(12) * 50.0, np.zeros(12)])
    lone = np.array([[10_000.0, 0.0]])
    xy = np.vstack([cluster, lone])
    flags = urban_from_density(xy[:, 0], xy[:, 1], 1000.0, 10)
    assert flags.tolist() == [True] * 12 + [False]
    assert urban_from_density([], [], 1000.0, 10).shape == (0,)


def test_urban_from_zones_and_environment():
    counties = gpd.GeoDataFrame(
        {"urban": [True, False]},
        geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)],
        crs=TM,
        index=pd.Index([320102, 320117], name="adcode"),
    )
    x, y = np.array([500.0, 1500.0, 5000.0]), np.array([500.0, 500.0, 500.0])
    assert urban_from_zones(x, y, counties).tolist() == [True, False, False]
    assert site_environment(x, y, SETTINGS, counties).tolist() == [True, False, False]
    assert site_environment(x, y, SETTINGS).tolist() == [False, False, False]  # sparse
    with pytest.raises(DataError, match="urban"):
        urban_from_zones(x, y, counties.drop(columns="urban"))


def test_site_reach_projects_and_uses_counties():
    counties = gpd.GeoDataFrame({"urban": [True]}, geometry=[box(0, 0, 1000, 1000)], crs=TM).to_crs(
        4326
    )
    sites = _sites([(500, 500), (5000, 500)]).to_crs(4326)
    x, _, reach = site_reach(sites, TM, SETTINGS, counties=counties)
    assert x == pytest.approx([500, 5000], abs=1e-6)
    assert reach.tolist() == [300.0, 1000.0]


def test_site_reach_takes_given_coordinates_and_reach():
    sites = _sites([(500, 500), (5000, 500)]).to_crs(4326)
    x, y, reach = site_reach(sites, TM, SETTINGS, xy=([1.0, 2.0], [3.0, 4.0]), reach_m=[7, 8])
    assert x.tolist() == [1.0, 2.0] and y.tolist() == [3.0, 4.0]
    assert reach.tolist() == [7.0, 8.0]
    _, _, modelled = site_reach(sites, TM, SETTINGS, xy=([1.0, 2.0], [3.0, 4.0]), urban=[1, 0])
    assert modelled.tolist() == [300.0, 1000.0]


@pytest.mark.parametrize(
    ("xy", "reach_m", "match"),
    [
        (([1.0], [2.0]), None, "one coordinate pair per site"),
        (([1.0, 2.0], [3.0]), None, "one coordinate pair per site"),
        (None, [100.0, 0.0], "reach_m must be finite and > 0"),
        (None, [100.0], "reach_m must be finite and > 0"),
        (None, [100.0, np.nan], "reach_m must be finite and > 0"),
    ],
)
def test_site_reach_refuses_given_arrays_of_the_wrong_shape(xy, reach_m, match):
    sites = _sites([(500, 500), (5000, 500)])
    with pytest.raises(DataError, match=match):
        site_reach(sites, TM, SETTINGS, xy=xy, reach_m=reach_m)


class _ConstantModel:
    """A stand-in for a future link-budget model: every site reaches 2 km."""

    def reach_m(self, sites, urban):
        return np.full(len(sites), 2000.0)


class _BrokenModel:
    def reach_m(self, sites, urban):
        return np.zeros(len(sites))


def test_any_coverage_model_plugs_into_the_analyses():
    assert isinstance(_ConstantModel(), CoverageModel)
    roads = gpd.GeoDataFrame(
        {"ref": ["G2"], "name": ["x"], "schematic": [False]},
        geometry=[LineString([(0, 0), (10_000, 0)])],
        crs=TM,
    )
    sites = _sites([(5000, 0)])
    result = road_coverage(roads, sites, settings=SETTINGS, model=_ConstantModel(), crs=TM)
    assert result.total.loc["total", "covered_km"] == pytest.approx(4.0)
    with pytest.raises(DataError, match="_BrokenModel"):
        road_coverage(roads, sites, settings=SETTINGS, model=_BrokenModel(), crs=TM)


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[reach_m.default]\nurban = 1e308\nrural = 1000\n", "reach_m.default.urban"),
        ("[reach_m.default]\nurban = 300\nrural = inf\n", "reach_m.default.rural"),
        (
            "[reach_m.default]\nurban = 300\nrural = 1000\n[rsu]\ndefault_range_m = 2e5\n",
            "rsu_range_m",
        ),
    ],
)
def test_settings_reach_must_be_physical(tmp_path, toml, key):
    path = tmp_path / "c.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(DataError, match=key):
        load_settings(path)
