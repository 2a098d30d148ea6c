"""SYNTHETIC, reproducible 5G demo sites calibrated to published totals.

Real 5G site coordinates for China are not public, so geo5g's demo runs on
synthetic sites, labelled as such everywhere (``attrs["synthetic"]``, ids
``SYN-…``, file names ``…_SYNTHETIC.parquet``). The generator is a small,
documented model:

1. **cities** — the province total is split across cities in proportion to
   ``population × (density / median density) ** density_exponent ×
   capital_factor × noise``: denser (richer, more urban) cities get more
   stations per resident, the provincial capital a bonus, and a seeded
   log-normal noise keeps the ranking from being a pure function of density.
   Cities with a published per-10k figure (``anchors``) get exactly that.
2. **counties** — each city's count is split over its counties in proportion
   to ``area_km2 ** area_exponent``, times ``urban_weight`` for urban
   districts (区).
3. **points** — inside each county polygon, a mixture of a Gaussian cluster
   around its representative point and a uniform scatter, drawn by
   vectorised rejection sampling with :func:`shapely.contains_xy`.
4. **attributes** — operator (China Mobile 50 %, China Telecom 20 % and China
   Unicom 20 % sharing one network, China Broadnet 10 %), band by operator
   (700 MHz for Broadnet and part of Mobile; 2.6/4.9 GHz Mobile; 3.5 (+2.1)
   GHz Telecom/Unicom), commissioning date drawn from the published growth
   curve (no 700 MHz or 2.1 GHz NR before 2021).

The published figures (totals, anchors, growth curves, regional split) are
data: ``data/sites/calibration.toml``, read by :func:`load_calibration`.
Every integer split uses the largest-remainder method, so totals are exact.
"""

from __future__ import annotations

import contextlib
import logging
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._paths import data_dir
from .errors import DataError, InputError
from .lines import _metric, cover_lines
from .project import WGS84, area_crs, require_crs, to_metric, to_wgs84
from .sites import sites_from_arrays, write_sites

_log = logging.getLogger(__name__)

__all__ = [
    "DEMO_PROVINCES",
    "Calibration",
    "SyntheticModel",
    "allocate_city_totals",
    "allocate_county_totals",
    "demo_sites_file",
    "load_calibration",
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

_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0
_MAX_ROUNDS = 200
_BLOCK = 1_000_000  # points drawn at once: bounds memory for millions of sites


@dataclass(frozen=True)
class SyntheticModel:
    """Parameters of the synthetic-site model (see the module docstring).

    Attributes
    ----------
    density_exponent : float
        Stations per resident grow as (density / median density) ** this.
    capital_factor : float
        Multiplier for a provincial capital (adcode ``xx0100``).
    city_noise : float
        Sigma of the log-normal city factor noise.
    urban_weight : float
        Multiplier of an urban district's (区) share within its city.
    area_exponent : float
        County share ∝ area_km2 ** this.
    clustered_share_urban, clustered_share_rural : float
        Share of a zone's sites in the Gaussian cluster around its
        representative point (the rest are uniform inside the zone).
    cluster_sigma : float
        Cluster standard deviation as a fraction of sqrt(zone area).
    operator_shares : tuple of (str, float)
        Operator mix (must sum to 1).
    band_shares : tuple of (str, tuple of (str, float))
        Band mix of each operator (each must sum to 1).
    band_start : tuple of (str, str)
        Earliest commissioning date of a band.
    """

    density_exponent: float = 0.5
    capital_factor: float = 1.2
    city_noise: float = 0.08
    urban_weight: float = 3.0
    area_exponent: float = 0.5
    clustered_share_urban: float = 0.8
    clustered_share_rural: float = 0.6
    cluster_sigma: float = 0.2
    operator_shares: tuple = (
        ("China Mobile", 0.5),
        ("China Telecom", 0.2),
        ("China Unicom", 0.2),
        ("China Broadnet", 0.1),
    )
    band_shares: tuple = (
        ("China Mobile", (("2.6GHz", 0.6), ("700MHz", 0.25), ("4.9GHz", 0.15))),
        ("China Telecom", (("3.5GHz", 0.85), ("2.1GHz", 0.15))),
        ("China Unicom", (("3.5GHz", 0.85), ("2.1GHz", 0.15))),
        ("China Broadnet", (("700MHz", 1.0),)),
    )
    band_start: tuple = (("700MHz", "2021-01-01"), ("2.1GHz", "2021-01-01"))


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
        National only: region → (stations, province adcode prefixes).
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
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the calibration file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path.name}: not valid TOML ({exc})") from None
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


def _area_km2(layer) -> np.ndarray:
    # areas in an equal-area projection fitted to the layer (lengths never are)
    layer = to_wgs84(layer, "zones")
    metric = to_metric(layer.geometry, area_crs(layer.total_bounds), "zones")
    return metric.area.to_numpy() / 1e6


def _city_weights(population, area_km2, capital, rng, model: SyntheticModel) -> np.ndarray:
    density = population / area_km2
    relative = density / np.median(density)
    noise = np.exp(rng.normal(0.0, model.city_noise, population.size))
    bonus = np.where(capital, model.capital_factor, 1.0)
    return population * relative**model.density_exponent * bonus * noise


def allocate_city_totals(
    city_population: pd.Series,
    city_area_km2: pd.Series,
    *,
    total: int,
    anchors=None,
    seed: int = 0,
    model: SyntheticModel = SyntheticModel(),  # frozen, so a safe default
) -> pd.Series:
    """Split ``total`` stations across cities (see the module docstring, step 1).

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
    free = _apportion(np.where(anchored, 0.0, weights), [remaining], np.zeros(pop.size, "int64"))
    return pd.Series(fixed.to_numpy() + free, index=pop.index.rename("adcode"), name="stations")


def allocate_county_totals(
    counties: gpd.GeoDataFrame,
    city_totals: pd.Series,
    *,
    model: SyntheticModel = SyntheticModel(),  # frozen, so a safe default
) -> pd.Series:
    """Split each city's stations over its counties (module docstring, step 2).

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


# --------------------------------------------------------------------------- sampling


def _sample_points(geoms, counts, clustered_share, sigma_frac, rng):
    """Draw ``counts[i]`` points inside polygon ``i`` (WGS-84): cluster + uniform mixture.

    Returns x and y (in polygon order). Points are drawn in
    blocks of ``_BLOCK`` (bounded memory), each by rounds of rejection over
    all its pending points; there is no per-point Python.
    """
    geoms = np.asarray(geoms, dtype=object)
    shapely.prepare(geoms)
    centre = shapely.point_on_surface(geoms)
    cx, cy = shapely.get_x(centre), shapely.get_y(centre)
    bounds = shapely.bounds(geoms)
    area_m2 = _area_km2(gpd.GeoSeries(geoms, crs=WGS84)) * 1e6
    sigma_m = sigma_frac * np.sqrt(area_m2)
    share = np.asarray(clustered_share, dtype="float64")
    owner = np.repeat(np.arange(geoms.size), np.asarray(counts, dtype="int64"))
    x = np.empty(owner.size)
    y = np.empty(owner.size)
    for start in range(0, owner.size, _BLOCK):
        todo = np.arange(start, min(start + _BLOCK, owner.size))
        for _ in range(_MAX_ROUNDS):
            if todo.size == 0:
                break
            o = owner[todo]
            k = todo.size
            clustered = rng.random(k) < share[o]
            px = np.where(
                clustered,
                cx[o]
                + rng.standard_normal(k)
                * sigma_m[o]
                / (_M_PER_DEG_LON_EQUATOR * np.cos(np.radians(cy[o]))),
                bounds[o, 0] + rng.random(k) * (bounds[o, 2] - bounds[o, 0]),
            )
            py = np.where(
                clustered,
                cy[o] + rng.standard_normal(k) * sigma_m[o] / _M_PER_DEG_LAT,
                bounds[o, 1] + rng.random(k) * (bounds[o, 3] - bounds[o, 1]),
            )
            inside = shapely.contains_xy(geoms[o], px, py)
            x[todo[inside]], y[todo[inside]] = px[inside], py[inside]
            todo = todo[~inside]
        # A sliver that rejected every draw: its representative point is inside.
        x[todo], y[todo] = cx[owner[todo]], cy[owner[todo]]
    return x, y


def _sample_operators_bands(n, rng, model: SyntheticModel):
    """Operator and band of each site as integer codes, with their labels."""
    ops = [name for name, _ in model.operator_shares]
    op_p = np.array([p for _, p in model.operator_shares])
    op = rng.choice(len(ops), size=n, p=op_p / op_p.sum()).astype("int8")
    bands_of = dict(model.band_shares)
    labels = sorted({b for name in ops for b, _ in bands_of[name]})
    cum = np.zeros((len(ops), len(labels)))
    for i, name in enumerate(ops):  # a handful of operators × bands, not sites
        for band, p in bands_of[name]:
            cum[i, labels.index(band)] = p
    cum = np.cumsum(cum / cum.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(n)
    band = np.zeros(n, dtype="int8")
    for j in range(len(labels) - 1):  # columns of the cumulative table, not sites
        band += u >= cum[op, j]
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


def _sample_dates(band, band_labels, growth, as_of, rng, model: SyntheticModel) -> np.ndarray:
    t, frac = _curve(growth, as_of)
    start = dict(model.band_start)
    start_ns = np.array(
        [
            float(pd.Timestamp(start[b]).as_unit("ns").value) if b in start else t[0]
            for b in band_labels
        ]
    )
    start_frac = np.interp(start_ns, t, frac)[band]
    u = start_frac + (1.0 - start_frac) * rng.random(band.size)
    ns = np.interp(u, frac, t).astype("int64")
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


def _build(x, y, rng, *, code, growth, as_of, seed, model, source):
    n = x.size
    op, op_labels, band, band_labels = _sample_operators_bands(n, rng, model)
    commissioned = _sample_dates(band, band_labels, growth, as_of, rng, model)
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
) -> gpd.GeoDataFrame:
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

    Returns
    -------
    geopandas.GeoDataFrame
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
        pop, city_area, total=total, anchors=anchors, seed=seed, model=model
    )
    counts = allocate_county_totals(counties, city_totals, model=model)
    urban = counties["urban"].to_numpy(dtype=bool)
    share = np.where(urban, model.clustered_share_urban, model.clustered_share_rural)
    # The allocation used its own generator (seed); the spatial draw gets a second stream.
    rng = np.random.default_rng([int(seed), 1])
    x, y = _sample_points(
        counties.geometry.to_numpy(), counts.to_numpy(), share, model.cluster_sigma, rng
    )
    if code is None:
        provinces = np.unique(counties.index.to_numpy(dtype="int64") // 10000)
        code = _PROVINCE_CODES.get(int(provinces[0]), "XX") if provinces.size == 1 else "CN"
    if growth is None:
        growth = load_calibration("national").growth
    return _build(
        x,
        y,
        rng,
        code=code,
        growth=growth,
        as_of=as_of,
        seed=seed,
        model=model,
        source=f"SYNTHETIC demo sites ({code}, seed {seed}, as of {as_of:%Y-%m-%d})",
    )


def synthetic_sites_national(
    cities: gpd.GeoDataFrame,
    census: pd.Series,
    *,
    total: int = 4_800_000,
    seed: int = 100000,
    as_of="2025-12-31",
    calibration: Calibration | None = None,
    model: SyntheticModel = SyntheticModel(),  # frozen, so a safe default
) -> gpd.GeoDataFrame:
    """SYNTHETIC 5G sites for every prefecture city of China (generated, not stored).

    Province shares follow population × a regional factor (each region's
    share of stations on 2024-06-30 over its share of residents: East,
    Central, West, Northeast); within a province cities are weighted as in
    :func:`allocate_city_totals`; points are drawn inside the city polygons.
    Cities of provinces outside the four regions (Hong Kong, Macao, Taiwan)
    get no sites.

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
        Regions and growth curve; default ``load_calibration("national")``.
    model : SyntheticModel

    Returns
    -------
    geopandas.GeoDataFrame
        The Sites contract with ``attrs["synthetic"] = True``.
    """
    cal = calibration if calibration is not None else load_calibration("national")
    require_crs(cities, "cities")
    if "province_adcode" not in cities.columns:
        raise DataError("cities: missing column province_adcode (see docs/CONTRACTS.md)")
    cities = to_wgs84(cities, "cities").sort_index()
    as_of = pd.Timestamp(as_of)
    prefix = cities["province_adcode"].to_numpy(dtype="int64") // 10000
    region_of = {p: name for name, (_, provs) in cal.regions.items() for p in provs}
    region = pd.Series(prefix).map(region_of).to_numpy()
    counted = pd.notna(region)
    pop = pd.Series(census).reindex(cities.index).to_numpy(dtype="float64")
    if (bad := counted & ~(pop > 0)).any():
        raise DataError(f"census: no population for cities {_ids(cities.index[bad])}")
    pop = np.where(counted, pop, 0.0)

    # Regional factor: share of stations over share of residents.
    region_pop = pd.Series(pop).groupby(region).sum()
    stations = pd.Series({name: s for name, (s, _) in cal.regions.items()})
    factor = (stations / stations.sum()) / (region_pop / region_pop.sum())
    province_codes, province_group = np.unique(prefix, return_inverse=True)
    weight_city = pop * pd.Series(region).map(factor).fillna(0.0).to_numpy()
    province_totals = _apportion(
        np.bincount(province_group, weights=weight_city),
        [int(total)],
        np.zeros(province_codes.size, "int64"),
    )

    rng = np.random.default_rng(seed)
    area = _area_km2(cities)
    weights = np.zeros(len(cities))
    weights[counted] = _city_weights(
        pop[counted], area[counted], cities.index.to_numpy()[counted] % 10000 == 100, rng, model
    )
    counts = _apportion(weights, province_totals, province_group)
    share = np.full(len(cities), model.clustered_share_rural)
    x, y = _sample_points(cities.geometry.to_numpy(), counts, share, model.cluster_sigma, rng)
    return _build(
        x,
        y,
        rng,
        code=cal.code,
        growth=cal.growth,
        as_of=as_of,
        seed=seed,
        model=model,
        source=f"SYNTHETIC national demo sites (seed {seed}, as of {as_of:%Y-%m-%d})",
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
    (about 6 s for 4.8 million sites); the result is kept as GeoParquet in the
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
    )
    if cache:
        with contextlib.suppress(OSError):  # a read-only home: the next run generates again
            _write_cache(sites, path)
    if not points:
        table = pd.DataFrame(sites.drop(columns=sites.geometry.name))
        table.attrs = {**sites.attrs, "crs": "EPSG:4326"}
        return table
    return sites


def demo_sites_file(province: str) -> Path:
    """The bundled demo file: ``data/sites/<province>_5g_sites_SYNTHETIC.parquet``."""
    return data_dir("sites", f"{str(province).lower()}_5g_sites_SYNTHETIC.parquet")


def write_demo_sites(province: str, out_path=None) -> Path:
    """Regenerate a province's SYNTHETIC demo sites from the bundled boundaries.

    Uses ``calibration.toml`` (total, as-of date, seed, anchors, growth), the
    bundled county boundaries and the 2020 census.

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
