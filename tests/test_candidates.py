"""Candidate sites (geo5g.candidates): gap cover, existing towers first, people covered."""

import itertools
import math
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from geo5g.candidates import existing_first, gap_candidates, population_candidates
from geo5g.errors import CRSError, DataError
from geo5g.lines import cover_lines
from geo5g.popcover import coverage_mask

CRS = "EPSG:32650"  # UTM 50N: metres


def _gaps(lines, starts=None, covered=None, refs=None):
    lines = [shapely.LineString(c) for c in lines]
    length = np.array([g.length for g in lines])
    start = np.zeros(len(lines)) if starts is None else np.asarray(starts, dtype=float)
    data = {
        "ref": refs or [f"G{k}" for k in range(len(lines))],
        "name": ["expressway"] * len(lines),
        "city_adcode": [320100 + k for k in range(len(lines))],
        "start_m": start,
        "end_m": start + length,
        "length_m": length,
    }
    if covered is not None:
        data["covered"] = covered
    return gpd.GeoDataFrame(data, geometry=lines, crs=CRS)


# --------------------------------------------------------------------------- gap_candidates


def test_ten_km_gap_with_one_km_reach_needs_five_sites():
    gaps = _gaps([[(2000, 0), (12000, 0)]], starts=[2000.0])
    sites = gap_candidates(gaps, 1000)
    assert len(sites) == math.ceil(10_000 / (2 * 1000))
    assert sites["offset_m"].tolist() == [1000, 3000, 5000, 7000, 9000]
    # chainage counts from the start of the road, not of the gap
    assert sites["chainage_m"].tolist() == [3000, 5000, 7000, 9000, 11000]
    assert sites["closes_m"].tolist() == [2000] * 5
    assert shapely.get_x(sites.geometry.values).tolist() == [3000, 5000, 7000, 9000, 11000]
    assert set(sites["ref"]) == {"G0"} and set(sites["city_adcode"]) == {320100}
    assert sites.crs == gaps.crs


def test_several_gaps_at_once_and_the_last_site_stays_inside():
    gaps = _gaps(
        [[(0, 0), (10000, 0)], [(0, 100), (1500, 100)], [(0, 200), (2500, 200)]],
        covered=[False, False, False],
    )
    more = _gaps([[(0, 300), (9000, 300)]], covered=[True])
    gaps = gpd.GeoDataFrame(pd.concat([gaps, more], ignore_index=True), crs=CRS)
    sites = gap_candidates(gaps, 1000)
    # 10 km: 5; 1.5 km: 1; 2.5 km: 2; the covered run is not a gap
    assert sites.groupby("gap").size().tolist() == [5, 1, 2]
    third = sites[sites["gap"] == 2]
    assert third["offset_m"].tolist() == [1000, 2500]  # 3000 would lie past the end
    assert third["closes_m"].tolist() == [2000, 500]
    sums = sites.groupby("gap")["closes_m"].sum()
    assert sums.tolist() == pytest.approx([10000, 1500, 2500])


def test_sites_lie_on_a_bent_line_at_their_offset():
    gaps = _gaps([[(0, 0), (3000, 0), (3000, 4000)]])  # 7 km, bent
    sites = gap_candidates(gaps, 1000)
    line = gaps.geometry.iloc[0]
    assert len(sites) == 4
    assert shapely.distance(sites.geometry.values, line).max() < 1e-6
    located = shapely.line_locate_point(line, sites.geometry.values)
    assert located.tolist() == pytest.approx([1000, 3000, 5000, 7000])


@given(
    st.lists(st.floats(0.5, 30_000), min_size=1, max_size=6),
    st.floats(50, 5_000),
)
def test_gap_cover_is_minimal_and_complete(lengths, reach):
    gaps = _gaps([[(0, 10 * k), (length, 10 * k)] for k, length in enumerate(lengths)])
    sites = gap_candidates(gaps, reach)
    for k, length in enumerate(lengths):
        mine = sites[sites["gap"] == k]
        offsets = np.sort(mine["offset_m"].to_numpy())
        n = len(offsets)
        # no fewer sites can do: n − 1 sites close at most 2 r (n − 1) < L
        assert 2 * reach * (n - 1) < length * (1 + 1e-9)
        assert length <= 2 * reach * n * (1 + 1e-9)
        assert offsets.min() >= 0 and offsets.max() <= length
        # every point of the gap is within reach of a site
        probe = np.linspace(0, length, 501)
        nearest = np.abs(probe[:, None] - offsets[None, :]).min(axis=1)
        assert nearest.max() <= reach * (1 + 1e-9)
        assert mine["closes_m"].sum() == pytest.approx(length)


def test_gap_candidates_refuses_bad_input():
    gaps = _gaps([[(0, 0), (100, 0)]])
    with pytest.raises(CRSError, match="not projected in metres"):
        gap_candidates(gaps.set_crs("EPSG:4326", allow_override=True), 100)
    with pytest.raises(DataError, match="missing columns start_m"):
        gap_candidates(gaps.drop(columns="start_m"), 100)
    with pytest.raises(DataError, match="reach_m"):
        gap_candidates(gaps, 0)


# --------------------------------------------------------------------------- existing_first


def _towers():
    # A (2000, 0): [1000, 3000]; B (2500, 600): half-chord 800 → [1700, 3300];
    # C (8000, 0): [7000, 9000]; D far away; E (5000, 900): half-chord √190000 ≈ 435.9
    return np.array([[2000, 0], [2500, 600], [8000, 0], [5000, 5000], [5000, 900]], dtype=float)


def test_existing_towers_that_close_most_are_chosen_first():
    gaps = _gaps([[(0, 0), (10000, 0)]])
    chosen, remaining = existing_first(gaps, 1000, _towers())
    half_e = math.sqrt(1000**2 - 900**2)
    # round 1: A and C close 2000 m each (A first); round 2: C; then E (871.8 m),
    # then B closes only [3000, 3300] beyond A; D covers nothing and is never chosen
    assert chosen["tower"].tolist() == [0, 2, 4, 1]
    assert chosen["closes_m"].tolist() == pytest.approx([2000, 2000, 2 * half_e, 300])
    assert chosen["cumulative_m"].iloc[-1] == pytest.approx(4300 + 2 * half_e)
    assert chosen.index.tolist() == [1, 2, 3, 4]
    assert chosen[["x", "y"]].to_numpy().tolist() == _towers()[[0, 2, 4, 1]].tolist()
    # left: [0, 1000], [3300, 5000 − e], [5000 + e, 7000], [9000, 10000]
    assert remaining["start_m"].tolist() == pytest.approx([0, 3300, 5000 + half_e, 9000])
    assert remaining["end_m"].tolist() == pytest.approx([1000, 5000 - half_e, 7000, 10000])
    assert remaining["length_m"].sum() == pytest.approx(10000 - chosen["closes_m"].sum())
    assert not remaining["covered"].any()
    assert set(remaining["ref"]) == {"G0"}


def test_minimum_gain_stops_the_greedy_and_new_sites_fill_the_rest():
    gaps = _gaps([[(0, 0), (10000, 0)]])
    chosen, remaining = existing_first(gaps, 1000, _towers(), min_gain_m=500)
    assert chosen["tower"].tolist() == [0, 2, 4]  # B's 300 m is below the minimum
    new = gap_candidates(remaining, 1000)
    # gaps left: 1000, 1564.1, 1564.1 and 1000 m → one new site each, 4 instead of 5
    assert len(new) == 4 < len(gap_candidates(gaps, 1000))
    assert new["closes_m"].sum() == pytest.approx(remaining["length_m"].sum())


def test_chainage_of_what_is_left_follows_the_road():
    gaps = _gaps([[(0, 0), (4000, 0)]], starts=[5000.0])
    _, remaining = existing_first(gaps, 1000, np.array([[2000.0, 0.0]]))
    assert remaining["start_m"].tolist() == pytest.approx([5000, 8000])
    assert remaining["end_m"].tolist() == pytest.approx([6000, 9000])


def test_no_tower_in_reach_leaves_the_gaps_as_they_are():
    gaps = _gaps([[(0, 0), (4000, 0)], [(0, 500), (0, 3000)]])
    chosen, remaining = existing_first(gaps, 100, (np.array([9e4]), np.array([9e4])))
    assert chosen.empty
    assert remaining["length_m"].tolist() == pytest.approx(gaps["length_m"].tolist())


def test_towers_as_a_layer_keep_their_labels_and_crs_is_checked():
    gaps = _gaps([[(0, 0), (4000, 0)]])
    towers = gpd.GeoSeries(shapely.points([[1000, 0], [3000, 50]]), index=[17, 42], crs=CRS)
    chosen, _ = existing_first(gaps, 500, towers)
    assert sorted(chosen["tower"]) == [17, 42]
    with pytest.raises(CRSError, match="towers"):
        existing_first(gaps, 500, towers.to_crs("EPSG:32651"))


@given(
    st.lists(st.tuples(st.floats(-500, 5500), st.floats(-1500, 1500)), min_size=1, max_size=12),
    st.floats(200, 1500),
)
def test_closed_metres_agree_with_the_line_cover_engine(points, reach):
    gaps = _gaps([[(0, 0), (2000, 0), (2000, 1000), (5000, 800)], [(0, -900), (4000, -900)]])
    towers = np.array(points)
    chosen, remaining = existing_first(gaps, reach, towers, min_gain_m=0.0)
    gains = chosen["closes_m"].to_numpy()
    assert (np.diff(gains) <= 1e-6).all()  # greedy gains never rise
    assert (gains > 0).all()
    # what the chosen towers close, measured by geo5g.lines on its own
    xy = towers[chosen["tower"].to_numpy()]
    runs = cover_lines(gaps.drop(columns="covered", errors="ignore"), xy[:, 0], xy[:, 1], reach)
    covered = runs.loc[runs["covered"], "length_m"].sum()
    assert chosen["closes_m"].sum() == pytest.approx(covered, abs=1e-3)
    total = gaps["length_m"].sum()
    assert remaining["length_m"].sum() == pytest.approx(total - covered, abs=1e-3)
    # every tower left out closes nothing more
    others = np.setdiff1d(np.arange(len(towers)), chosen["tower"])
    for k in others[:3]:
        both = np.vstack([xy, towers[k]])
        more = cover_lines(gaps, both[:, 0], both[:, 1], reach)
        assert more.loc[more["covered"], "length_m"].sum() == pytest.approx(covered, abs=1e-3)


# --------------------------------------------------------------------------- people

T = Affine(100, 0, 0, 0, -100, 800)  # 100 m pixels, north-up


def _covered_people(pop, x, y, reach, mask):
    """People covered by sites at (x, y), by geo5g.popcover's own disk rule."""
    if not len(x):
        return 0.0
    disk = coverage_mask(pop.shape, T, CRS, (np.asarray(x), np.asarray(y)), reach)
    return float(pop[disk & ~mask].sum())


def _optimum(pop, mask, reach, k, cx, cy):
    """The best k candidate sites, by trying every combination (tiny instances)."""
    h, w = pop.shape
    jj, ii = np.meshgrid(np.arange(w), np.arange(h))
    px, py = T.c + (jj + 0.5) * T.a, T.f + (ii + 0.5) * T.e
    d2 = (px.ravel()[None, :] - cx[:, None]) ** 2 + (py.ravel()[None, :] - cy[:, None]) ** 2
    cover = d2 <= reach**2
    left = np.where(mask, 0, pop).ravel()
    best = 0.0
    for combo in itertools.combinations(range(len(cx)), k):
        best = max(best, float(left[cover[list(combo)].any(axis=0)].sum()))
    return best


def test_people_by_hand_on_a_small_grid():
    pop = np.zeros((5, 7))
    pop[1, 1], pop[1, 2], pop[2, 2] = 10, 4, 6  # a town of 20
    pop[4, 6] = 15  # a village, 4 pixels away
    mask = np.zeros((5, 7), dtype=bool)
    # 150 m reaches the 8 neighbours (141 m) but not two pixels away (200 m)
    out = population_candidates(pop, T, CRS, mask, 3, 150)
    assert out["people"].tolist() == [20, 15]  # then nobody is left: 2 sites, not 3
    assert out["cumulative"].tolist() == [20, 35]
    assert out.attrs["uncovered"] == 35
    # the town's site is the 3×3 block holding all of it: centred on (1, 1), (1, 2) …
    first = out.iloc[0]
    assert _covered_people(pop, [first["x"]], [first["y"]], 150, mask) == 20


def test_people_already_covered_do_not_count():
    pop = np.zeros((5, 5))
    pop[1, 1], pop[4, 4] = 10, 3
    mask = np.zeros((5, 5), dtype=bool)
    mask[1, 1] = True  # the town is covered already
    out = population_candidates(pop, T, CRS, mask, 1, 150)
    assert out["people"].tolist() == [3]
    assert out.attrs["uncovered"] == 3


def test_large_disks_through_the_fft_agree_with_the_disk_rule():
    rng = np.random.default_rng(7)
    pop = rng.gamma(0.3, 50, size=(20, 24))  # WorldPop-like fractional people
    mask = np.zeros(pop.shape, dtype=bool)
    mask[:5, :6] = True
    out = population_candidates(pop, T, CRS, mask, 5, 550.0)  # ~95-pixel disks
    assert (np.diff(out["people"].to_numpy()) <= 1e-9).all()
    total = _covered_people(pop, out["x"].to_numpy(), out["y"].to_numpy(), 550.0, mask)
    assert out["cumulative"].iloc[-1] == pytest.approx(total)
    # the first pick is the best single site: every pixel centre tried directly
    h, w = pop.shape
    jj, ii = np.meshgrid(np.arange(w), np.arange(h))
    px, py = (T.c + (jj + 0.5) * T.a).ravel(), (T.f + (ii + 0.5) * T.e).ravel()
    left = np.where(mask, 0, pop).ravel()
    d2 = (px[:, None] - px[None, :]) ** 2 + (py[:, None] - py[None, :]) ** 2
    assert out["people"].iloc[0] == pytest.approx(((d2 <= 550.0**2) @ left).max())


def test_given_candidates():
    pop = np.zeros((4, 4))
    pop[0, 0], pop[3, 3] = 5, 9
    cands = np.array([[50.0, 750.0], [360.0, 440.0], [1e5, 1e5]])  # near (0,0), near (3,3)
    out = population_candidates(pop, T, CRS, np.zeros((4, 4), bool), 3, 60, cands)
    assert out["candidate"].tolist() == [1, 0]
    assert out["people"].tolist() == [9, 5]
    assert out[["x", "y"]].to_numpy().tolist() == cands[[1, 0]].tolist()


@given(
    st.lists(st.integers(0, 9), min_size=16, max_size=16),
    st.lists(st.booleans(), min_size=16, max_size=16),
    st.sampled_from([105.0, 150.0, 250.0]),  # no pixel centre lies exactly at the reach
)
def test_greedy_against_the_brute_force_optimum(values, covered, reach):
    pop = np.array(values, dtype=float).reshape(4, 4)
    mask = np.array(covered).reshape(4, 4)
    out = population_candidates(pop, T, CRS, mask, 2, reach)
    h, w = pop.shape
    jj, ii = np.meshgrid(np.arange(w), np.arange(h))
    cx, cy = (T.c + (jj + 0.5) * T.a).ravel(), (T.f + (ii + 0.5) * T.e).ravel()
    best = _optimum(pop, mask, reach, 2, cx, cy)
    got = float(out["people"].sum())
    assert got <= best + 1e-9
    assert got >= (1 - 1 / math.e) * best - 1e-9
    assert got == _covered_people(pop, out["x"].to_numpy(), out["y"].to_numpy(), reach, mask)
    # the same with the pixel centres given as candidates
    given_out = population_candidates(pop, T, CRS, mask, 2, reach, (cx, cy))
    assert float(given_out["people"].sum()) == pytest.approx(got)


def test_greedy_against_spopt_mclp(record_property):
    spopt_locate = pytest.importorskip("spopt.locate")
    pulp = pytest.importorskip("pulp")
    rng = np.random.default_rng(3)
    gaps = []
    for _ in range(4):  # a few small instances
        pop = rng.poisson(2.0, size=(6, 6)).astype(float) * rng.integers(0, 2, size=(6, 6))
        mask = rng.random((6, 6)) < 0.2
        reach = 150.0
        h, w = pop.shape
        jj, ii = np.meshgrid(np.arange(w), np.arange(h))
        cx, cy = (T.c + (jj + 0.5) * T.a).ravel(), (T.f + (ii + 0.5) * T.e).ravel()
        cost = np.hypot(cx[:, None] - cx[None, :], cy[:, None] - cy[None, :])
        weights = np.where(mask, 0, pop).ravel()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # PuLP 3 → 4 messages
            model = spopt_locate.MCLP.from_cost_matrix(cost, weights, reach, p_facilities=3)
            model = model.solve(pulp.PULP_CBC_CMD(msg=False))
            best = float(pulp.value(model.problem.objective))
        got = float(population_candidates(pop, T, CRS, mask, 3, reach)["people"].sum())
        assert got <= best + 1e-6
        assert got >= (1 - 1 / math.e) * best - 1e-6, (got, best)
        gaps.append(best - got)
    record_property("greedy_gap_to_mclp_people", gaps)
    print(f"greedy vs MCLP optimum, people short: {gaps}")


def test_population_candidates_refuses_bad_input():
    pop = np.ones((3, 3))
    mask = np.zeros((3, 3), dtype=bool)
    with pytest.raises(CRSError, match="metres"):
        population_candidates(pop, T, "EPSG:4326", mask, 1, 100)
    with pytest.raises(DataError, match="covered_mask"):
        population_candidates(pop, T, CRS, np.zeros((2, 2), bool), 1, 100)
    with pytest.raises(DataError, match="negative"):
        population_candidates(-pop, T, CRS, mask, 1, 100)
    with pytest.raises(DataError, match="rotated"):
        population_candidates(pop, Affine(100, 1, 0, 0, -100, 0), CRS, mask, 1, 100)
    assert population_candidates(pop, T, CRS, mask, 0, 100).empty


@settings(max_examples=25, deadline=None)
@given(
    people=arrays("int64", (9, 11), elements=st.integers(0, 9)),
    n=st.integers(1, 6),
    reach=st.sampled_from([90.0, 150.0, 260.0]),
)
def test_compiled_grid_greedy_equals_the_python_loop(people, n, reach):
    """Candidates on pixel centres (compiled) choose as the general loop does."""
    from affine import Affine

    t = Affine(100.0, 0.0, 500_000.0, 0.0, -100.0, 3_500_000.0)
    covered = np.zeros(people.shape, dtype=bool)
    covered[::3, ::4] = True
    values = people.astype("float64")
    rows, cols = np.mgrid[0 : people.shape[0], 0 : people.shape[1]]
    xy = np.column_stack([t.c + (cols.ravel() + 0.5) * t.a, t.f + (rows.ravel() + 0.5) * t.e])
    grid = population_candidates(values, t, "EPSG:32650", covered, n, reach)
    loop = population_candidates(values, t, "EPSG:32650", covered, n, reach, candidates_xy=xy)
    assert grid["people"].tolist() == loop["people"].tolist()
    assert grid[["x", "y"]].to_numpy().tolist() == loop[["x", "y"]].to_numpy().tolist()
