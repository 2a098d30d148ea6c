"""WGS-84 ⇄ GCJ-02 ⇄ BD-09: known values, round trips, vectorisation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from geo5g import coords
from geo5g.errors import DataError

_GEOD = Geod(ellps="WGS84")


def _metres(lon1, lat1, lon2, lat2):
    return _GEOD.inv(lon1, lat1, lon2, lat2)[2]


def test_known_offset_nanjing():
    # The GCJ-02 shift in Nanjing is a few hundred metres (~490 m here), mostly eastward.
    lon, lat = coords.wgs84_to_gcj02(118.7969, 32.0603)
    d = _metres(118.7969, 32.0603, lon, lat)
    assert 300 < d < 600
    assert lon > 118.7969


def test_outside_china_unchanged():
    lon, lat = coords.wgs84_to_gcj02([2.35, -74.0], [48.85, 40.7])
    np.testing.assert_array_equal(lon, [2.35, -74.0])
    np.testing.assert_array_equal(lat, [48.85, 40.7])


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=73.7, max_value=135.0),
    st.floats(min_value=18.2, max_value=53.5),
)
def test_gcj02_round_trip_under_half_a_metre(lon, lat):
    glon, glat = coords.wgs84_to_gcj02(lon, lat)
    wlon, wlat = coords.gcj02_to_wgs84(glon, glat)
    assert _metres(lon, lat, float(wlon), float(wlat)) < 0.5


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=73.7, max_value=135.0),
    st.floats(min_value=18.2, max_value=53.5),
)
def test_bd09_round_trip_under_half_a_metre(lon, lat):
    blon, blat = coords.wgs84_to_bd09(lon, lat)
    wlon, wlat = coords.bd09_to_wgs84(blon, blat)
    assert _metres(lon, lat, float(wlon), float(wlat)) < 0.5


def test_vectorised_matches_scalar():
    rng = np.random.default_rng(1)
    lon = rng.uniform(100, 122, 1000)
    lat = rng.uniform(22, 40, 1000)
    vec = coords.gcj02_to_wgs84(lon, lat)
    one = coords.gcj02_to_wgs84(lon[17], lat[17])
    assert vec[0][17] == pytest.approx(float(one[0]), abs=1e-12)
    assert vec[1][17] == pytest.approx(float(one[1]), abs=1e-12)


def test_nan_propagates():
    lon, lat = coords.gcj02_to_wgs84([np.nan, 118.0], [32.0, np.nan])
    assert np.isnan(lon[0]) and np.isnan(lat[1])


@pytest.mark.parametrize("system", ["wgs84", "WGS-84", "gcj02", "GCJ_02", "bd09"])
def test_to_wgs84_accepts_spellings(system):
    lon, lat = coords.to_wgs84([118.8], [32.06], system)
    assert lon.shape == lat.shape == (1,)
    moved = abs(lon[0] - 118.8) + abs(lat[0] - 32.06) > 1e-4
    assert moved == (system.lower() not in ("wgs84", "wgs-84"))


def test_to_wgs84_unknown_system():
    with pytest.raises(DataError, match="unknown coordinate system 'cgcs2000'"):
        coords.to_wgs84([1.0], [2.0], "cgcs2000")


def test_shape_mismatch():
    with pytest.raises(DataError, match="different shapes"):
        coords.gcj02_to_wgs84([1.0, 2.0], [3.0])
