"""The fast site search of geo5g.corridors gives the answer of the plain exact method.

``cover_lines`` finds the covered stretches in two passes: groups of consecutive road
pieces lying wholly inside a circle are covered whole without looking at their pieces,
and only the pieces of groups on a circle's edge get the exact segment–circle
intersection. These tests compare it with the brute force (every piece against every
circle) and with the grouping switched off, on random winding roads and mixed reaches.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS
from shapely import LineString, box

from geo5g import lines as corridors
from geo5g.lines import (
    _covered_intervals,
    _duplicate_segments,
    _explode,
    _groups,
    cover_lines,
    prepare_roads,
)

TM = CRS.from_proj4(
    "+proj=tmerc +lat_0=0 +lon_0=118 +k=1 +x_0=500000 +y_0=0 +datum=WGS84 +units=m +no_defs"
)
X0, Y0 = 500_000.0, 3_500_000.0
PIECE_M = 25.0  # short pieces, so that circles of 300 m and more are searched in groups


def _winding_roads(rng, lines=3, steps=80) -> gpd.GeoDataFrame:
    """Random-walk roads: steps of 5-120 m, slowly turning."""
    geoms = []
    for _ in range(lines):
        heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.3, steps))
        step = rng.uniform(5, 120, steps)
        walk = np.column_stack([step * np.cos(heading), step * np.sin(heading)])
        xy = rng.uniform(-3000, 3000, 2) + np.cumsum(np.r_[[[0.0, 0.0]], walk], axis=0)
        geoms.append(LineString(xy + np.array([X0, Y0])))
    return gpd.GeoDataFrame(
        {
            "ref": [f"G{i}" for i in range(lines)],
            "name": [f"road {i}" for i in range(lines)],
            "schematic": False,
        },
        geometry=geoms,
        crs=TM,
    )


def _circles(rng, n=60):
    x = X0 + rng.uniform(-6000, 6000, n)
    y = Y0 + rng.uniform(-6000, 6000, n)
    r = rng.choice([60.0, 300.0, 800.0, 2500.0], n) * rng.uniform(0.8, 1.2, n)
    return x, y, r


def _brute_union(net, x, y, r):
    """Every piece against every circle, then the union of the covered intervals."""
    p = net.pieces
    fx = p.x[:, None] - x[None, :]
    fy = p.y[:, None] - y[None, :]
    qa = (p.dx**2 + p.dy**2)[:, None]
    qb = 2.0 * (fx * p.dx[:, None] + fy * p.dy[:, None])
    disc = qb**2 - 4.0 * qa * (fx**2 + fy**2 - r[None, :] ** 2)
    root = np.sqrt(np.maximum(disc, 0.0))
    t0 = np.clip((-qb - root) / (2.0 * qa), 0.0, 1.0)
    t1 = np.clip((-qb + root) / (2.0 * qa), 0.0, 1.0)
    hit = (disc > 0) & (t1 > t0)
    i = np.nonzero(hit)[0]
    a = p.g0[i] + t0[hit] * p.length[i]
    b = p.g0[i] + t1[hit] * p.length[i]
    out = []
    for s, e in sorted(zip(a.tolist(), b.tolist(), strict=True)):  # a few hundred
        if out and s <= out[-1][1] + 1e-6:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return np.asarray(out, dtype=float).reshape(-1, 2)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_property_covered_intervals_equal_the_brute_force(seed):
    rng = np.random.default_rng(seed)
    net = prepare_roads(_winding_roads(rng), crs=TM, piece_m=PIECE_M)
    x, y, r = _circles(rng)
    u0, u1 = _covered_intervals(net, x, y, r)
    expected = _brute_union(net, x, y, r)
    assert len(u0) == len(expected)
    np.testing.assert_allclose(np.column_stack([u0, u1]), expected, rtol=0, atol=1e-6)


def _without_groups(fn, *args, **kwargs):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(corridors, "_GROUP_PIECES", np.inf)  # every circle against single pieces
        return fn(*args, **kwargs)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_property_runs_equal_with_and_without_groups(seed):
    rng = np.random.default_rng(seed)
    roads = _winding_roads(rng, lines=4)
    cities = gpd.GeoDataFrame(
        {"name_zh": ["west", "east"]},
        geometry=[
            box(X0 - 9000, Y0 - 9000, X0 + 500, Y0 + 9000),
            box(X0 + 500, Y0 - 9000, X0 + 9000, Y0 + 9000),
        ],
        crs=TM,
        index=pd.Index([320100, 320200], name="adcode"),
    )
    net = prepare_roads(roads, cities, TM, piece_m=PIECE_M)
    x, y, r = _circles(rng, 80)
    fast = cover_lines(net, x, y, r)
    plain = _without_groups(cover_lines, net, x, y, r)
    columns = [c for c in fast.columns if c != "geometry"]
    pd.testing.assert_frame_equal(fast[columns], plain[columns], rtol=0, atol=1e-6)
    assert shapely.equals_exact(fast.geometry.values, plain.geometry.values, 1e-6).all()


def test_groups_are_used_and_the_answer_is_unchanged():
    # a 2.5 km circle over a road of 25 m pieces: searched in groups of 2 km of road
    rng = np.random.default_rng(3)
    net = prepare_roads(_winding_roads(rng, lines=2, steps=200), crs=TM, piece_m=PIECE_M)
    assert corridors._span(corridors._bins(np.array([2500.0]))[0], PIECE_M) == 2048.0
    x, y, r = np.array([X0, X0 + 900]), np.array([Y0, Y0 - 400]), np.array([2500.0, 700.0])
    u = np.column_stack(_covered_intervals(net, x, y, r))
    assert len(u) > 0
    np.testing.assert_allclose(u, _brute_union(net, x, y, r), rtol=0, atol=1e-6)


@pytest.mark.parametrize("span", [0.0, 64.0, 512.0, 4096.0])
def test_groups_hold_their_pieces_and_never_span_two_lines(span):
    rng = np.random.default_rng(11)
    net = prepare_roads(_winding_roads(rng, lines=3, steps=150), crs=TM, piece_m=PIECE_M)
    g, p = _groups(net, span), net.pieces
    n = len(p.x)
    first = np.arange(n) if g.first is None else g.first
    count = np.ones(n, dtype=int) if g.count is None else g.count
    # the groups cut the pieces, in order, into runs of one line
    assert first[0] == 0 and (np.diff(first) == count[:-1]).all() and first[-1] + count[-1] == n
    group = np.repeat(np.arange(len(first)), count)
    assert (p.line == p.line[first][group]).all()
    # every piece end lies within the group's circle
    cx, cy = g.tree.data[group, 0], g.tree.data[group, 1]
    for ex, ey in [(p.x, p.y), (p.x + p.dx, p.y + p.dy)]:
        assert (np.hypot(ex - cx, ey - cy) <= g.reach[group] + 1e-9).all()


def test_group_span_grows_with_the_radius_and_stays_off_for_small_circles():
    spans = [corridors._span(b, 100.0) for b in corridors._bins(np.array([60, 300, 800, 2500.0]))]
    assert spans == [0.0, 0.0, 512.0, 2048.0]


def test_duplicate_segments_within_a_ref_and_across_refs():
    a = LineString([(0, 0), (100, 0), (200, 0)])
    back = LineString([(200, 0), (100, 0)])  # the same ref driving back over (100, 0)-(200, 0)
    other = LineString([(0, 0), (100, 0)])  # another ref sharing (0, 0)-(100, 0)
    lines = _explode(np.array([a, back, other], dtype=object))
    group = np.array([0, 0, 1])  # refs of the three lines
    in_ref, in_network = _duplicate_segments(lines, group)
    # vertices 0, 1 start a's segments; 3 starts back's; 5 starts other's
    assert np.flatnonzero(in_ref).tolist() == [3]
    assert np.flatnonzero(in_network).tolist() == [3, 5]


def test_more_sites_than_pieces_all_far_from_the_road():
    # more circles than pieces: they are pre-filtered, and here none is left
    net = prepare_roads(_winding_roads(np.random.default_rng(5), lines=1, steps=2), crs=TM)
    x, y = np.full(5, X0 + 50_000.0), np.full(5, Y0)
    runs = cover_lines(net, x, y, np.full(5, 300.0))
    assert not runs["covered"].any() and len(runs) == 1


@pytest.mark.parametrize("extra", [0, 50])  # few circles; more circles than pieces
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_circles_without_finite_centres_cover_nothing(extra, bad):
    road = LineString([(X0, Y0), (X0 + 100, Y0), (X0 + 200, Y0)])  # two pieces
    roads = gpd.GeoDataFrame({"ref": ["G1"], "name": ["g1"]}, geometry=[road], crs=TM)
    net = prepare_roads(roads, crs=TM, piece_m=500.0)
    x = np.r_[bad, X0, np.full(extra, X0 + 90_000.0)]
    y = np.r_[Y0, Y0, np.full(extra, Y0)]
    runs = cover_lines(net, x, y, np.full(len(x), 30.0))
    assert runs.loc[runs["covered"], "length_m"].sum() == pytest.approx(30.0)
