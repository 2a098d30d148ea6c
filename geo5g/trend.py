"""Plan years and trajectories: stations per zone over time, and whether zones are on track.

Two steps a planner can check by hand:

1. :func:`station_series` counts, per zone (adcode), the sites on air at the end of
   every year or quarter (cumulative, from each site's commissioning date). Sites
   without a date are on air, date unknown: they are counted in every period and
   reported in ``attrs["undated"]``.
2. :func:`trajectory` takes that series, the population and the plan's milestones
   (a date, a stations-per-10k threshold and ``">"``/``">="``) and gives per zone the
   stations now, the pace (stations added over the last four quarters, per quarter),
   the stations per 10k projected linearly at that pace to each milestone, whether
   that meets the milestone, and the stations per quarter still needed to meet the
   next one.

The milestones of the plans geo5g ships (:data:`NATIONAL_MILESTONES`,
:data:`PROVINCE_MILESTONES`):

* national 5G 应用“扬帆”行动计划（2021–2023年）: more than 18 stations per 10k residents
  by the end of 2023 (``> 18``);
* national 十四五 信息通信行业发展规划: 26 stations per 10k residents in 2025 (``>= 26``);
* Jiangsu 5G 应用“领航”行动计划（2022–2024年）: more than 26 by the end of 2024 (``> 26``);
* Jiangxi 5G 应用“扬帆”行动计划: more than 18 by the end of 2023 (``> 18``).

Time is counted in calendar months (a quarter is three months; a date stands for the
end of its month), so a projection from 2024-06-30 to 2025-12-31 spans exactly six
quarters.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from .density import per_10k, required_stations
from .errors import DataError
from .plans import Plan, meets

__all__ = [
    "NATIONAL_MILESTONES",
    "PROVINCE_MILESTONES",
    "Milestone",
    "plan_milestones",
    "station_series",
    "trajectory",
]

_FREQ = {"Y": "Y", "A": "Y", "YE": "Y", "Q": "Q", "QE": "Q"}
_PACE_QUARTERS = 4  # the pace is measured over the last four quarters


class Milestone(NamedTuple):
    """A stations-per-10k milestone of a plan.

    Attributes
    ----------
    date : str
        ISO date by which the threshold must be met (e.g. ``"2025-12-31"``).
    threshold : float
        Stations per 10,000 residents.
    op : {">", ">="}
        ``">"`` for the plans' 超过 ("more than"), ``">="`` for a plain figure.
    label : str
        Short name used in column names (default: the date).
    source : str
        The document stating it.
    """

    date: str
    threshold: float
    op: str
    label: str = ""
    source: str = ""


#: The national chain of stations-per-10k milestones.
NATIONAL_MILESTONES: tuple[Milestone, ...] = (
    # 工信部联通信〔2021〕77号 5G应用“扬帆”行动计划（2021-2023年）:
    # “每万人拥有5G基站数超过18个” (geo5g/plans/national-2023.toml)
    Milestone("2023-12-31", 18.0, ">", "national-2023", "工信部联通信〔2021〕77号"),
    # 工信部规〔2021〕164号 “十四五”信息通信行业发展规划, 主要发展指标:
    # “每万人拥有5G基站数 26个（2025年）” (geo5g/plans/national-2025.toml)
    Milestone("2025-12-31", 26.0, ">=", "national-2025", "工信部规〔2021〕164号"),
)

#: Provincial milestones, by province pinyin name.
PROVINCE_MILESTONES: dict[str, tuple[Milestone, ...]] = {
    # 苏工信信基〔2022〕118号 江苏省5G应用“领航”行动计划（2022-2024年）, 一（三）总体目标:
    # 每万人拥有5G基站数超过26个 (geo5g/plans/jiangsu-2024.toml)
    "jiangsu": (Milestone("2024-12-31", 26.0, ">", "jiangsu-2024", "苏工信信基〔2022〕118号"),),
    # 江西省5G应用“扬帆”行动计划 (江西省5G发展工作领导小组办公室, 2022-04):
    # “每万人拥有5G基站数超过18个” (geo5g/plans/jiangxi-2023.toml)
    "jiangxi": (
        Milestone("2023-12-31", 18.0, ">", "jiangxi-2023", "江西省5G发展工作领导小组办公室"),
    ),
}


# --------------------------------------------------------------------------- series


def _dates(values: pd.Series, name: str) -> pd.Series:
    """Timezone-naive datetimes (wall-clock time kept), or a DataError naming a bad value."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values
    try:
        return pd.to_datetime(values, errors="raise", format="mixed")
    except (ValueError, TypeError) as exc:
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
        bad = values[parsed.isna() & values.notna()]
        shown = repr(bad.iloc[0]) if len(bad) else str(exc).splitlines()[0]
        raise DataError(
            f"{name}: {shown} is not a date; give ISO dates (2023-06-30) or leave it empty"
        ) from None


def _period_ends(freq: str, start, end) -> pd.DatetimeIndex:
    """Last instant of each period from ``start`` to ``end``, and the columns' dates."""
    periods = pd.period_range(pd.Timestamp(start), pd.Timestamp(end), freq=freq)
    return periods.end_time


def station_series(
    commissioned: pd.Series,
    zone_of: pd.Series,
    zones_index,
    periods: str = "Y",
    start=None,
    end=None,
) -> pd.DataFrame:
    """Cumulative stations per zone at the end of each year or quarter.

    Parameters
    ----------
    commissioned : pandas.Series
        Commissioning date of each site (datetimes or ISO date strings); ``NaT`` or
        empty for a site on air whose date is unknown.
    zone_of : pandas.Series
        Zone id (adcode) of each site, aligned with ``commissioned``; ``<NA>`` for
        sites in no zone (not counted).
    zones_index : array_like
        Every zone id, so that zones without sites get 0.
    periods : {"Y", "Q"}
        Years or quarters.
    start, end : date-like, optional
        First and last period (the periods containing these dates). Default: from the
        earliest to the latest commissioning date. Sites commissioned before the first
        period are counted from it on; sites after the last are not counted.

    Returns
    -------
    pandas.DataFrame
        Index ``adcode`` (``zones_index``), one column per period, labelled by the
        period's last day (``DatetimeIndex`` named ``period_end``), values int64:
        sites on air at the end of the period, undated sites included.
        ``attrs["undated"]`` is the number of undated sites counted, and
        ``attrs["undated_by_zone"]`` a dict adcode → undated sites (zones with any).

    Raises
    ------
    DataError
        Misaligned inputs, a value that is not a date, an unknown ``periods``, or no
        period to count in (no dated site and no ``start``/``end``).

    Examples
    --------
    >>> when = pd.Series(pd.to_datetime(["2022-05-01", "2023-02-01", None]))
    >>> table = station_series(when, pd.Series([1, 1, 2]), [1, 2], "Y")
    >>> table.columns.strftime("%Y-%m-%d").tolist()
    ['2022-12-31', '2023-12-31']
    >>> table.to_numpy().tolist(), table.attrs["undated"]
    ([[1, 2], [1, 1]], 1)
    """
    freq = _FREQ.get(str(periods).upper())
    if freq is None:
        raise DataError(f"periods: {periods!r} is not a period; use 'Y' (years) or 'Q' (quarters)")
    if len(commissioned) != len(zone_of):
        raise DataError(
            f"commissioned has {len(commissioned)} sites and zone_of {len(zone_of)}; "
            "give one date and one zone per site"
        )
    when = _dates(pd.Series(commissioned).reset_index(drop=True), "commissioned")
    index = pd.Index(zones_index, name="adcode")
    zone = pd.Series(zone_of).reset_index(drop=True)
    known = zone.notna().to_numpy()
    row = np.full(len(zone), -1, dtype=np.int64)
    row[known] = index.get_indexer(zone[known].astype("int64").to_numpy())
    dated = when.notna().to_numpy()
    first = pd.Timestamp(start) if start is not None else when.min()
    last = pd.Timestamp(end) if end is not None else when.max()
    if pd.isna(first) or pd.isna(last):
        raise DataError(
            "commissioned: no site has a date, so there is no period to count in; "
            "pass start= and end="
        )
    if first > last:
        raise DataError(f"start {first.date()} is after end {last.date()}; swap them")
    ends = _period_ends(freq, first, last)
    n_zones, n_periods = len(index), len(ends)
    unit = "datetime64[us]"
    # the period of each dated site: the first period ending at or after its date
    at = np.searchsorted(
        ends.to_numpy().astype(unit), when[dated].to_numpy().astype(unit), side="left"
    )
    zone_row = row[dated]
    keep = (zone_row >= 0) & (at < n_periods)
    added = np.bincount(
        zone_row[keep] * n_periods + at[keep], minlength=n_zones * n_periods
    ).reshape(n_zones, n_periods)
    undated_rows = row[~dated]
    undated = np.bincount(undated_rows[undated_rows >= 0], minlength=n_zones)
    counts = np.cumsum(added, axis=1) + undated[:, None]
    columns = pd.DatetimeIndex(ends.normalize(), name="period_end", freq=None)
    table = pd.DataFrame(counts.astype("int64"), index=index, columns=columns)
    table.attrs["undated"] = int(undated.sum())
    table.attrs["undated_by_zone"] = {
        k: int(v) for k, v in zip(index.tolist(), undated.tolist(), strict=True) if v
    }
    return table


# --------------------------------------------------------------------------- trajectory


def _months(a: pd.Timestamp, b: pd.Timestamp) -> int:
    """Calendar months from the month of ``a`` to the month of ``b``."""
    return (b.year - a.year) * 12 + (b.month - a.month)


def _at(series: pd.DataFrame, when: pd.Timestamp) -> pd.Series | None:
    """Stations at ``when``: the column of the last period ending on or before it."""
    dates = pd.DatetimeIndex(series.columns)
    k = int(dates.searchsorted(when.normalize(), side="right")) - 1
    return None if k < 0 else series.iloc[:, k]


def _population_at(population, year: int, index: pd.Index) -> pd.Series:
    """Residents per zone in ``year``: the latest column of a per-year table not after it."""
    if isinstance(population, pd.DataFrame):
        years = np.asarray([int(c) for c in population.columns])
        if not len(years):
            raise DataError("population: the per-year table has no columns; give one per year")
        earlier = years[years <= year]
        pick = earlier.max() if len(earlier) else years.min()
        column = population.columns[int(np.flatnonzero(years == pick)[0])]
        values = population[column]
    else:
        values = population
    return pd.to_numeric(values, errors="coerce").reindex(index).astype("float64")


def _milestones(milestones) -> list[Milestone]:
    out = []
    for m in milestones:
        m = Milestone(*m)
        if m.op not in (">", ">="):
            raise DataError(f"milestone {m.date}: op {m.op!r} is not '>' or '>='; use one of them")
        try:
            date = pd.Timestamp(m.date)
        except (ValueError, TypeError):
            raise DataError(
                f"milestone date {m.date!r} is not a date; write it as 2025-12-31"
            ) from None
        label = m.label or date.strftime("%Y-%m-%d")
        out.append(m._replace(date=date.strftime("%Y-%m-%d"), label=label))
    labels = [m.label for m in out]
    if len(set(labels)) != len(labels):
        raise DataError(f"milestones: labels {labels} repeat; give each milestone its own label")
    return sorted(out, key=lambda m: m.date)


def trajectory(
    series: pd.DataFrame,
    population,
    milestones,
    as_of=None,
) -> pd.DataFrame:
    """Per zone: stations now, the pace, and the projection to each milestone.

    Parameters
    ----------
    series : pandas.DataFrame
        From :func:`station_series` (quarterly, or yearly), index adcode.
    population : pandas.Series or pandas.DataFrame
        Residents per zone (index adcode), fixed (the 2020 census); or a per-year
        table with one column per year (int), where each date uses the latest year
        not after it (the earliest year before the table starts).
    milestones : sequence of Milestone or (date, threshold, op[, label[, source]])
        Targets to project to (e.g. :data:`NATIONAL_MILESTONES` or
        :func:`plan_milestones`).
    as_of : date-like, optional
        The date of "now" (default: the last period of ``series``). The period ending
        last on or before it gives the stations now.

    Returns
    -------
    pandas.DataFrame
        Index adcode, columns:

        * ``stations``, ``per_10k``: now;
        * ``pace_per_quarter``: (stations now − stations four quarters earlier) / 4;
        * per milestone ``L`` (its label): ``per_10k_L``, the stations per 10k at its
          date — projected as ``stations + pace × quarters`` for a date after now,
          the series' own count for a date already past — and ``on_track_L``
          (boolean, NA without population) by :func:`geo5g.plans.meets`;
        * ``needed_per_quarter``: for the next milestone after now,
          ``(required_stations − stations) / quarters left`` (0 when already met;
          NA without population or without a milestone ahead).

        ``attrs`` holds ``as_of`` (the period end used as now) and ``next_milestone``
        (its label, or None).

    Raises
    ------
    DataError
        ``series`` without a period four quarters before now, ``as_of`` outside the
        series, or a malformed milestone.

    Examples
    --------
    >>> cols = pd.DatetimeIndex(pd.to_datetime(["2023-06-30", "2024-06-30"]))
    >>> s = pd.DataFrame([[10, 14]], index=pd.Index([1], name="adcode"), columns=cols)
    >>> t = trajectory(s, pd.Series({1: 10_000}), [("2025-12-31", 18, ">")])
    >>> t.loc[1, ["pace_per_quarter", "per_10k_2025-12-31"]].tolist()
    [1.0, 20.0]
    """
    if not isinstance(series.columns, pd.DatetimeIndex) or series.shape[1] == 0:
        raise DataError("series: columns must be period end dates; build it with station_series")
    ms = _milestones(milestones)
    dates = pd.DatetimeIndex(series.columns)
    now = dates.max() if as_of is None else pd.Timestamp(as_of)
    if now < dates.min() or now > dates.max():
        raise DataError(
            f"as_of {now.date()} is outside the series ({dates.min().date()} to "
            f"{dates.max().date()}); build the series with start= and end= around it"
        )
    stations = _at(series, now)
    now = dates[int(dates.searchsorted(now.normalize(), side="right")) - 1]
    before = _at(series, now - pd.DateOffset(months=3 * _PACE_QUARTERS))
    if before is None:
        raise DataError(
            f"series starts {dates.min().date()}, less than four quarters before "
            f"{now.date()}; build it with start= at least a year earlier"
        )
    index = series.index
    stations = stations.astype("float64")
    out = pd.DataFrame(index=index)
    out["stations"] = stations.astype("int64")
    out["per_10k"] = per_10k(stations, _population_at(population, now.year, index))
    pace = (stations - before.astype("float64")) / _PACE_QUARTERS
    out["pace_per_quarter"] = pace
    upcoming = None
    for m in ms:  # a few milestones
        date = pd.Timestamp(m.date)
        pop = _population_at(population, date.year, index)
        if date <= now:
            at_date = _at(series, date)
            counted = (
                at_date.astype("float64") if at_date is not None else pd.Series(np.nan, index=index)
            )
        else:
            counted = stations + pace * (_months(now, date) / 3.0)
            if upcoming is None:
                upcoming = (m, date, pop)
        value = per_10k(counted, pop)
        out[f"per_10k_{m.label}"] = value
        out[f"on_track_{m.label}"] = pd.Series(
            meets(value.to_numpy(), m.op, m.threshold), index=index, dtype="boolean"
        )
    if upcoming is None:
        out["needed_per_quarter"] = pd.Series(np.nan, index=index, dtype="Float64")
    else:
        m, date, pop = upcoming
        pop_arr = pop.to_numpy(dtype="float64", na_value=np.nan)
        need = np.asarray(required_stations(pop_arr, m.threshold, m.op), dtype="float64")
        quarters = max(_months(now, date), 1) / 3.0  # at least a month to go
        short = np.maximum(need - stations.to_numpy(), 0.0) / quarters
        short = np.where(np.isnan(pop_arr) | (pop_arr <= 0), np.nan, short)
        out["needed_per_quarter"] = pd.array(short, dtype="Float64")
    out.index.name = "adcode"
    out.attrs["as_of"] = now.strftime("%Y-%m-%d")
    out.attrs["next_milestone"] = None if upcoming is None else upcoming[0].label
    return out


def plan_milestones(plan: Plan, *, national: bool = False) -> list[Milestone]:
    """The stations-per-10k milestone of a plan (and the national chain if asked).

    Parameters
    ----------
    plan : geo5g.plans.Plan
        Its ``horizon`` (ISO date) and ``stations_per_10k`` target give the milestone.
    national : bool
        Also include :data:`NATIONAL_MILESTONES` (national 扬帆 2023 ``> 18``; 十四五
        2025 ``>= 26``), the yardsticks a provincial plan's cities are held to as
        well. Provincial ones are in :data:`PROVINCE_MILESTONES` (Jiangsu 领航 2024
        ``> 26``; Jiangxi 扬帆 2023 ``> 18``).

    Returns
    -------
    list of Milestone
        Sorted by date, without repeats (same date, threshold and op).

    Raises
    ------
    DataError
        A plan without a horizon date.

    Examples
    --------
    >>> from geo5g.plans import load_plan
    >>> plan_milestones(load_plan("jiangsu-2024"))
    [Milestone(date='2024-12-31', threshold=26.0, op='>', label='jiangsu-2024', source='苏工信信基〔2022〕118号, 2022-03-15')]
    >>> [m.label for m in plan_milestones(load_plan("jiangxi-2023"), national=True)]
    ['jiangxi-2023', 'national-2025']
    """  # noqa: E501
    try:
        date = pd.Timestamp(plan.horizon) if plan.horizon else None
    except (ValueError, TypeError):
        date = None
    if date is None or pd.isna(date):
        raise DataError(
            f"plan {plan.id!r}: horizon {plan.horizon!r} is not a date; "
            'add horizon = "YYYY-12-31" to the plan file'
        )
    target = plan.density_target
    own = Milestone(date.strftime("%Y-%m-%d"), target.threshold, target.op, plan.id, plan.document)
    found = [own, *(NATIONAL_MILESTONES if national else ())]
    out, seen = [], set()
    for m in found:
        key = (m.date, float(m.threshold), m.op)
        if key not in seen:
            seen.add(key)
            out.append(m)
    return sorted(out, key=lambda m: m.date)
