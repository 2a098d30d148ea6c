"""Stations per 10,000 residents per zone, against a plan's threshold.

Pure functions on pandas objects indexed by the zone id (adcode).  The numbers
are the ones a planner can check by hand: ``per_10k = stations / population *
10,000``; ``shortfall`` is the number of extra stations the zone needs to meet
the target (``>`` needs strictly more than ``threshold × population / 10,000``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = [
    "count_stations",
    "density_by_operator",
    "density_table",
    "per_10k",
    "province_summary",
    "required_stations",
]

_COLUMNS = ["name_zh", "name_en", "population", "stations", "per_10k", "target", "met", "shortfall"]


def count_stations(zone_of: pd.Series, zone_ids, by: pd.Series | None = None):
    """Number of sites per zone (and per ``by`` group).

    Parameters
    ----------
    zone_of : pandas.Series
        Zone id of each site (nullable; ``<NA>`` for sites in no zone are not
        counted here — report them with ``zone_of.isna().sum()``).
    zone_ids : array_like
        Every zone id, so that zones without sites get 0.
    by : pandas.Series, optional
        A grouping aligned to ``zone_of`` (e.g. operator).

    Returns
    -------
    pandas.Series or pandas.DataFrame
        Series ``stations`` indexed by zone id; with ``by``, a DataFrame with one
        column per group.
    """
    index = pd.Index(zone_ids, name="adcode")
    known = zone_of.notna()
    if by is None:
        counts = zone_of[known].astype("int64").value_counts()
        return counts.reindex(index, fill_value=0).astype("int64").rename("stations")
    if isinstance(by.dtype, pd.CategoricalDtype):
        # categories already are the codes: no string per site
        raw = by.cat.codes.to_numpy()[known.to_numpy()]
        names = np.array([*map(str, by.cat.categories), "unknown"], dtype=object)
        raw = np.where(raw < 0, len(names) - 1, raw)
        present = np.unique(raw)
        order = present[np.argsort(names[present], kind="stable")]
        remap = np.full(len(names), -1, dtype=np.int64)
        remap[order] = np.arange(len(order))
        codes, labels = remap[raw], pd.Index(names[order])
    else:
        groups = by[known].astype("string").fillna("unknown")
        # one bincount over (zone, group) codes: pd.crosstab takes seconds for millions
        codes, labels = pd.factorize(groups, sort=True)
    row = index.get_indexer(zone_of[known].astype("int64").to_numpy())
    ok = row >= 0  # sites of zones not asked for are not counted
    n_groups = len(labels)
    flat = np.bincount(row[ok] * n_groups + codes[ok], minlength=len(index) * n_groups).reshape(
        len(index), n_groups
    )
    columns = pd.Index(labels.tolist(), name=by.name or "group")
    return pd.DataFrame(flat.astype("int64"), index=index, columns=columns)


def per_10k(stations: pd.Series, population: pd.Series) -> pd.Series:
    """Stations per 10,000 residents; NaN where the population is 0 or unknown.

    Examples
    --------
    >>> per_10k(pd.Series([26, 5]), pd.Series([10_000, 0])).tolist()
    [26.0, nan]
    """
    pop = population.astype("float64")
    ratio = stations.astype("float64") / pop.where(pop > 0) * 1e4
    return ratio.rename("per_10k")


def required_stations(population, threshold: float, op: str = ">"):
    """Smallest station count that meets ``op threshold`` per 10k for ``population``.

    Examples
    --------
    >>> required_stations(10_000, 26, ">"), required_stations(10_000, 26, ">=")
    (27, 26)
    """
    pop = np.asarray(population, dtype="float64")
    # integer arithmetic on threshold * pop avoids 25.999999 style float artefacts
    need = np.round(threshold * pop / 1e4, 9)
    req = np.floor(need) + 1 if op == ">" else np.ceil(need)
    if np.ndim(req) == 0:
        return int(req) if math.isfinite(req) else -1
    return req


def density_table(zones, zone_of: pd.Series, population: pd.Series, threshold: float, op=">"):
    """The per-zone density table.

    Parameters
    ----------
    zones : pandas.DataFrame
        Zones indexed by adcode with ``name_zh`` and ``name_en``.
    zone_of : pandas.Series
        Zone id of every site (see :func:`geo5g.zones.assign_zones`).
    population : pandas.Series
        Residents per zone id (missing zones give NA population and NaN per_10k).
    threshold : float
        The plan's stations-per-10k target.
    op : {">", ">="}
        How the plan states it (超过 → ``">"``).

    Returns
    -------
    pandas.DataFrame
        Indexed by adcode with columns ``name_zh, name_en, population (Int64 for head
        counts, Float64 for fractional sums such as a WorldPop raster's),
        stations, per_10k, target, met (boolean, NA without population),
        shortfall (Int64: stations still needed, 0 when met)``.
    """
    from .plans import meets

    stations = count_stations(zone_of, zones.index)
    pop = pd.to_numeric(population.reindex(zones.index), errors="coerce").astype("Float64")
    # head counts stay whole numbers; a raster's zonal sums (WorldPop) are fractional people
    whole = bool(((pop.dropna() % 1) == 0).all())
    table = pd.DataFrame(
        {
            "name_zh": zones["name_zh"],
            "name_en": zones["name_en"],
            "population": pop.astype("Int64") if whole else pop,
            "stations": stations,
        },
        index=zones.index,
    )
    table["per_10k"] = per_10k(table["stations"], pop)
    table["target"] = float(threshold)
    table["met"] = meets(table["per_10k"].to_numpy(), op, threshold)
    pop_arr = pop.to_numpy(dtype="float64", na_value=np.nan)
    need = required_stations(pop_arr, threshold, op)
    short = np.maximum(need - table["stations"].to_numpy(), 0)
    short = np.where(np.isnan(pop_arr) | (pop_arr <= 0), np.nan, short)  # no residents: no target
    table["shortfall"] = pd.array(short, dtype="Float64").astype("Int64")
    table.index.name = "adcode"
    return table[_COLUMNS]


def density_by_operator(zone_of: pd.Series, operator: pd.Series, population: pd.Series):
    """Stations and stations per 10k per zone and operator (long format).

    Returns
    -------
    pandas.DataFrame
        MultiIndex ``(adcode, operator)`` with columns ``stations`` and ``per_10k``.
    """
    wide = count_stations(zone_of, population.index, by=operator.rename("operator"))
    long = wide.stack().rename("stations").to_frame()
    long.index.names = ["adcode", "operator"]
    pop = population.reindex(long.index.get_level_values("adcode")).to_numpy(dtype="float64")
    long["per_10k"] = per_10k(long["stations"], pd.Series(pop, index=long.index)).to_numpy()
    return long


def province_summary(table: pd.DataFrame, unassigned: int, threshold: float, op=">"):
    """One-row summary of a density table (the province as a whole).

    Returns
    -------
    dict
        ``population, stations, per_10k, target, met, shortfall, zones,
        zones_met, zones_below, unassigned_sites``.
    """
    from .plans import meets

    pop = int(table["population"].sum(skipna=True))
    stations = int(table["stations"].sum())
    value = stations / pop * 1e4 if pop > 0 else math.nan
    need = required_stations(pop, threshold, op)
    return {
        "population": pop,
        "stations": stations,
        "per_10k": value,
        "target": float(threshold),
        "met": bool(meets(value, op, threshold)) if pop > 0 else None,
        "shortfall": max(need - stations, 0) if pop > 0 else None,
        "zones": len(table),
        "zones_met": int(table["met"].sum(skipna=True)),
        "zones_below": int((~table["met"]).sum(skipna=True)),
        "unassigned_sites": int(unassigned),
    }
