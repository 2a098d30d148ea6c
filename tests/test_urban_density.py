"""Tests for the density rule (geo5g.coverage.urban_from_density) and its two engines.

Every engine must give exactly the brute-force answer: a site is urban when at least
``k`` sites (itself included) have ``sqrt(dx² + dy²) <= r``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo5g import _strips, coverage
from geo5g.coverage import urban_from_density
from geo5g.errors import DataError


def _brute(x, y, r, k) -> np.ndarray:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    dx = x[:, None] - x[None, :]
    dy = y[:, None] - y[None, :]
    return (np.sqrt(dx * dx + dy * dy) <= r).sum(axis=1) >= k


def _kernels():
    kernels = _strips.kernels()
    if kernels is None:
        pytest.skip("numba is not installed: the strip engine is not used")
    return kernels


ENGINES = ["default", "kdtree", "strips"]


def _urban(engine, x, y, r, k) -> np.ndarray:
    """The public rule, forced onto one engine (its argument checks stay in front)."""
    with pytest.MonkeyPatch.context() as mp:
        if engine == "kdtree":
            mp.setattr(_strips, "kernels", lambda: None)
        elif engine == "strips":
            _kernels()
            mp.setattr(coverage, "_STRIP_MIN_SITES", 0)
        return urban_from_density(x, y, r, k)


# Pythagorean hypotenuses: integer layouts put many pairs at exactly distance r.
RADII = [0.0, 1.0, 5.0, 10.0, 13.0, 25.0, 2.5, 7.3]


@st.composite
def layouts(draw):
    """Small layouts: integer lattice points (duplicates, exact distances, dense
    clusters), optionally moved to national-size coordinates, plus stray floats."""
    n = draw(st.integers(0, 40))
    side = draw(st.sampled_from([2, 6, 30]))  # 2: far more than k sites per cell
    pts = draw(
        st.lists(st.tuples(st.integers(0, side), st.integers(0, side)), min_size=n, max_size=n)
    )
    extra = draw(
        st.lists(
            st.tuples(st.floats(0, 40, allow_nan=False), st.floats(0, 40, allow_nan=False)),
            max_size=8,
        )
    )
    xy = np.array(pts + extra, dtype=float).reshape(-1, 2)
    scale = draw(st.sampled_from([1.0, 100.0]))
    offset = draw(st.sampled_from([0.0, -2.5e6, 3.1e6]))  # exact: integers stay integers
    return xy[:, 0] * scale + offset, xy[:, 1] * scale - offset / 2, scale


@pytest.mark.parametrize("engine", ENGINES)
@given(layout=layouts(), r=st.sampled_from(RADII), k=st.integers(0, 12))
def test_matches_brute_force(engine, layout, r, k):
    x, y, scale = layout
    got = _urban(engine, x, y, r * scale, k)
    assert got.dtype == bool
    assert got.shape == x.shape
    np.testing.assert_array_equal(got, _brute(x, y, r * scale, k))


@pytest.mark.parametrize("engine", ENGINES)
@given(
    xy=st.lists(
        st.tuples(st.floats(-3e3, 3e3), st.floats(-3e3, 3e3)),
        max_size=60,
    ),
    r=st.floats(0, 2e3),
    k=st.integers(1, 8),
)
def test_matches_brute_force_random_floats(engine, xy, r, k):
    xy = np.array(xy, dtype=float).reshape(-1, 2)
    got = _urban(engine, xy[:, 0], xy[:, 1], r, k)
    np.testing.assert_array_equal(got, _brute(xy[:, 0], xy[:, 1], r, k))


@pytest.mark.parametrize("engine", ENGINES)
@given(
    xy=st.lists(st.tuples(st.floats(-2e3, 2e3), st.floats(-2e3, 2e3)), min_size=2, max_size=40),
    pair=st.tuples(st.integers(0, 39), st.integers(0, 39)),
    ulps=st.integers(-2, 2),
    offset=st.sampled_from([0.0, 3.1e6]),
    k=st.integers(2, 6),
)
def test_radius_exactly_at_a_pair_distance(engine, xy, pair, ulps, offset, k):
    # r is a pair's float distance, or a few ulps off it: the boundary is where
    # rounding could make engines disagree
    xy = np.array(xy, dtype=float) + offset
    i, j = pair[0] % len(xy), pair[1] % len(xy)
    r = float(np.sqrt(((xy[i] - xy[j]) ** 2).sum()))
    for _ in range(abs(ulps)):
        r = float(np.nextafter(r, np.inf if ulps > 0 else 0.0))
    got = _urban(engine, xy[:, 0], xy[:, 1], r, k)
    np.testing.assert_array_equal(got, _brute(xy[:, 0], xy[:, 1], r, k))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("x", "y", "r", "k", "expected"),
    [
        ([], [], 1000.0, 10, []),  # no sites
        ([], [], 1000.0, 1, []),
        ([5.0], [5.0], 1000.0, 1, [True]),  # one site counts itself
        ([5.0], [5.0], 1000.0, 2, [False]),
        ([0.0, 3.0, 50.0], [0.0, 4.0, 0.0], 5.0, 0, [True, True, True]),  # k = 0
        ([0.0, 3.0, 50.0], [0.0, 4.0, 0.0], 5.0, 1, [True, True, True]),  # k = 1
        ([0.0, 3.0, 50.0], [0.0, 4.0, 0.0], 5.0, 2, [True, True, False]),  # exactly r
        ([0.0, 3.0, 50.0], [0.0, 4.0, 0.0], 4.999999, 2, [False, False, False]),
        ([0.0, 3.0, 50.0], [0.0, 4.0, 0.0], 1e9, 4, [False, False, False]),  # k > n
        ([7.0, 7.0, 7.0], [1.0, 1.0, 1.0], 0.0, 3, [True, True, True]),  # duplicates, r = 0
        ([0.0, 10, 20, 5000], [0.0, 0, 0, 0], 100.0, 3, [True, True, True, False]),
        # strips of the same height but far apart: the strip table is capped
        ([0.0, 0.5, 0.0], [0.0, 0.0, 4e7], 1.0, 2, [True, True, False]),
        ([0.0, 0.0, 1.0], [0.0, 2.0, 1e-3], 2.0, 3, [True, False, False]),
    ],
)
def test_edge_cases(engine, x, y, r, k, expected):
    got = _urban(engine, x, y, r, k)
    assert got.tolist() == expected


def test_one_kilometre_city():
    # a 1 km² city of 10 sites on a 100 m row, one site 5 km away
    x = np.r_[np.arange(10) * 100.0, 5000.0]
    y = np.zeros(11)
    flags = urban_from_density(x, y, 1000.0, 10)
    assert flags.tolist() == [True] * 10 + [False]
    # 899 m: the two ends of the row miss one site each
    assert urban_from_density(x, y, 899.0, 10).tolist() == [False] + [True] * 8 + [False] * 2


def test_strips_on_a_larger_layout_match_the_kdtree():
    kernels = _kernels()
    rng = np.random.default_rng(7)
    # clustered towns, a regular grid with spacing r (boundary pairs) and scattered sites
    centres = rng.uniform(0, 60_000, (30, 2))
    towns = centres[rng.integers(0, 30, 6000)] + rng.normal(0, 700, (6000, 2))
    grid = np.stack(np.meshgrid(np.arange(20) * 1000.0, np.arange(20) * 1000.0), -1).reshape(-1, 2)
    scattered = rng.uniform(-10_000, 70_000, (3000, 2))
    xy = np.vstack([towns, grid + 200_000.0, scattered]) + np.array([4.5e5, 3.3e6])
    for r, k in [(1000.0, 10), (1000.0, 5), (250.0, 3), (3000.0, 40)]:
        want = coverage._urban_kdtree(xy[:, 0], xy[:, 1], r, k)
        got = coverage._urban_strips(xy[:, 0], xy[:, 1], r, k, kernels)
        np.testing.assert_array_equal(got, want)
        assert 0 < want.sum() < len(want)  # both kinds of site are present


def test_large_inputs_use_the_strips(monkeypatch):
    _kernels()
    calls = []
    monkeypatch.setattr(coverage, "_STRIP_MIN_SITES", 3)
    monkeypatch.setattr(coverage, "_urban_kdtree", lambda *a: calls.append(a))
    assert urban_from_density([0, 10, 20, 5000], [0, 0, 0, 0], 100, 3).tolist() == [
        True,
        True,
        True,
        False,
    ]
    assert calls == []


def test_without_numba_the_kdtree_answers(monkeypatch):
    monkeypatch.setattr(coverage, "_STRIP_MIN_SITES", 1)
    monkeypatch.setattr(_strips, "kernels", lambda: None)
    x = [0.0, 10, 20, 5000]
    assert urban_from_density(x, [0.0] * 4, 100.0, 3).tolist() == [True, True, True, False]


def test_within_sq_is_the_sqrt_boundary():
    for r in [0.0, 1.0, 5.0, 1000.0, 999.9999999, 1e-300, 3.3e7, 2.0**0.5]:
        t = coverage._within_sq(r)
        assert np.sqrt(t) <= r
        assert np.sqrt(np.nextafter(t, np.inf)) > r


@pytest.mark.parametrize(
    ("x", "y", "r", "fragment"),
    [
        ([0.0, 1.0], [0.0], 10.0, "x but 1 y"),
        ([0.0, np.nan], [0.0, 1.0], 10.0, "1 sites have no finite"),
        ([0.0, 1.0], [np.inf, 1.0], 10.0, "1 sites have no finite"),
        ([0.0, 1.0], [0.0, 1.0], -1.0, "radius_m = -1.0"),
        ([0.0, 1.0], [0.0, 1.0], np.nan, "radius_m = nan"),
    ],
)
def test_bad_input_is_a_data_error(x, y, r, fragment):
    with pytest.raises(DataError, match=fragment):
        urban_from_density(x, y, r, 2)
