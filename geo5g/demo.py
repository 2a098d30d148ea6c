"""SYNTHETIC, reproducible 5G demo sites calibrated to published totals.

Real 5G site coordinates for China are not public, so geo5g's demo runs on
synthetic sites, labelled as such everywhere (``attrs["synthetic"]``, ids
``SYN-…``, file names ``…_SYNTHETIC.parquet``). The generator is a small,
documented settlement model; its parameters are ``geo5g/settings/demo.toml``
(:func:`load_model`), the published figures it is calibrated to
``data/sites/calibration.toml`` (:func:`load_calibration`):

1. **provinces** (national demo) — a province with a published count (or one
   derived from it) gets that; the others share what is left of their region's
   total (East, Central, West, Northeast) in proportion to population.
2. **cities** — a province's total is split across cities in proportion to
   ``population × clip(density / median density) ** density_exponent ×
   capital_factor × noise``; cities with a published per-10k figure
   (``anchors``) get exactly that, and no city leaves the stated plausible
   range of stations per 10k residents (``min_city_per_10k`` …
   ``max_city_per_10k``: the excess is spread over the others).
3. **counties** (provincial demos) — each city's count is split over its
   counties in proportion to ``area_km2 ** area_exponent``, times
   ``urban_weight`` for urban districts (区).
4. **settlements** — inside each zone (a county, or a city of the national
   demo) sites go where people and roads are: a seat (the polygon's
   representative point) and towns (around the seat, and at interchanges of
   the expressways crossing the zone), each with a density falling off
   exponentially with distance; a corridor share along the expressways and
   along main roads (each town joined to its nearest larger centre); a sparse
   uniform rural cover. Points are drawn by vectorised rejection sampling
   with :func:`shapely.contains_xy` (no per-site Python).
5. **attributes** — operator (China Mobile 50 %, China Telecom 20 % and China
   Unicom 20 % sharing one network, China Broadnet 10 %); band by operator and
   environment (3.5/4.9 GHz in seats and urban districts; 700 MHz, 2.1 GHz and
   2.6 GHz in towns, along roads and in the countryside); commissioning dates
   that follow the published growth curve exactly, urban sites first (no 700
   MHz or 2.1 GHz NR before 2021).

Every integer split uses the largest-remainder method, so totals are exact,
and every draw comes from a seeded generator, so a file is byte-reproducible.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from ._paths import data_dir
from ._validate import read_settings_toml
from .errors import DataError, InputError
from .lines import _metric, cover_lines
from .project import WGS84, area_crs, require_crs, to_metric, to_wgs84
from .sites import sites_from_arrays, write_sites

_log = logging.getLogger(__name__)

__all__ = [
    "DEMO_PROVINCES",
    "ENVIRONMENTS",
    "PROFILES",
    "Calibration",
    "Settlement",
    "SyntheticModel",
    "allocate_city_totals",
    "allocate_county_totals",
    "demo_sites_file",
    "load_calibration",
    "load_model",
    "national_demo_sites",
    "synthetic_rsu",
    "synthetic_sites",
    "synthetic_sites_national",
    "write_demo_sites",
]

#: Provinces with bundled demo sites (keys of data/sites/calibration.toml).
DEMO_PROVINCES = ("jiangsu", "jiangxi")

# ISO 3166-2:CN codes by the first two adcode digits, for site ids.
_PROVINCE_CODES = {
    11: "BJ", 12: "TJ", 13: "HE", 14: "SX", 15: "NM", 21: "LN", 22: "JL", 23: "HL",
    31: "SH", 32: "JS", 33: "ZJ", 34: "AH", 35: "FJ", 36: "JX", 37: "SD", 41: "HA",
    42: "HB", 43: "HN", 44: "GD", 45: "GX", 46: "HI", 50: "CQ", 51: "SC", 52: "GZ",
    53: "YN", 54: "XZ", 61: "SN", 62: "GS", 63: "QH", 64: "NX", 65: "XJ", 71: "TW",
    81: "HK", 82: "MO",
}  # fmt: skip

_KM_PER_DEG_LAT = 110.574
_KM_PER_DEG_LON_EQUATOR = 111.320
_MAX_ROUNDS = 200
_BLOCK = 1_000_000  # points drawn at once: bounds memory for millions of sites
_MODEL_FILE = Path(__file__).resolve().parent / "settings" / "demo.toml"

#: Radio environments of a site (the rows of the band tables).
ENVIRONMENTS = ("urban", "town", "rural")
#: Kinds of zone: an urban district (区), a county (县), a whole city (national demo).
PROFILES = ("district", "county", "city")
# What a site belongs to: a seat, a town, a corridor (expressway, main road), the rural scatter.
_SEAT, _TOWN, _EXPRESSWAY, _MAIN_ROAD, _SCATTER = range(5)
_RURAL = ENVIRONMENTS.index("rural")


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Settlement:
    """How the sites of one kind of zone are spread (``[settlements.*]`` of demo.toml).

    Attributes
    ----------
    seat_share, town_share, scatter_share : float
        Split of the zone's sites that are not on a corridor (sum 1).
    town_area_km2 : float
        One town per this much land, clipped to ``[min_towns, max_towns]``.
    min_towns, max_towns : int
    town_spread : float
        Towns lie around the seat with an exponential scale of this × sqrt(area).
    town_size_sigma : float
        Sigma of the log-normal town sizes.
    seat_peak_per_km2, town_peak_per_km2 : float
        Site density at the centre of a seat or town.
    seat_min_scale_km, town_min_scale_km : float
        Smallest exponential scale of a seat or town.
    max_scale : float
        Largest scale, as a fraction of sqrt(zone area).
    seat_env, town_env : str
        Environment of seat and town sites (one of :data:`ENVIRONMENTS`).
    """

    seat_share: float
    town_share: float
    scatter_share: float
    town_area_km2: float
    min_towns: int
    max_towns: int
    town_spread: float
    town_size_sigma: float
    seat_peak_per_km2: float
    town_peak_per_km2: float
    seat_min_scale_km: float
    town_min_scale_km: float
    max_scale: float
    seat_env: str
    town_env: str


def _read_toml(path, what: str) -> dict:
    return read_settings_toml(path, path, str(path), what)[0]


def _model_values(doc: dict, source: str) -> dict:
    """The fields of :class:`SyntheticModel` from a demo.toml document (all problems at once)."""
    problems: list[str] = []

    def table(*path):
        node = doc
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            problems.append(f"missing table [{'.'.join(path)}]")
            return {}
        return node

    def number(tab: dict, key: str, where: str, integer: bool = False):
        value = tab.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            problems.append(f"{where}.{key} must be a number ≥ 0 (got {value!r})")
            return 0
        return int(value) if integer else float(value)

    def shares(tab: dict, where: str) -> tuple:
        out = tuple((str(k), number(tab, k, where)) for k in tab)
        if not out or abs(sum(p for _, p in out) - 1.0) > 1e-6:
            problems.append(f"[{where}] must sum to 1 (got {sum(p for _, p in out):g})")
        return out

    cities, counties, corridors = table("cities"), table("counties"), table("corridors")
    clip = cities.get("density_clip")
    if not (isinstance(clip, list) and len(clip) == 2 and 0 < clip[0] <= clip[1]):
        problems.append(f"cities.density_clip must be [low, high] with 0 < low ≤ high ({clip!r})")
        clip = [1.0, 1.0]
    settlements = []
    for name in PROFILES:
        tab = table("settlements", name)
        where = f"settlements.{name}"
        values = {
            f: number(tab, f, where, integer=f in ("min_towns", "max_towns"))
            for f in Settlement.__dataclass_fields__
            if not f.endswith("_env")
        }
        for f in ("seat_env", "town_env"):
            values[f] = tab.get(f)
            if values[f] not in ENVIRONMENTS:
                problems.append(f"{where}.{f} must be one of {', '.join(ENVIRONMENTS)}")
        total = values["seat_share"] + values["town_share"] + values["scatter_share"]
        if abs(total - 1.0) > 1e-6:
            problems.append(f"{where}: seat, town and scatter shares must sum to 1 ({total:g})")
        settlements.append((name, Settlement(**values)))
    operators = shares(table("operators"), "operators")
    names = [n for n, _ in operators]
    bands = []
    for env in ENVIRONMENTS:
        tab = table("bands", env)
        if sorted(tab) != sorted(names):
            problems.append(f"[bands.{env}] must list the operators {', '.join(names)}")
        bands.append(
            (env, tuple((op, shares(tab.get(op, {}), f"bands.{env}.{op}")) for op in names))
        )
    dates = table("dates")
    preference = dates.get("preference", {})
    start = dates.get("band_start", {})
    if not all(isinstance(v, _dt.date) for v in start.values()):
        problems.append("dates.band_start values must be dates (YYYY-MM-DD)")
    values = {
        "density_exponent": number(cities, "density_exponent", "cities"),
        "density_clip": (float(clip[0]), float(clip[1])),
        "capital_factor": number(cities, "capital_factor", "cities"),
        "city_noise": number(cities, "noise_sigma", "cities"),
        "urban_weight": number(counties, "urban_weight", "counties"),
        "area_exponent": number(counties, "area_exponent", "counties"),
        "settlements": tuple(settlements),
        "expressway_sites_per_km": number(corridors, "expressway_sites_per_km", "corridors"),
        "main_road_sites_per_km": number(corridors, "main_road_sites_per_km", "corridors"),
        "corridor_max_share": number(corridors, "max_share", "corridors"),
        "corridor_offset_m": number(corridors, "offset_m", "corridors"),
        "interchange_km": number(corridors, "interchange_km", "corridors"),
        "operator_shares": operators,
        "band_shares": tuple(bands),
        "date_preference": tuple(
            (env, number(preference, env, "dates.preference")) for env in ENVIRONMENTS
        ),
        "band_start": tuple((str(b), f"{d:%Y-%m-%d}") for b, d in start.items()),
    }
    if values["interchange_km"] <= 0:
        problems.append("corridors.interchange_km must be > 0")
    if problems:
        raise DataError(f"{source}: " + "; ".join(problems))
    return values


_DEFAULTS = _model_values(_read_toml(_MODEL_FILE, "demo settings"), "geo5g/settings/demo.toml")


@dataclass(frozen=True)
class SyntheticModel:
    """Parameters of the synthetic-site model; the defaults are ``geo5g/settings/demo.toml``.

    Attributes
    ----------
    density_exponent : float
        Stations per resident grow as (density / median density) ** this.
    density_clip : tuple of float
        Bounds of the relative density (low, high).
    capital_factor : float
        Multiplier for a provincial capital (adcode ``xx0100``).
    city_noise : float
        Sigma of the log-normal city factor noise.
    urban_weight : float
        Multiplier of an urban district's (区) share within its city.
    area_exponent : float
        County share ∝ area_km2 ** this.
    settlements : tuple of (str, Settlement)
        The spread of a zone's sites, by kind of zone (:data:`PROFILES`).
    expressway_sites_per_km, main_road_sites_per_km : float
        Corridor sites per km of expressway and of main road in a zone.
    corridor_max_share : float
        At most this share of a zone's sites on its corridors.
    corridor_offset_m : float
        Standard deviation of a corridor site's distance from its line.
    interchange_km : float
        One town per this many km of expressway in a zone sits on it.
    operator_shares : tuple of (str, float)
        Operator mix (sums to 1).
    band_shares : tuple of (str, tuple of (str, tuple of (str, float)))
        Band mix of each operator in each environment (each sums to 1).
    date_preference : tuple of (str, float)
        Environment → exponent p of the date key U ** p (larger: earlier).
    band_start : tuple of (str, str)
        Earliest commissioning date of a band.
    """

    density_exponent: float = _DEFAULTS["density_exponent"]
    density_clip: tuple = _DEFAULTS["density_clip"]
    capital_factor: float = _DEFAULTS["capital_factor"]
    city_noise: float = _DEFAULTS["city_noise"]
    urban_weight: float = _DEFAULTS["urban_weight"]
    area_exponent: float = _DEFAULTS["area_exponent"]
    settlements: tuple = _DEFAULTS["settlements"]
    expressway_sites_per_km: float = _DEFAULTS["expressway_sites_per_km"]
    main_road_sites_per_km: float = _DEFAULTS["main_road_sites_per_km"]
    corridor_max_share: float = _DEFAULTS["corridor_max_share"]
    corridor_offset_m: float = _DEFAULTS["corridor_offset_m"]
    interchange_km: float = _DEFAULTS["interchange_km"]
    operator_shares: tuple = _DEFAULTS["operator_shares"]
    band_shares: tuple = _DEFAULTS["band_shares"]
    date_preference: tuple = _DEFAULTS["date_preference"]
    band_start: tuple = _DEFAULTS["band_start"]


def load_model(path=None) -> SyntheticModel:
    """Read the model parameters from a TOML file laid out as ``geo5g/settings/demo.toml``.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Default: the bundled ``geo5g/settings/demo.toml`` (= ``SyntheticModel()``).

    Returns
    -------
    SyntheticModel

    Raises
    ------
    InputError
        The file cannot be read.
    DataError
        It is not TOML, or values are missing or out of range (all problems listed).

    Examples
    --------
    >>> load_model() == SyntheticModel()
    True
    """
    if path is None:
        return SyntheticModel()
    return SyntheticModel(**_model_values(_read_toml(path, "demo settings"), str(path)))


# --------------------------------------------------------------------------- calibration


@dataclass(frozen=True)
class Calibration:
    """Published figures for one demo area (a section of ``calibration.toml``).

    Attributes
    ----------
    key : str
        ``"jiangsu"``, ``"jiangxi"`` or ``"national"``.
    name, code : str
        English name; ISO 3166-2:CN code used in site ids.
    total : int
        Stations to generate.
    as_of : pandas.Timestamp
        Date of ``total``; the latest commissioning date.
    seed : int
        Random seed of the committed demo file.
    plan_per_10k : float or None
        The plan's per-10k threshold (for reporting the calibration).
    anchors : mapping of int → float
        City adcode → published stations per 10k residents.
    growth : pandas.Series
        Cumulative stations indexed by date (the commissioning curve).
    regions : mapping of str → (int, tuple of int)
        National only: region → (stations, province adcode prefixes); the
        regions' shares split the stations of provinces without their own total.
    provinces : mapping of int → int
        National only: province adcode prefix → stations at ``as_of``
        (published, or derived from a published count; see the file).
    max_city_per_10k, min_city_per_10k : float or None
        The plausible range of a city's stations per 10k residents at
        ``total`` (scaled with it when another total is generated).
    region_history : pandas.DataFrame
        National only: published stations by region (columns) and date (index),
        the basis of the derived totals.
    """

    key: str
    name: str
    code: str
    total: int
    as_of: pd.Timestamp
    seed: int
    plan_per_10k: float | None = None
    anchors: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    growth: pd.Series = field(default_factory=lambda: pd.Series(dtype="int64"))
    regions: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    provinces: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    max_city_per_10k: float | None = None
    min_city_per_10k: float | None = None
    region_history: pd.DataFrame = field(default_factory=pd.DataFrame)


def load_calibration(key: str, path=None) -> Calibration:
    """Read one section of ``data/sites/calibration.toml``.

    Parameters
    ----------
    key : {"jiangsu", "jiangxi", "national"}
        The section.
    path : str or os.PathLike, optional
        Another calibration file of the same layout.

    Returns
    -------
    Calibration
    """
    path = Path(path) if path is not None else data_dir("sites", "calibration.toml")
    doc = _read_toml(path, "calibration file")
    key = str(key).lower()
    if key not in doc:
        raise DataError(f"{path.name}: no section {key!r}; sections: {', '.join(doc)}")
    sec = doc[key]
    try:
        growth = pd.Series(
            [int(g["stations"]) for g in sec.get("growth", [])],
            index=pd.DatetimeIndex([pd.Timestamp(g["date"]) for g in sec.get("growth", [])]),
            name="stations",
        )
        regions = {
            name: (int(v["stations"]), tuple(int(p) for p in v["provinces"]))
            for name, v in sec.get("regions", {}).items()
            if isinstance(v, dict)
        }
        history = pd.DataFrame(
            [{n: int(h[n]) for n in regions} for h in sec.get("region_history", [])],
            index=pd.DatetimeIndex(
                [pd.Timestamp(h["date"]) for h in sec.get("region_history", [])]
            ),
            columns=list(regions),
        )
        bounds = {
            k: (float(sec[k]) if sec.get(k) is not None else None)
            for k in ("max_city_per_10k", "min_city_per_10k")
        }
        return Calibration(
            key=key,
            name=str(sec["name"]),
            code=str(sec["code"]),
            total=int(sec["total"]),
            as_of=pd.Timestamp(sec["as_of"]),
            seed=int(sec["seed"]),
            plan_per_10k=sec.get("plan_per_10k"),
            anchors=MappingProxyType(
                {int(k): float(v["per_10k"]) for k, v in sec.get("anchors", {}).items()}
            ),
            growth=growth,
            regions=MappingProxyType(regions),
            provinces=MappingProxyType(
                {int(k): int(v["stations"]) for k, v in sec.get("provinces", {}).items()}
            ),
            region_history=history,
            **bounds,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path.name}: section {key!r} is malformed ({exc!r})") from None


# --------------------------------------------------------------------------- allocation


def _ids(values) -> str:
    """'[320100, 320200]' (at most 10) for error messages."""
    values = [int(v) for v in values]
    return str(values[:10])[:-1] + (", …]" if len(values) > 10 else "]")


def _apportion(weights, totals, groups) -> np.ndarray:
    """Split ``totals[g]`` over the members of each group ``g`` ∝ ``weights`` (exact integers).

    Largest-remainder method, vectorised: floors of the quotas, then one more
    station for the members with the largest remainders (ties by position).
    """
    w = np.asarray(weights, dtype="float64")
    groups = np.asarray(groups, dtype="int64")
    totals = np.asarray(totals, dtype="int64")
    n_groups = totals.size
    wsum = np.bincount(groups, weights=w, minlength=n_groups)
    empty = (totals > 0) & ~(wsum > 0)
    if empty.any():
        raise DataError(f"cannot split stations over zones without weight (groups {empty})")
    quota = np.where(wsum[groups] > 0, totals[groups] * w / np.where(wsum > 0, wsum, 1)[groups], 0)
    base = np.floor(quota + 1e-9).astype("int64")
    short = totals - np.bincount(groups, weights=base, minlength=n_groups).astype("int64")
    order = np.lexsort((np.arange(w.size), -(quota - base), groups))
    starts = np.searchsorted(groups[order], np.arange(n_groups))
    rank = np.empty(w.size, dtype="int64")
    rank[order] = np.arange(w.size) - starts[groups[order]]
    return base + (rank < short[groups])


def _bounded_apportion(weights, totals, groups, fixed, low, high) -> np.ndarray:
    """:func:`_apportion` with fixed members and every free member kept in ``[low, high]``.

    Water-filling: members above ``high`` (then, once none is, below ``low``)
    are fixed at the bound and the rest of their group's total is split again
    over the others; each round fixes at least one member, so a few rounds do.
    ``fixed`` is -1 for a free member, else its count.
    """
    w = np.asarray(weights, dtype="float64")
    groups = np.asarray(groups, dtype="int64")
    totals = np.asarray(totals, dtype="int64")
    fixed = np.array(fixed, dtype="int64")
    low = np.broadcast_to(np.asarray(low, dtype="int64"), w.shape)
    high = np.broadcast_to(np.asarray(high, dtype="int64"), w.shape)
    for _ in range(w.size + 1):
        free = fixed < 0
        left = totals - np.bincount(
            groups[~free], weights=fixed[~free], minlength=totals.size
        ).astype("int64")
        free_weight = np.bincount(groups, weights=np.where(free, w, 0.0), minlength=totals.size)
        if (bad := (left < 0) | ((left > 0) & ~(free_weight > 0))).any():
            raise DataError(
                f"synthetic sites: the fixed counts and per-10k bounds cannot give totals "
                f"{totals[bad].tolist()[:5]} (groups {np.flatnonzero(bad).tolist()[:5]})"
            )
        out = np.where(free, _apportion(np.where(free, w, 0.0), left, groups), fixed)
        if (over := free & (out > high)).any():
            fixed[over] = high[over]
        elif (under := free & (out < low)).any():
            fixed[under] = low[under]
        else:
            return out
    raise AssertionError("water-filling did not converge")  # pragma: no cover


def _area_km2(layer) -> np.ndarray:
    # areas in an equal-area projection fitted to the layer (lengths never are)
    layer = to_wgs84(layer, "zones")
    metric = to_metric(layer.geometry, area_crs(layer.total_bounds), "zones")
    return metric.area.to_numpy() / 1e6


def _city_weights(population, area_km2, capital, rng, model: SyntheticModel, groups=None):
    """population × clip(density / the group's median density) ** exponent × capital × noise."""
    density = population / area_km2
    groups = np.zeros(population.size, "int64") if groups is None else groups
    median = pd.Series(density).groupby(groups).transform("median").to_numpy()
    relative = np.clip(density / median, *model.density_clip)
    noise = np.exp(rng.normal(0.0, model.city_noise, population.size))
    bonus = np.where(capital, model.capital_factor, 1.0)
    return population * relative**model.density_exponent * bonus * noise


def _per_10k_bounds(population, low, high):
    """Integer station bounds of cities from per-10k bounds (None: unbounded)."""
    lo = np.zeros(population.size, "int64")
    hi = np.full(population.size, np.iinfo("int64").max // 4)
    if low is not None:
        lo = np.ceil(float(low) * population / 1e4 - 1e-9).astype("int64")
    if high is not None:
        hi = np.floor(float(high) * population / 1e4 + 1e-9).astype("int64")
    return np.minimum(lo, hi), hi  # a tiny city (Sansha) may round to an empty range


def allocate_city_totals(
    city_population: pd.Series,
    city_area_km2: pd.Series,
    *,
    total: int,
    anchors=None,
    seed: int = 0,
    model: SyntheticModel = SyntheticModel(),  # frozen, so a safe default
    max_per_10k: float | None = None,
    min_per_10k: float | None = None,
) -> pd.Series:
    """Split ``total`` stations across cities (see the module docstring, step 2).

    Parameters
    ----------
    city_population : pandas.Series
        Residents by city adcode (all > 0).
    city_area_km2 : pandas.Series
        Land area by city adcode (same index, all > 0).
    total : int
        Stations to split (the result sums to it exactly).
    anchors : mapping of int → float, optional
        City adcode → stations per 10k residents to honour exactly (rounded).
    seed : int
        Seed of the city noise.
    model : SyntheticModel
    max_per_10k, min_per_10k : float, optional
        No city that is not an anchor gets more (fewer) stations per 10k
        residents; the difference is spread over the other cities.

    Returns
    -------
    pandas.Series
        ``stations`` (int64) by city adcode, sorted by adcode.

    Examples
    --------
    >>> pop = pd.Series([1_000_000, 1_000_000], index=[320100, 320200])
    >>> area = pd.Series([100.0, 1000.0], index=pop.index)
    >>> s = allocate_city_totals(pop, area, total=3000, anchors={320200: 10})
    >>> s.tolist()
    [2000, 1000]
    >>> allocate_city_totals(pop, area, total=3000, max_per_10k=16).tolist()
    [1600, 1400]
    """
    pop = pd.Series(city_population, dtype="float64").sort_index()
    area = pd.Series(city_area_km2, dtype="float64").reindex(pop.index)
    problems = []
    if pop.empty:
        problems.append("no cities")
    if (bad := ~(pop > 0)).any():
        problems.append(f"population missing or not positive for cities {_ids(pop.index[bad])}")
    if (bad := ~(area > 0)).any():
        problems.append(f"area missing or not positive for cities {_ids(area.index[bad])}")
    anchors = {int(k): float(v) for k, v in (anchors or {}).items()}
    if unknown := sorted(set(anchors) - set(pop.index)):
        problems.append(f"anchors name cities not in the population: {_ids(unknown)}")
    if int(total) < 0:
        problems.append(f"total {total} is negative")
    if problems:
        raise DataError("synthetic sites: " + "; ".join(problems))
    anchored = pop.index.isin(list(anchors))
    fixed = np.rint(pop.index.map(lambda a: anchors.get(a, 0.0)).to_numpy() * pop / 1e4)
    fixed = fixed.where(anchored, 0).astype("int64")
    remaining = int(total) - int(fixed.sum())
    if remaining < 0 or (remaining > 0 and anchored.all()):
        raise DataError(
            f"synthetic sites: anchors need {int(fixed.sum())} stations but total is {total}"
        )
    rng = np.random.default_rng(seed)
    weights = _city_weights(
        pop.to_numpy(), area.to_numpy(), pop.index.to_numpy() % 10000 == 100, rng, model
    )
    low, high = _per_10k_bounds(pop.to_numpy(), min_per_10k, max_per_10k)
    counts = _bounded_apportion(
        weights,
        [int(total)],
        np.zeros(pop.size, "int64"),
        np.where(anchored, fixed.to_numpy(), -1),
        low,
        high,
    )
    return pd.Series(counts, index=pop.index.rename("adcode"), name="stations")


def allocate_county_totals(
    counties: gpd.GeoDataFrame,
    city_totals: pd.Series,
    *,
    model: SyntheticModel = SyntheticModel(),  # frozen, so a safe default
) -> pd.Series:
    """Split each city's stations over its counties (module docstring, step 3).

    Parameters
    ----------
    counties : geopandas.GeoDataFrame
        County zones (contract: index adcode, ``city_adcode``, ``urban``).
    city_totals : pandas.Series
        Stations by city adcode (e.g. from :func:`allocate_city_totals`).
    model : SyntheticModel

    Returns
    -------
    pandas.Series
        ``stations`` (int64) by county adcode, in the counties' order; sums to
        ``city_totals`` per city.
    """
    require_crs(counties, "counties")
    city = counties["city_adcode"].to_numpy(dtype="int64")
    cities, groups = np.unique(city, return_inverse=True)
    if missing := sorted(set(pd.Index(city_totals.index)) - set(cities)):
        raise DataError(f"synthetic sites: cities with stations but no counties: {_ids(missing)}")
    area = _area_km2(counties)
    urban = counties["urban"].to_numpy(dtype=bool)
    weights = area**model.area_exponent * np.where(urban, model.urban_weight, 1.0)
    totals = pd.Series(city_totals).reindex(cities, fill_value=0).to_numpy(dtype="int64")
    counts = _apportion(weights, totals, groups)
    return pd.Series(counts, index=counties.index.rename("adcode"), name="stations")


# --------------------------------------------------------------------------- settlements


def _km(x0, y0, x1, y1) -> np.ndarray:
    """Length in km of short WGS-84 segments (local equirectangular scale)."""
    kx = _KM_PER_DEG_LON_EQUATOR * np.cos(np.radians((y0 + y1) / 2))
    return np.hypot((x1 - x0) * kx, (y1 - y0) * _KM_PER_DEG_LAT)


def _road_segments(roads, geoms) -> tuple[np.ndarray, np.ndarray]:
    """The roads cut to each zone as straight segments: (k × 4 x0, y0, x1, y1; zone), by zone."""
    empty = (np.empty((0, 4)), np.empty(0, "int64"))
    if roads is None or len(roads) == 0:
        return empty
    require_crs(roads, "roads")
    lines = to_wgs84(roads, "roads").geometry.to_numpy()
    lines = lines[shapely.get_type_id(lines) >= 0]
    line_i, zone_i = shapely.STRtree(geoms).query(lines, predicate="intersects")
    order = np.lexsort((line_i, zone_i))
    line_i, zone_i = line_i[order], zone_i[order]
    parts, which = shapely.get_parts(
        shapely.intersection(lines[line_i], geoms[zone_i]), return_index=True
    )
    keep = shapely.get_type_id(parts) == 1  # LineStrings (touching points dropped)
    parts, zone = parts[keep], zone_i[which[keep]]
    if parts.size == 0:
        return empty
    xy, part = shapely.get_coordinates(parts, return_index=True)
    same = np.flatnonzero(part[1:] == part[:-1])
    return np.column_stack([xy[same], xy[same + 1]]), zone[part[same]]


def _pick(zone_of_item, seg_zone, seg_km, n_zones, rng) -> np.ndarray:
    """For each item, a segment of its zone drawn ∝ length (segments sorted by zone)."""
    zone_km = np.bincount(seg_zone, weights=seg_km, minlength=n_zones)
    before = np.cumsum(zone_km) - zone_km
    first = np.searchsorted(seg_zone, np.arange(n_zones), side="left")
    last = np.searchsorted(seg_zone, np.arange(n_zones), side="right") - 1
    z = np.asarray(zone_of_item, dtype="int64")
    u = before[z] + rng.random(z.size) * zone_km[z]
    return np.clip(np.searchsorted(np.cumsum(seg_km), u, side="right"), first[z], last[z])


def _draw_inside(geoms, owner, propose, fallback_x, fallback_y):
    """Points inside ``geoms[owner]``: ``propose(idx) → (x, y)`` again until inside.

    Blocks of ``_BLOCK`` points bound the memory; each round redraws every
    pending point of the block at once. A point that is never inside (a sliver)
    takes the fallback (the zone's representative point).
    """
    x = np.empty(owner.size)
    y = np.empty(owner.size)
    for start in range(0, owner.size, _BLOCK):
        todo = np.arange(start, min(start + _BLOCK, owner.size))
        for _ in range(_MAX_ROUNDS):
            if todo.size == 0:
                break
            px, py = propose(todo)
            inside = shapely.contains_xy(geoms[owner[todo]], px, py)
            x[todo[inside]], y[todo[inside]] = px[inside], py[inside]
            todo = todo[~inside]
        x[todo], y[todo] = fallback_x[owner[todo]], fallback_y[owner[todo]]
    return x, y


def _kernel(cx, cy, scale_km, kx, rng):
    """Points around centres with a density ∝ exp(-r / scale): r ~ Gamma(2, scale)."""
    r = scale_km * (rng.standard_exponential(cx.size) + rng.standard_exponential(cx.size))
    angle = rng.random(cx.size) * (2 * np.pi)
    return cx + r * np.cos(angle) / kx, cy + r * np.sin(angle) / _KM_PER_DEG_LAT


def _parents(cx, cy, zone, weight, kx, n_zones) -> np.ndarray:
    """Each centre's nearest larger centre of its zone (a seat for the largest towns).

    Centres ``0 … n_zones-1`` are the seats (weight inf); the others are towns.
    One k-d tree over all zones, kept apart by an offset of 10⁵ km per zone.
    """
    sx, sy = cx[zone], cy[zone]  # the zone's seat (centre `zone`)
    pts = np.column_stack([(cx - sx) * kx[zone] + zone * 1e5, (cy - sy) * _KM_PER_DEG_LAT])
    towns = np.arange(n_zones, cx.size)
    if towns.size == 0:
        return towns
    k = min(9, cx.size)
    _, near = cKDTree(pts).query(pts[towns], k=k)
    near = near.reshape(towns.size, k)
    ok = (zone[near] == zone[towns, None]) & (weight[near] > weight[towns, None])
    found = ok.any(axis=1)
    return np.where(found, near[np.arange(towns.size), ok.argmax(axis=1)], zone[towns])


def _profile_arrays(model: SyntheticModel, profile) -> dict:
    """Each Settlement field as an array over the zones (``profile``: index into PROFILES)."""
    table = dict(model.settlements)
    rows = [table[name] for name in PROFILES]
    out = {}
    for f in Settlement.__dataclass_fields__:
        values = [getattr(row, f) for row in rows]
        if f.endswith("_env"):
            values = [ENVIRONMENTS.index(v) for v in values]
        out[f] = np.asarray(values)[profile]
    return out


def _place(geoms, counts, profile, rng, model: SyntheticModel, roads=None):
    """Positions and environments of ``counts[i]`` sites in zone ``i`` (module step 4).

    Parameters
    ----------
    geoms : numpy.ndarray of Polygon
        Zones in WGS-84.
    counts : array_like of int
        Sites per zone.
    profile : array_like of int
        Kind of each zone (index into :data:`PROFILES`).
    rng : numpy.random.Generator
    model : SyntheticModel
    roads : geopandas.GeoDataFrame, optional
        Expressways (lines with a CRS) that carry corridor sites and towns.

    Returns
    -------
    x, y : numpy.ndarray of float
        WGS-84, sites grouped by zone (seat, towns, expressway, main road, scatter).
    env : numpy.ndarray of int8
        Index into :data:`ENVIRONMENTS`.
    kind : numpy.ndarray of int8
        What the site belongs to (seat 0, town 1, expressway 2, main road 3, scatter 4).
    """
    geoms = np.asarray(geoms, dtype=object)
    shapely.prepare(geoms)
    n_zones = geoms.size
    counts = np.asarray(counts, dtype="int64")
    p = _profile_arrays(model, np.asarray(profile, dtype="int64"))
    area = _area_km2(gpd.GeoSeries(geoms, crs=WGS84))
    root = np.sqrt(area)
    seat = shapely.point_on_surface(geoms)
    sx, sy = shapely.get_x(seat), shapely.get_y(seat)
    kx = _KM_PER_DEG_LON_EQUATOR * np.cos(np.radians(sy))
    zones = np.arange(n_zones)

    # Expressways inside each zone; towns, some of them at interchanges.
    seg, seg_zone = _road_segments(roads, geoms)
    seg_km = _km(*seg.T)
    express_km = np.bincount(seg_zone, weights=seg_km, minlength=n_zones)
    n_towns = np.clip(np.rint(area / p["town_area_km2"]), p["min_towns"], p["max_towns"])
    n_towns = np.where(counts > 0, n_towns, 0).astype("int64")
    n_on = np.minimum(n_towns // 2, np.floor(express_km / model.interchange_km)).astype("int64")
    town_zone = np.repeat(zones, n_towns)
    rank = np.arange(town_zone.size) - np.repeat(np.cumsum(n_towns) - n_towns, n_towns)
    on = rank < n_on[town_zone]
    tx, ty = np.empty(town_zone.size), np.empty(town_zone.size)
    s = _pick(town_zone[on], seg_zone, seg_km, n_zones, rng)
    t = rng.random(s.size)
    tx[on] = seg[s, 0] + t * (seg[s, 2] - seg[s, 0])
    ty[on] = seg[s, 1] + t * (seg[s, 3] - seg[s, 1])
    off = np.flatnonzero(~on)
    off_zone = town_zone[off]
    spread = p["town_spread"] * root

    def around_seat(i):
        z = off_zone[i]
        return _kernel(sx[z], sy[z], spread[z], kx[z], rng)

    tx[off], ty[off] = _draw_inside(geoms, off_zone, around_seat, sx, sy)
    town_weight = np.exp(rng.normal(0.0, 1.0, town_zone.size) * p["town_size_sigma"][town_zone])

    # Centres (seats first, then towns) and main roads (town → nearest larger centre).
    cx, cy = np.concatenate([sx, tx]), np.concatenate([sy, ty])
    c_zone = np.concatenate([zones, town_zone])
    c_weight = np.concatenate([np.full(n_zones, np.inf), town_weight])
    parent = _parents(cx, cy, c_zone, c_weight, kx, n_zones)
    main = np.column_stack([tx, ty, cx[parent], cy[parent]])
    main_km = _km(*main.T)
    main_road_km = np.bincount(town_zone, weights=main_km, minlength=n_zones)

    # Sites per component: corridors first (per km, capped), the rest by the shares.
    want_e = model.expressway_sites_per_km * express_km
    want_m = model.main_road_sites_per_km * main_road_km
    want = want_e + want_m
    corridor = np.minimum(want, model.corridor_max_share * counts)
    ratio = np.divide(corridor, want, out=np.zeros(n_zones), where=want > 0)
    rest = counts - corridor
    has_towns = n_towns > 0
    quotas = np.column_stack(
        [
            (p["seat_share"] + np.where(has_towns, 0.0, p["town_share"])) * rest,
            np.where(has_towns, p["town_share"], 0.0) * rest,
            want_e * ratio,
            want_m * ratio,
            p["scatter_share"] * rest,
        ]
    )
    per = _apportion(quotas.ravel(), counts, np.repeat(zones, 5)).reshape(n_zones, 5)
    per_town = _apportion(town_weight, per[:, _TOWN], town_zone)

    # Exponential scales: the centre density is the peak, within [min scale, max_scale·√area].
    c_n = np.concatenate([per[:, _SEAT], per_town])
    peak = np.concatenate([p["seat_peak_per_km2"], p["town_peak_per_km2"][town_zone]])
    low = np.concatenate([p["seat_min_scale_km"], p["town_min_scale_km"][town_zone]])
    high = (p["max_scale"] * root)[c_zone]
    c_scale = np.minimum(np.maximum(np.sqrt(c_n / (2 * np.pi * peak)), low), high)

    # One block per (zone, component, centre), in zone order, then one entry per site.
    block_zone = np.concatenate([zones, town_zone, zones, zones, zones])
    block_kind = np.repeat(
        np.array([_SEAT, _TOWN, _EXPRESSWAY, _MAIN_ROAD, _SCATTER], "int8"),
        [n_zones, town_zone.size, n_zones, n_zones, n_zones],
    )
    block_ref = np.concatenate([zones, n_zones + np.arange(town_zone.size), zones, zones, zones])
    block_n = np.concatenate(
        [per[:, _SEAT], per_town, per[:, _EXPRESSWAY], per[:, _MAIN_ROAD], per[:, _SCATTER]]
    )
    order = np.lexsort((block_kind, block_zone))
    owner = np.repeat(block_zone[order].astype("int32"), block_n[order])
    kind = np.repeat(block_kind[order], block_n[order])
    ref = np.repeat(block_ref[order].astype("int32"), block_n[order])
    # corridor sites: a segment each (∝ length); main roads follow the expressways
    lines = np.concatenate([seg, main])
    on_e, on_m = np.flatnonzero(kind == _EXPRESSWAY), np.flatnonzero(kind == _MAIN_ROAD)
    ref[on_e] = _pick(owner[on_e], seg_zone, seg_km, n_zones, rng)
    ref[on_m] = len(seg) + _pick(owner[on_m], town_zone, main_km, n_zones, rng)
    bounds = shapely.bounds(geoms)
    offset_km = model.corridor_offset_m / 1000.0

    def propose(i):
        k, o, r = kind[i], owner[i], ref[i]
        px, py = np.empty(i.size), np.empty(i.size)
        if (m := (k <= _TOWN)).any():
            c = r[m]
            px[m], py[m] = _kernel(cx[c], cy[c], c_scale[c], kx[o[m]], rng)
        if (m := (k == _EXPRESSWAY) | (k == _MAIN_ROAD)).any():
            line, t = lines[r[m]], rng.random(m.sum())
            dx, dy = rng.normal(0.0, offset_km, (2, t.size))
            px[m] = line[:, 0] + t * (line[:, 2] - line[:, 0]) + dx / kx[o[m]]
            py[m] = line[:, 1] + t * (line[:, 3] - line[:, 1]) + dy / _KM_PER_DEG_LAT
        if (m := (k == _SCATTER)).any():
            b = bounds[o[m]]
            px[m] = b[:, 0] + rng.random(b.shape[0]) * (b[:, 2] - b[:, 0])
            py[m] = b[:, 1] + rng.random(b.shape[0]) * (b[:, 3] - b[:, 1])
        return px, py

    x, y = _draw_inside(geoms, owner, propose, sx, sy)
    env = np.full(owner.size, _RURAL, dtype="int8")
    seat_sites, town_sites = kind == _SEAT, kind == _TOWN
    env[seat_sites] = p["seat_env"][owner[seat_sites]]
    env[town_sites] = p["town_env"][owner[town_sites]]
    return x, y, env, kind


# --------------------------------------------------------------------------- attributes


def _sample_operators_bands(env, rng, model: SyntheticModel):
    """Operator and band of each site as integer codes, with their labels."""
    n = env.size
    ops = [name for name, _ in model.operator_shares]
    op_p = np.array([p for _, p in model.operator_shares])
    op = rng.choice(len(ops), size=n, p=op_p / op_p.sum()).astype("int8")
    tables = {e: dict(t) for e, t in model.band_shares}
    labels = sorted({b for t in tables.values() for mix in t.values() for b, _ in mix})
    cum = np.zeros((len(ENVIRONMENTS), len(ops), len(labels)))
    for e, name in enumerate(ENVIRONMENTS):  # environments × operators × bands, not sites
        for i, operator in enumerate(ops):
            for band, p in tables[name][operator]:
                cum[e, i, labels.index(band)] = p
    cum = np.cumsum(cum / cum.sum(axis=2, keepdims=True), axis=2)
    u = rng.random(n)
    band = np.zeros(n, dtype="int8")
    for j in range(len(labels) - 1):  # columns of the cumulative table, not sites
        band += u >= cum[env, op, j]
    return op, ops, band, labels


def _labels(codes, labels) -> pd.Series:
    """A ``str`` Series of ``labels[codes]`` built in Arrow (no Python strings per row)."""
    import pyarrow as pa

    return pd.Series(pa.array(list(labels), pa.string()).take(pa.array(codes)), dtype="str")


def _curve(growth, as_of: pd.Timestamp):
    """(times in ns, cumulative fraction) of the growth curve up to ``as_of``."""
    growth = pd.Series(growth).sort_index()
    t = pd.DatetimeIndex(growth.index).as_unit("ns").asi8.astype("float64")
    c = growth.to_numpy(dtype="float64")
    end = float(pd.Timestamp(as_of).as_unit("ns").value)
    if t.size < 2 or end <= t[0]:
        raise DataError(
            f"growth curve needs two dates or more, the first before as_of {as_of:%Y-%m-%d}"
        )
    if end <= t[-1]:
        at_end = np.interp(end, t, c)
    else:  # extend the last segment's slope to as_of
        at_end = c[-1] + (c[-1] - c[-2]) / (t[-1] - t[-2]) * (end - t[-1])
    keep = t < end
    t = np.append(t[keep], end)
    c = np.maximum.accumulate(np.append(c[keep], at_end))
    if not c[-1] > c[0]:
        raise DataError("growth curve does not grow before as_of")
    return t, (c - c[0]) / (c[-1] - c[0])


def _quantiles(key, need, rng) -> np.ndarray:
    """One quantile of [0, 1) per site, together exactly stratified-uniform.

    The n strata ``[k/n, (k+1)/n)`` go to the sites in order of ``key``
    (smallest first), except that a site never gets a quantile below its
    ``need`` (a band not yet licensed): the strata below each level go to the
    sites allowed there. Loops over the distinct levels, never over sites.
    """
    n = key.size
    slots = (np.arange(n) + rng.random(n)) / n
    order = np.argsort(key, kind="stable")
    levels = np.unique(need)
    q = np.empty(n)
    taken = np.zeros(n, dtype=bool)
    pos = 0
    for k, level in enumerate(levels):
        end = n if k == levels.size - 1 else max(int(np.searchsorted(slots, levels[k + 1])), pos)
        allowed = order[(need[order] <= level) & ~taken[order]][: end - pos]
        q[allowed] = slots[pos : pos + allowed.size]
        taken[allowed] = True
        pos += allowed.size
    return np.maximum(q, need)


def _sample_dates(band, band_labels, env, growth, as_of, rng, model: SyntheticModel):
    """Commissioning dates: the growth curve's quantiles, urban sites first, bands licensed."""
    t, frac = _curve(growth, as_of)
    start = dict(model.band_start)
    start_ns = [
        float(pd.Timestamp(start[b]).as_unit("ns").value) for b in band_labels if b in start
    ]
    need = np.zeros(len(band_labels))
    need[[i for i, b in enumerate(band_labels) if b in start]] = np.interp(start_ns, t, frac)
    preference = dict(model.date_preference)
    power = np.array([preference[e] for e in ENVIRONMENTS])[env]
    key = rng.random(band.size) ** power
    ns = np.interp(_quantiles(key, need[band], rng), frac, t).astype("int64")
    day = 86_400 * 10**9
    return (ns - ns % day).astype("datetime64[ns]")


def _site_ids(code: str, n: int) -> pd.Series:
    width = max(6, len(str(n)))
    numbers = pd.Series(np.arange(1, n + 1)).astype("str").str.zfill(width)
    return (f"SYN-{code}-" + numbers).astype("str")


def _zones_4326(zones, name: str) -> gpd.GeoDataFrame:
    require_crs(zones, name)
    missing = [c for c in ("city_adcode", "urban", "geometry") if c not in zones.columns]
    if missing:
        raise DataError(f"{name}: missing columns {', '.join(missing)} (see docs/CONTRACTS.md)")
    return to_wgs84(zones, name).sort_index()


def _build(x, y, env, rng, *, code, growth, as_of, seed, model, source, points=True):
    n = x.size
    op, op_labels, band, band_labels = _sample_operators_bands(env, rng, model)
    commissioned = _sample_dates(band, band_labels, env, growth, as_of, rng, model)
    sites = sites_from_arrays(
        _site_ids(code, n),
        _labels(op, op_labels),
        _labels(band, band_labels),
        np.full(n, np.nan),
        commissioned,
        x,
        y,
        source=source,
        synthetic=True,
        points=points,
    )
    sites.attrs.update({"seed": int(seed), "as_of": f"{as_of:%Y-%m-%d}"})
    return sites


def synthetic_sites(
    counties: gpd.GeoDataFrame,
    city_population: pd.Series,
    *,
    total: int,
    seed: int = 0,
    as_of="2023-12-31",
    anchors=None,
    growth=None,
    code: str | None = None,
    model: SyntheticModel = SyntheticModel(),  # frozen, so a safe default
    roads: gpd.GeoDataFrame | None = None,
    max_per_10k: float | None = None,
    min_per_10k: float | None = None,
    points: bool = True,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """SYNTHETIC 5G sites for the cities of ``counties``, calibrated to ``total``.

    Parameters
    ----------
    counties : geopandas.GeoDataFrame
        County zones (contract schema: index adcode, ``city_adcode``,
        ``urban``, polygons with a CRS).
    city_population : pandas.Series
        Residents by city adcode, for every ``city_adcode`` of ``counties``.
    total : int
        Number of sites (exact).
    seed : int
        Random seed; the same inputs and seed give identical output.
    as_of : str or Timestamp
        The latest commissioning date.
    anchors : mapping of int → float, optional
        City adcode → stations per 10k residents to honour.
    growth : pandas.Series, optional
        Cumulative stations by date shaping the commissioning dates; default
        the national curve of ``calibration.toml``.
    code : str, optional
        Site-id code (``SYN-<code>-000001``); default the province's
        ISO 3166-2:CN code from the counties' adcodes.
    model : SyntheticModel
    roads : geopandas.GeoDataFrame, optional
        Expressways (lines with a CRS, e.g. ``geo5g.roads.read_demo_roads``):
        corridor sites and interchange towns along them. Without, only the
        main roads between a county's centres carry corridor sites.
    max_per_10k, min_per_10k : float, optional
        Plausible range of a city's stations per 10k residents (anchors aside).
    points : bool, default True
        False: a site table without point geometry (see :func:`geo5g.sites.read_sites`).

    Returns
    -------
    geopandas.GeoDataFrame or pandas.DataFrame
        The Sites contract (radius_m NaN) with ``attrs["synthetic"] = True``,
        ``attrs["seed"]``, ``attrs["as_of"]``; sites ordered by county.
    """
    counties = _zones_4326(counties, "counties")
    as_of = pd.Timestamp(as_of)
    cities = np.unique(counties["city_adcode"].to_numpy(dtype="int64"))
    pop = pd.Series(city_population)
    if missing := sorted(set(cities) - set(pop.index[pop.notna()])):
        raise DataError(f"city_population: no population for cities {_ids(missing)}")
    pop = pop.reindex(cities)
    city_area = (
        pd.Series(_area_km2(counties), index=counties.index)
        .groupby(counties["city_adcode"].to_numpy(dtype="int64"))
        .sum()
    )
    city_totals = allocate_city_totals(
        pop,
        city_area,
        total=total,
        anchors=anchors,
        seed=seed,
        model=model,
        max_per_10k=max_per_10k,
        min_per_10k=min_per_10k,
    )
    counts = allocate_county_totals(counties, city_totals, model=model)
    profile = np.where(counties["urban"].to_numpy(dtype=bool), 0, 1)  # district / county
    # The allocation used its own generator (seed); the spatial draw gets a second stream.
    rng = np.random.default_rng([int(seed), 1])
    x, y, env, _ = _place(
        counties.geometry.to_numpy(), counts.to_numpy(), profile, rng, model, roads
    )
    if code is None:
        provinces = np.unique(counties.index.to_numpy(dtype="int64") // 10000)
        code = _PROVINCE_CODES.get(int(provinces[0]), "XX") if provinces.size == 1 else "CN"
    if growth is None:
        growth = load_calibration("national").growth
    return _build(
        x,
        y,
        env,
        rng,
        code=code,
        growth=growth,
        as_of=as_of,
        seed=seed,
        model=model,
        source=f"SYNTHETIC demo sites ({code}, seed {seed}, as of {as_of:%Y-%m-%d})",
        points=points,
    )


def _province_totals(prefix, pop, counted, cal: Calibration, total: int):
    """Stations per province: its own total (scaled to ``total``), else its region's rest ∝ pop."""
    region_of = {p: name for name, (_, provs) in cal.regions.items() for p in provs}
    codes, group = np.unique(prefix[counted], return_inverse=True)
    names = [region_of[int(c)] for c in codes]
    present = [name for name in cal.regions if name in names]
    region = np.array([present.index(n) for n in names], dtype="int64")
    region_totals = _apportion(
        [cal.regions[n][0] for n in present], [int(total)], np.zeros(len(present), "int64")
    )
    scale = int(total) / cal.total if cal.total else 1.0
    fixed = np.array(
        [round(cal.provinces[int(c)] * scale) if int(c) in cal.provinces else -1 for c in codes],
        dtype="int64",
    )
    province_pop = np.bincount(group, weights=pop[counted])
    totals = _bounded_apportion(
        province_pop, region_totals, region, fixed, 0, np.iinfo("int64").max // 4
    )
    return codes, group, totals


def synthetic_sites_national(
    cities: gpd.GeoDataFrame,
    census: pd.Series,
    *,
    total: int = 4_800_000,
    seed: int = 100000,
    as_of="2025-12-31",
    calibration: Calibration | None = None,
    model: SyntheticModel = SyntheticModel(),  # frozen, so a safe default
    points: bool = True,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """SYNTHETIC 5G sites for every prefecture city of China (generated, not stored).

    Provinces with their own total in the calibration (Jiangsu, Jiangxi) get it;
    the other provinces of a region (East, Central, West, Northeast, by their
    shares of stations on 2024-06-30) share the rest of the region's total in
    proportion to population. Within a province cities are weighted as in
    :func:`allocate_city_totals`, with the calibration's anchors and per-10k
    bounds; the sites of a city follow the settlement model (its seat and
    towns, main roads, rural cover). Cities of provinces outside the four
    regions (Hong Kong, Macao, Taiwan: not in MIIT's statistics) get no sites.
    With another ``total`` every count of the calibration is scaled with it.

    Parameters
    ----------
    cities : geopandas.GeoDataFrame
        City zones (contract: index adcode, ``province_adcode``, polygons).
    census : pandas.Series
        Residents by city adcode.
    total : int
        Sites to generate (exact); 4.8 million by default (470.5万 on
        2025-09-30 plus about a quarter's growth).
    seed : int
    as_of : str or Timestamp
    calibration : Calibration, optional
        Regions, provinces, anchors, bounds and growth curve; default
        ``load_calibration("national")``.
    model : SyntheticModel
    points : bool, default True
        False: a site table without point geometry.

    Returns
    -------
    geopandas.GeoDataFrame or pandas.DataFrame
        The Sites contract with ``attrs["synthetic"] = True``.
    """
    cal = calibration if calibration is not None else load_calibration("national")
    require_crs(cities, "cities")
    if "province_adcode" not in cities.columns:
        raise DataError("cities: missing column province_adcode (see docs/CONTRACTS.md)")
    cities = to_wgs84(cities, "cities").sort_index()
    as_of = pd.Timestamp(as_of)
    prefix = cities["province_adcode"].to_numpy(dtype="int64") // 10000
    in_regions = [p for _, (_, provs) in cal.regions.items() for p in provs]
    counted = np.isin(prefix, in_regions)
    pop = pd.Series(census).reindex(cities.index).to_numpy(dtype="float64")
    if (bad := counted & ~(pop > 0)).any():
        raise DataError(f"census: no population for cities {_ids(cities.index[bad])}")
    pop = np.where(counted, pop, 0.0)
    _, province_group, province_totals = _province_totals(prefix, pop, counted, cal, total)

    scale = int(total) / cal.total if cal.total else 1.0
    rng = np.random.default_rng(seed)
    area = _area_km2(cities)
    index = cities.index.to_numpy(dtype="int64")
    weights = _city_weights(
        pop[counted], area[counted], index[counted] % 10000 == 100, rng, model, province_group
    )
    per_10k = np.array([cal.anchors.get(int(a), np.nan) for a in index[counted]]) * scale
    fixed = np.where(np.isnan(per_10k), -1, np.rint(np.nan_to_num(per_10k) * pop[counted] / 1e4))
    bound = [None if b is None else b * scale for b in (cal.min_city_per_10k, cal.max_city_per_10k)]
    low, high = _per_10k_bounds(pop[counted], *bound)
    counts = np.zeros(len(cities), "int64")
    counts[counted] = _bounded_apportion(
        weights, province_totals, province_group, fixed.astype("int64"), low, high
    )
    profile = np.full(len(cities), PROFILES.index("city"))
    x, y, env, _ = _place(
        cities.geometry.to_numpy(), counts, profile, np.random.default_rng([int(seed), 1]), model
    )
    return _build(
        x,
        y,
        env,
        rng,
        code=cal.code,
        growth=cal.growth,
        as_of=as_of,
        seed=seed,
        model=model,
        source=f"SYNTHETIC national demo sites (seed {seed}, as of {as_of:%Y-%m-%d})",
        points=points,
    )


# --------------------------------------------------------------------------- national cache


def _cache_root(cache_dir=None) -> Path:
    """``cache_dir``, else ``$XDG_CACHE_HOME/geo5g``, else ``~/.cache/geo5g``."""
    import os

    if cache_dir is not None:
        return Path(cache_dir)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "geo5g"


def _cache_key(total: int, seed: int, as_of) -> str:
    """Digest of everything the national demo depends on: inputs, parameters, this code."""
    import hashlib

    from . import __version__
    from .population import CENSUS_FILE

    digest = hashlib.sha256(f"{__version__}|{total}|{seed}|{as_of:%Y-%m-%d}".encode())
    for path in (
        Path(__file__),
        _MODEL_FILE,
        data_dir("sites", "calibration.toml"),
        data_dir("boundaries", "china_cities.geojson"),
        data_dir("population", CENSUS_FILE),
    ):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _write_cache(sites: gpd.GeoDataFrame, path: Path) -> None:
    """GeoParquet (GeoArrow points) straight from the arrays, written atomically."""
    import json
    import os
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    geo = {
        "version": "1.1.0",
        "primary_column": "geometry",
        "columns": {
            "geometry": {
                "encoding": "point",
                "geometry_types": ["Point"],
                "crs": WGS84.to_json_dict(),
            }
        },
    }
    points = pa.StructArray.from_arrays(
        [pa.array(sites["lon"].to_numpy()), pa.array(sites["lat"].to_numpy())], names=["x", "y"]
    )
    table = pa.table(
        {
            "site_id": pa.array(sites["site_id"]),
            "operator": pa.array(sites["operator"]),
            "band": pa.array(sites["band"]),
            "radius_m": pa.array(sites["radius_m"].to_numpy()),
            "commissioned": pa.array(sites["commissioned"].to_numpy()),
            "geometry": points,
        }
    )
    meta = {
        b"geo": json.dumps(geo).encode(),
        b"geo5g": json.dumps({"synthetic": True, **dict(sites.attrs)}).encode(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(
            table.replace_schema_metadata(meta), tmp, compression="zstd", compression_level=1
        )
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is for the temporary name only
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _read_cache(path: Path, *, points: bool = True) -> gpd.GeoDataFrame | pd.DataFrame:
    """Sites from a file of :func:`_write_cache` (trusted: written by geo5g itself)."""
    import json

    import pyarrow.parquet as pq

    table = pq.read_table(path)
    attrs = json.loads((table.schema.metadata or {})[b"geo5g"])
    xy = table.column("geometry").combine_chunks()
    sites = sites_from_arrays(
        table.column("site_id").to_pandas(),
        table.column("operator").to_pandas(),
        table.column("band").to_pandas(),
        table.column("radius_m").to_numpy(),
        table.column("commissioned").to_numpy(),
        xy.field("x").to_numpy(),
        xy.field("y").to_numpy(),
        source=attrs.get("source", "SYNTHETIC national demo sites"),
        synthetic=True,
        points=points,
    )
    sites.attrs.update(attrs)
    return sites


def national_demo_sites(
    *,
    total: int = 4_800_000,
    seed: int = 100000,
    cache: bool = True,
    cache_dir=None,
    points: bool = True,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """The SYNTHETIC national demo sites, generated once and then read from a disk cache.

    :func:`synthetic_sites_national` on the bundled city boundaries and census
    (about 10 s for 4.8 million sites); the result is kept as GeoParquet in the
    user's cache folder (``$XDG_CACHE_HOME/geo5g``, default ``~/.cache/geo5g``),
    under a key that changes with the bundled inputs, the parameters and this
    module, so a stale file is never used. An unwritable or unreadable cache
    only costs the generation.

    Parameters
    ----------
    total, seed : int
        As for :func:`synthetic_sites_national`.
    cache : bool
        Read and write the cache (False: always generate).
    cache_dir : path-like, optional
        Another cache folder.
    points : bool, default True
        False: a site table without point geometry (see
        :func:`geo5g.sites.read_sites`), what the analyses use.

    Returns
    -------
    geopandas.GeoDataFrame or pandas.DataFrame
        The Sites contract, ``attrs["synthetic"] = True``; identical whether
        generated or read from the cache.
    """
    import pyarrow as pa

    from .boundaries import read_boundaries
    from .population import read_census

    cal = load_calibration("national")
    path = _cache_root(cache_dir) / f"national_sites_{_cache_key(total, seed, cal.as_of)}.parquet"
    if cache and path.is_file():
        try:
            return _read_cache(path, points=points)
        except (OSError, KeyError, ValueError, pa.ArrowException):
            pass  # damaged: generate it again
    _log.info(
        "generating %s SYNTHETIC national demo sites (first run only, ≈ 10 s; cached in %s)",
        f"{total:,}",
        path.parent,
    )
    sites = synthetic_sites_national(
        read_boundaries("all", "city"),
        read_census(),
        total=total,
        seed=seed,
        as_of=cal.as_of,
        calibration=cal,
        points=points,
    )
    if cache:
        with contextlib.suppress(OSError):  # a read-only home: the next run generates again
            _write_cache(sites, path)
    return sites


def demo_sites_file(province: str) -> Path:
    """The bundled demo file: ``data/sites/<province>_5g_sites_SYNTHETIC.parquet``."""
    return data_dir("sites", f"{str(province).lower()}_5g_sites_SYNTHETIC.parquet")


def write_demo_sites(province: str, out_path=None) -> Path:
    """Regenerate a province's SYNTHETIC demo sites from the bundled boundaries.

    Uses ``calibration.toml`` (total, as-of date, seed, anchors, per-10k
    bounds, growth), the bundled county boundaries and schematic expressways
    and the 2020 census.

    Parameters
    ----------
    province : {"jiangsu", "jiangxi"}
    out_path : str or os.PathLike, optional
        Default :func:`demo_sites_file` (GeoParquet, zstd).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    from .boundaries import read_boundaries
    from .population import read_census
    from .roads import read_demo_roads

    key = str(province).lower()
    if key not in DEMO_PROVINCES:
        raise InputError(
            f"no demo calibration for {province!r}; choose one of {', '.join(DEMO_PROVINCES)}"
        )
    cal = load_calibration(key)
    counties = read_boundaries(key, "county")
    sites = synthetic_sites(
        counties,
        read_census(),
        total=cal.total,
        seed=cal.seed,
        as_of=cal.as_of,
        anchors=dict(cal.anchors),
        growth=cal.growth,
        code=cal.code,
        roads=read_demo_roads(key),
        max_per_10k=cal.max_city_per_10k,
        min_per_10k=cal.min_city_per_10k,
    )
    out = out_path if out_path is not None else demo_sites_file(key)
    return write_sites(sites, out, compression_level=19)  # committed to git: smallest file


def synthetic_rsu(
    roads: gpd.GeoDataFrame,
    cities: gpd.GeoDataFrame,
    km_by_city: Mapping[int, float],
    *,
    spacing_m: float = 500.0,
    range_m: float = 300.0,
    seed: int = 2024,
) -> gpd.GeoDataFrame:
    """A reproducible synthetic RSU deployment along stretches of expressway.

    For each city in ``km_by_city`` the city's road runs are shuffled (seeded) and
    stretches are taken from them, each starting at a random point of its run, until
    the city's kilometres are reached; RSUs are placed every ``spacing_m`` along each
    stretch, the first and last ``spacing_m / 2`` in.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        Roads with a CRS.
    cities : geopandas.GeoDataFrame
        City polygons indexed by adcode.
    km_by_city : Mapping[int, float]
        City adcode → kilometres of road to equip.
    spacing_m, range_m : float
        Distance between consecutive RSUs, and the range written to ``range_m``.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    geopandas.GeoDataFrame
        Points in EPSG:4326 with ``rsu_id``, ``city_adcode``, ``ref``, ``range_m``,
        ``synthetic`` (True).
    """
    crs, roads_m = _metric(roads, None, "roads")
    runs = cover_lines(roads_m, [], [], [], to_metric(cities, crs, "cities"))
    rng = np.random.default_rng(seed)
    runs = runs.iloc[rng.permutation(len(runs))]
    want = pd.Series(km_by_city, dtype="float64") * 1000.0
    runs = runs[runs["city_adcode"].isin(want.index)].sort_values("city_adcode", kind="stable")
    # Take whole runs (shortened to what is still wanted) in shuffled order per city.
    before = runs.groupby("city_adcode")["length_m"].cumsum() - runs["length_m"]
    still = want.reindex(runs["city_adcode"]).to_numpy() - before.to_numpy()
    take = np.minimum(runs["length_m"].to_numpy(), np.maximum(still, 0.0))
    use = take >= spacing_m
    runs, take = runs[use], take[use]
    start = rng.uniform(0.0, 1.0, len(runs)) * (runs["length_m"].to_numpy() - take)
    count = np.floor(take / spacing_m).astype(np.int64)
    which = np.repeat(np.arange(len(runs)), count)
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    along = start[which] + spacing_m / 2 + k * spacing_m
    points = shapely.line_interpolate_point(runs.geometry.values[which], along)
    out = gpd.GeoDataFrame(
        {
            "rsu_id": [f"RSU-SYN-{i + 1:04d}" for i in range(len(which))],
            "city_adcode": runs["city_adcode"].to_numpy()[which],
            "ref": runs["ref"].to_numpy()[which],
            "range_m": float(range_m),
            "synthetic": True,
        },
        geometry=points,
        crs=crs,
    )
    return to_wgs84(out, "synthetic RSU")
