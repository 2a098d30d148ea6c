"""Plan years and trajectories (geo5g.trend): small series checked by hand."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo5g.errors import DataError
from geo5g.plans import load_plan
from geo5g.trend import (
    NATIONAL_MILESTONES,
    PROVINCE_MILESTONES,
    Milestone,
    plan_milestones,
    station_series,
    trajectory,
)


def _sites():
    """City 1: 100 sites by 2023-06-30, then 10 in every quarter; city 2: one undated site."""
    early = ["2023-01-15"] * 100
    # mid-quarter dates, 10 sites each, 2023Q3 .. 2024Q2 (four quarters)
    later = [d for d in ["2023-08-15", "2023-11-15", "2024-02-15", "2024-05-15"] for _ in range(10)]
    when = pd.Series(pd.to_datetime([*early, *later, None]))
    zone = pd.Series([1] * (len(early) + len(later)) + [2], dtype="Int64")
    return when, zone


def test_quarterly_series_counts_by_hand():
    when, zone = _sites()
    s = station_series(when, zone, [1, 2], "Q", start="2023-01-01", end="2024-06-30")
    assert s.columns.strftime("%Y-%m-%d").tolist() == [
        "2023-03-31",
        "2023-06-30",
        "2023-09-30",
        "2023-12-31",
        "2024-03-31",
        "2024-06-30",
    ]
    assert s.loc[1].tolist() == [100, 100, 110, 120, 130, 140]
    # the undated site is on air: counted in every period, and reported
    assert s.loc[2].tolist() == [1] * 6
    assert s.attrs["undated"] == 1
    assert s.attrs["undated_by_zone"] == {2: 1}


def test_sites_before_start_and_after_end():
    when = pd.Series(pd.to_datetime(["2019-05-01", "2022-03-01", "2026-01-01"]))
    s = station_series(when, pd.Series([7, 7, 7]), [7, 8], "Y", start="2021", end="2023")
    # 2019 counts from the first year on; 2026 is after the last period: not counted
    assert s.loc[7].tolist() == [1, 2, 2]
    assert s.loc[8].tolist() == [0, 0, 0]  # a zone without sites
    assert s.attrs["undated"] == 0


def test_site_dated_on_the_last_day_of_a_year_counts_in_that_year():
    when = pd.Series([pd.Timestamp("2023-12-31 18:00"), pd.Timestamp("2024-01-01")])
    s = station_series(when, pd.Series([1, 1]), [1], "Y")
    assert s.loc[1].tolist() == [1, 2]


def test_dates_as_text_and_zones_outside_are_left_out():
    when = pd.Series(["2023-02-01", "", "2023-07-01", "2023-03-01"])
    zone = pd.Series([1, 1, pd.NA, 99], dtype="Int64")  # no zone; a zone not asked for
    s = station_series(when, zone, [1], "Y")
    assert s.loc[1].tolist() == [2]  # the dated site and the undated one
    assert s.attrs["undated"] == 1


def test_trajectory_pace_projection_and_need_by_hand():
    when, zone = _sites()
    s = station_series(when, zone, [1, 2], "Q", start="2023-01-01", end="2024-06-30")
    pop = pd.Series({1: 100_000, 2: 10_000})
    milestones = [
        ("2024-12-31", 18, ">", "y2024"),
        ("2025-06-30", 18, ">", "jun25_gt"),
        ("2025-06-30", 18, ">=", "jun25_ge"),
        ("2025-09-30", 18, ">", "sep25"),
    ]
    t = trajectory(s, pop, milestones, as_of="2024-06-30")
    assert t.attrs["as_of"] == "2024-06-30"
    assert t.loc[1, "stations"] == 140
    assert t.loc[1, "per_10k"] == pytest.approx(140 / 100_000 * 1e4)
    # 40 stations added over the four quarters 2023-06-30 → 2024-06-30
    assert t.loc[1, "pace_per_quarter"] == pytest.approx(40 / 4)
    # two quarters to 2024-12-31: 140 + 2·10 = 160 → 16 per 10k, not > 18
    assert t.loc[1, "per_10k_y2024"] == pytest.approx(16.0)
    assert not t.loc[1, "on_track_y2024"]
    # four quarters: 180 → exactly 18: not "more than 18", but "at least 18"
    assert t.loc[1, "per_10k_jun25_gt"] == pytest.approx(18.0)
    assert not t.loc[1, "on_track_jun25_gt"]
    assert t.loc[1, "on_track_jun25_ge"]
    # five quarters: 190 → 19 > 18: the city gets there in 2025Q3
    assert t.loc[1, "on_track_sep25"]
    # the next milestone needs floor(18 · 10) + 1 = 181 stations: 41 more in 2 quarters
    assert t.attrs["next_milestone"] == "y2024"
    assert t.loc[1, "needed_per_quarter"] == pytest.approx((181 - 140) / 2)
    # city 2: one station, no pace; 1 per 10k; needs 19 → 18 more over 2 quarters
    assert t.loc[2, "pace_per_quarter"] == 0
    assert t.loc[2, "needed_per_quarter"] == pytest.approx((19 - 1) / 2)


def test_pace_over_four_quarters_of_an_irregular_series():
    cols = pd.DatetimeIndex(
        pd.to_datetime(["2023-03-31", "2023-06-30", "2023-09-30", "2023-12-31", "2024-03-31"])
    )
    s = pd.DataFrame(
        [[5, 7, 8, 12, 20], [3, 3, 3, 3, 3]], index=pd.Index([1, 2], name="adcode"), columns=cols
    )
    t = trajectory(s, pd.Series({1: 20_000, 2: 1_000}), [("2025-03-31", 26, ">=")])
    assert t.attrs["as_of"] == "2024-03-31"
    assert t.loc[1, "pace_per_quarter"] == pytest.approx((20 - 5) / 4)
    # four quarters ahead: 20 + 4 · 3.75 = 35 → 17.5 per 10k
    assert t.loc[1, "per_10k_2025-03-31"] == pytest.approx(35 / 20_000 * 1e4)
    # ≥ 26 per 10k of 20,000 is 52 stations: 32 more over 4 quarters
    assert t.loc[1, "needed_per_quarter"] == pytest.approx((52 - 20) / 4)
    # city 2 already meets it (30 per 10k): nothing needed
    assert t.loc[2, "on_track_2025-03-31"]
    assert t.loc[2, "needed_per_quarter"] == 0


def test_as_of_between_periods_uses_the_period_before():
    cols = pd.DatetimeIndex(pd.to_datetime(["2022-12-31", "2023-12-31", "2024-12-31"]))
    s = pd.DataFrame([[10, 30, 60]], index=pd.Index([1], name="adcode"), columns=cols)
    t = trajectory(s, pd.Series({1: 10_000}), [("2025-12-31", 26, ">=")], as_of="2024-06-15")
    assert t.attrs["as_of"] == "2023-12-31"
    assert t.loc[1, "stations"] == 30
    assert t.loc[1, "pace_per_quarter"] == pytest.approx((30 - 10) / 4)


def test_past_milestone_uses_the_count_and_population_per_year():
    cols = pd.DatetimeIndex(pd.to_datetime(["2022-12-31", "2023-12-31", "2024-12-31"]))
    s = pd.DataFrame([[10, 19, 30]], index=pd.Index([1], name="adcode"), columns=cols)
    pop = pd.DataFrame({2020: [10_000], 2024: [12_000]}, index=pd.Index([1], name="adcode"))
    t = trajectory(s, pop, [("2023-12-31", 18, ">"), ("2025-12-31", 26, ">=")])
    # 2023 is past: the 19 stations counted then, with the 2020 population (latest ≤ 2023)
    assert t.loc[1, "per_10k_2023-12-31"] == pytest.approx(19.0)
    assert t.loc[1, "on_track_2023-12-31"]
    # now (2024): 30 stations of 12,000 residents
    assert t.loc[1, "per_10k"] == pytest.approx(30 / 12_000 * 1e4)
    # 2025: 30 + 4 · (11 / 4) = 41 stations of 12,000 (2024 is the latest year)
    assert t.loc[1, "per_10k_2025-12-31"] == pytest.approx(41 / 12_000 * 1e4)
    assert t.loc[1, "on_track_2025-12-31"]
    assert t.attrs["next_milestone"] == "2025-12-31"


def test_unknown_population_gives_na():
    cols = pd.DatetimeIndex(pd.to_datetime(["2023-12-31", "2024-12-31"]))
    s = pd.DataFrame([[1, 2]], index=pd.Index([5], name="adcode"), columns=cols)
    t = trajectory(s, pd.Series({9: 100}), [("2025-12-31", 26, ">=")])
    assert pd.isna(t.loc[5, "per_10k"])
    assert pd.isna(t.loc[5, "on_track_2025-12-31"])
    assert pd.isna(t.loc[5, "needed_per_quarter"])


def test_no_milestone_ahead():
    cols = pd.DatetimeIndex(pd.to_datetime(["2023-12-31", "2024-12-31"]))
    s = pd.DataFrame([[1, 2]], index=pd.Index([5], name="adcode"), columns=cols)
    t = trajectory(s, pd.Series({5: 100}), NATIONAL_MILESTONES[:1])
    assert t.attrs["next_milestone"] is None
    assert pd.isna(t.loc[5, "needed_per_quarter"])
    assert "on_track_national-2023" in t.columns


def test_errors_name_the_value_and_the_fix():
    cols = pd.DatetimeIndex(pd.to_datetime(["2024-06-30", "2024-09-30"]))
    s = pd.DataFrame([[1, 2]], index=pd.Index([5], name="adcode"), columns=cols)
    with pytest.raises(DataError, match="four quarters"):
        trajectory(s, pd.Series({5: 100}), [("2025-12-31", 26, ">=")])
    with pytest.raises(DataError, match="outside the series"):
        trajectory(s, pd.Series({5: 100}), [], as_of="2030-01-01")
    with pytest.raises(DataError, match="op"):
        trajectory(s, pd.Series({5: 100}), [("2025-12-31", 26, "=")], as_of="2024-06-30")
    with pytest.raises(DataError, match="periods"):
        station_series(pd.Series(pd.to_datetime(["2023-01-01"])), pd.Series([1]), [1], "M")
    with pytest.raises(DataError, match="'soon' is not a date"):
        station_series(pd.Series(["2023-01-01", "soon"]), pd.Series([1, 1]), [1])
    with pytest.raises(DataError, match="start= and end="):
        station_series(pd.Series([pd.NaT]), pd.Series([1]), [1])


def test_national_milestones_match_the_shipped_plans():
    for milestone in NATIONAL_MILESTONES:
        plan = load_plan(milestone.label)
        assert milestone.date == plan.horizon
        assert milestone.threshold == plan.density_target.threshold
        assert milestone.op == plan.density_target.op
    for province, (milestone,) in PROVINCE_MILESTONES.items():
        plan = load_plan(milestone.label)
        assert plan.province == province
        assert (milestone.date, milestone.op) == (plan.horizon, plan.density_target.op)
        assert milestone.threshold == plan.density_target.threshold


def test_plan_milestones():
    (own,) = plan_milestones(load_plan("jiangsu-2024"))
    assert (own.date, own.threshold, own.op) == ("2024-12-31", 26.0, ">")
    chain = plan_milestones(load_plan("jiangsu-2024"), national=True)
    assert [m.date for m in chain] == ["2023-12-31", "2024-12-31", "2025-12-31"]
    # Jiangxi's milestone is the national 2023 one: listed once
    chain = plan_milestones(load_plan("jiangxi-2023"), national=True)
    assert [(m.date, m.threshold, m.op) for m in chain] == [
        ("2023-12-31", 18.0, ">"),
        ("2025-12-31", 26.0, ">="),
    ]
    plan = load_plan("jiangsu-2024")
    from dataclasses import replace

    with pytest.raises(DataError, match="horizon"):
        plan_milestones(replace(plan, horizon=""))
    assert isinstance(chain[0], Milestone)


_day = st.integers(min_value=0, max_value=3 * 365)


@given(
    st.lists(st.tuples(st.one_of(st.none(), _day), st.sampled_from([1, 2, 3])), max_size=40),
    st.sampled_from(["Y", "Q"]),
)
def test_series_counts_sites_on_air_at_each_period_end(sites, periods):
    base = pd.Timestamp("2022-01-01")
    when = pd.Series(
        [pd.NaT if d is None else base + pd.Timedelta(days=d) for d, _ in sites],
        dtype="datetime64[ns]",
    )
    zone = pd.Series([z for _, z in sites], dtype="Int64")
    s = station_series(when, zone, [1, 2, 3], periods, start="2022-01-01", end="2024-12-31")
    assert (np.diff(s.to_numpy(), axis=1) >= 0).all()  # cumulative
    for end in s.columns:  # a few periods: a direct count
        on_air = when.isna() | (when < end + pd.Timedelta(days=1))
        expected = zone[on_air].value_counts().reindex([1, 2, 3], fill_value=0)
        assert s[end].tolist() == expected.tolist()
    assert s.attrs["undated"] == int(when.isna().sum())
