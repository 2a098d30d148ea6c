"""The coverage model: how far each 5G site reaches, in metres.

One small interface, :class:`CoverageModel`, turns sites into reaches::

    reach = model.reach_m(sites, urban)      # float64 array, one value per site

Today's model, :class:`BandTableModel`, looks the reach up in a table of bands ×
environment (``geo5g/settings/coverage.toml``, every value with its derivation);
a site's own ``radius_m`` overrides the table. The environment (urban or rural)
comes from the county a site stands in (:func:`urban_from_zones`: 区 are urban) or,
without a county layer, from the local density of sites (:func:`urban_from_density`).

A propagation-based model will replace the table behind the same interface: a
``LinkBudgetModel`` implementing ``reach_m`` would, per site, solve the 3GPP TR 38.901
path-loss formula (UMa/RMa by environment, LOS probability, the band's carrier
frequency and a link budget of EIRP, receiver sensitivity and margins) for the
distance where the path loss reaches the maximum allowed, and return that distance.
The corridor, port and RSU analyses only ever see the resulting reach array, so
they need no change.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd
import shapely
from scipy import ndimage
from scipy.spatial import cKDTree

from . import _strips
from ._validate import MAX_REACH_M, read_settings_toml
from .errors import DataError
from .project import is_site_table, metric_xy, require_crs, to_metric

__all__ = [
    "BandTableModel",
    "CoverageModel",
    "CoverageSettings",
    "load_settings",
    "point_xy",
    "site_environment",
    "site_reach",
    "sites_near",
    "urban_from_density",
    "urban_from_zones",
]

_DEFAULT_SETTINGS = Path(__file__).resolve().parent / "settings" / "coverage.toml"


@dataclass(frozen=True)
class CoverageSettings:
    """Coverage settings (see ``geo5g/settings/coverage.toml`` for every value's source).

    Attributes
    ----------
    reach_m : Mapping[str, tuple[float, float]]
        Band name → (urban reach, rural reach) in metres; key ``"default"`` is used
        for a missing or unlisted band.
    density_radius_m, density_min_sites : float, int
        Density rule for urban sites when no county layer is given.
    rsu_range_m : float
        Range of an RSU whose layer gives no ``range_m``.
    min_gap_m : float
        Gap runs shorter than this are not listed (totals count them).
    piece_m : float
        Longest road piece handed to the site look-up (does not change results).
    port_min_share : float
        Share of a port polygon's area that must be in reach for "covered".
    port_sample_points : int
        Grid points per polygon for area shares.
    line_share : float
        Share of a line's length (a road ref in a city) that must be covered for the
        line to count as continuously covered (MIIT 信号升格: 95 %).
    source : str
        Where the settings came from.
    """

    reach_m: Mapping[str, tuple[float, float]]
    density_radius_m: float = 1000.0
    density_min_sites: int = 10
    rsu_range_m: float = 300.0
    min_gap_m: float = 100.0
    piece_m: float = 500.0
    port_min_share: float = 0.95
    port_sample_points: int = 100
    line_share: float = 0.95
    source: str = "<defaults>"


def _positive(value, key: str, source: str, problems: list[str]) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems.append(f"{key} = {value!r} is not a number")
        return float("nan")
    if not np.isfinite(number) or number <= 0:
        problems.append(f"{key} = {value!r} must be a positive number of metres")
    elif key.startswith(("reach_m", "rsu_range_m", "density_radius_m")) and number > MAX_REACH_M:
        problems.append(f"{key} = {value!r} is beyond {MAX_REACH_M:,.0f} m: no cell reaches so far")
    return number


def load_settings(path=None) -> CoverageSettings:
    """Load coverage settings from a TOML file (default: the bundled ``coverage.toml``).

    Parameters
    ----------
    path : str or pathlib.Path, optional
        A TOML file with the same tables as ``geo5g/settings/coverage.toml``.

    Returns
    -------
    CoverageSettings

    Raises
    ------
    InputError
        The file cannot be read.
    DataError
        A value is missing, not a number or not positive (all problems listed).

    Examples
    --------
    >>> s = load_settings()
    >>> s.reach_m["3.5GHz"], s.rsu_range_m
    ((300.0, 1000.0), 300.0)
    """
    data, source = read_settings_toml(
        path, _DEFAULT_SETTINGS, "geo5g/settings/coverage.toml", "coverage settings"
    )

    problems: list[str] = []
    table = data.get("reach_m", {})
    if "default" not in table:
        problems.append("[reach_m.default] is missing (used for sites of unknown band)")
    reach = {}
    for band, row in table.items():
        if not isinstance(row, Mapping) or set(row) != {"urban", "rural"}:
            problems.append(f"[reach_m.{band!r}] needs exactly the keys urban and rural")
            continue
        reach[band] = (
            _positive(row["urban"], f"reach_m.{band}.urban", source, problems),
            _positive(row["rural"], f"reach_m.{band}.rural", source, problems),
        )
    env, rsu = data.get("environment", {}), data.get("rsu", {})
    gaps, ports = data.get("gaps", {}), data.get("ports", {})
    defaults = CoverageSettings(reach_m={})
    values = {
        "density_radius_m": env.get("density_radius_m", defaults.density_radius_m),
        "density_min_sites": env.get("density_min_sites", defaults.density_min_sites),
        "rsu_range_m": rsu.get("default_range_m", defaults.rsu_range_m),
        "piece_m": gaps.get("piece_m", defaults.piece_m),
        "port_sample_points": ports.get("sample_points", defaults.port_sample_points),
    }
    for key, value in values.items():
        values[key] = _positive(value, key, source, problems)
    min_gap = gaps.get("min_gap_m", defaults.min_gap_m)
    share = ports.get("min_covered_share", defaults.port_min_share)
    line_share = gaps.get("line_covered_share", defaults.line_share)
    if not isinstance(line_share, int | float) or not 0 < line_share <= 1:
        problems.append(f"gaps.line_covered_share = {line_share!r} must be in (0, 1]")
    if not isinstance(min_gap, int | float) or min_gap < 0:
        problems.append(f"gaps.min_gap_m = {min_gap!r} must be a number >= 0")
    if not isinstance(share, int | float) or not 0 < share <= 1:
        problems.append(f"ports.min_covered_share = {share!r} must be in (0, 1]")
    if problems:
        raise DataError(f"{source}: " + "; ".join(problems))
    return CoverageSettings(
        reach_m=dict(reach),
        density_radius_m=values["density_radius_m"],
        density_min_sites=int(values["density_min_sites"]),
        rsu_range_m=values["rsu_range_m"],
        min_gap_m=float(min_gap),
        piece_m=values["piece_m"],
        port_min_share=float(share),
        port_sample_points=int(values["port_sample_points"]),
        line_share=float(line_share) if isinstance(line_share, int | float) else 0.95,
        source=source,
    )


@runtime_checkable
class CoverageModel(Protocol):
    """Anything that gives each site its reach in metres.

    Implementations take the sites (a GeoDataFrame following the Sites contract,
    any CRS) and a boolean array ``urban`` aligned to its rows, and return a float64
    array of positive reaches, one per site.
    """

    def reach_m(self, sites, urban: np.ndarray) -> np.ndarray:  # pragma: no cover
        """Reach of every site in metres."""
        ...


@dataclass(frozen=True)
class BandTableModel:
    """Reach from a band × environment table; a site's ``radius_m`` overrides it.

    Parameters
    ----------
    settings : CoverageSettings
        The table is ``settings.reach_m``.

    Examples
    --------
    >>> import pandas as pd, numpy as np
    >>> model = BandTableModel(load_settings())
    >>> sites = pd.DataFrame({"band": ["3.5GHz", "700MHz", None],
    ...                       "radius_m": [np.nan, np.nan, 42.0]})
    >>> model.reach_m(sites, np.array([True, False, True])).tolist()
    [300.0, 2500.0, 42.0]
    """

    settings: CoverageSettings

    def reach_m(self, sites, urban: np.ndarray) -> np.ndarray:
        """Reach of every site in metres (see :class:`CoverageModel`)."""
        n = len(sites)
        urban = np.asarray(urban, dtype=bool)
        if urban.shape != (n,):
            raise DataError(f"urban flags: {urban.shape[0]} values for {n} sites")
        table = self.settings.reach_m
        bands = list(table)
        if "band" in sites.columns:
            # one look-up per distinct band, not per site (millions of national sites)
            distinct, labels = pd.factorize(sites["band"])
            lookup = pd.Index(bands).get_indexer(pd.Index(labels, dtype="object"))
            codes = np.where(
                distinct >= 0, lookup[np.maximum(distinct, 0)] if len(lookup) else -1, -1
            )
        else:
            codes = np.full(n, -1)
        default = bands.index("default")
        codes = np.where(codes < 0, default, codes)
        values = np.array([table[b] for b in bands], dtype="float64")  # (bands, 2)
        reach = values[codes, np.where(urban, 0, 1)]
        if "radius_m" in sites.columns:
            own = pd.to_numeric(sites["radius_m"], errors="coerce").to_numpy(
                "float64", na_value=np.nan
            )
            given = np.isfinite(own) & (own > 0)
            reach = np.where(given, own, reach)
        return reach


def urban_from_zones(x, y, zones) -> np.ndarray:
    """Urban flag of each point from the zone it lies in (``zones["urban"]``).

    Parameters
    ----------
    x, y : array_like
        Point coordinates in the zones' CRS.
    zones : geopandas.GeoDataFrame
        County zones with a boolean ``urban`` column (True for urban districts 区).

    Returns
    -------
    numpy.ndarray of bool
        False for points outside every zone (treated as rural).
    """
    from .zones import locate

    if "urban" not in zones.columns:
        raise DataError("zones: no 'urban' column; pass the county layer (level='county')")
    pos = locate(x, y, zones)
    flags = zones["urban"].to_numpy(dtype=bool, na_value=False)
    return np.where(pos >= 0, flags[np.maximum(pos, 0)], False) if len(flags) else pos >= 0


def urban_from_density(x, y, radius_m: float, min_sites: int) -> np.ndarray:
    """Urban flag of each site from the density of sites around it.

    A site is urban when at least ``min_sites`` sites (itself included) lie within
    ``radius_m`` of it (distance <= ``radius_m``, as ``sqrt(dx² + dy²)`` in float64).
    Coordinates must be in metres.

    Parameters
    ----------
    x, y : array_like
        Site coordinates in metres, finite.
    radius_m : float
        Neighbourhood radius in metres (finite, >= 0).
    min_sites : int
        Sites needed within the radius, the site itself included; 1 or less makes
        every site urban.

    Returns
    -------
    numpy.ndarray of bool
        One flag per site.

    Raises
    ------
    DataError
        ``x`` and ``y`` differ in length, a coordinate is not finite, or the radius
        is negative or not finite.

    Notes
    -----
    Millions of sites are counted with compiled kernels (numba, when installed) over
    horizontal strips of height ``radius_m``: each site scans only the x-window of
    the strips its circle reaches and stops at the ``min_sites``-th neighbour. Fewer
    sites, or no numba, use a KD-tree k-nearest query. Both give the same flags.

    Examples
    --------
    >>> urban_from_density([0, 10, 20, 5000], [0, 0, 0, 0], 100, 3).tolist()
    [True, True, True, False]
    """
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    if x.shape != y.shape:
        raise DataError(f"density rule: {x.size} x but {y.size} y coordinates; pass one per site")
    r, k = float(radius_m), int(min_sites)
    if not (np.isfinite(r) and r >= 0):
        raise DataError(f"density rule: radius_m = {radius_m!r} must be a finite number >= 0")
    if x.size == 0 or k <= 1:
        return np.ones(x.shape, dtype=bool)  # a site always counts itself
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        bad = int(np.count_nonzero(~(np.isfinite(x) & np.isfinite(y))))
        raise DataError(f"density rule: {bad} sites have no finite coordinates; drop them first")
    if k > x.size:
        return np.zeros(x.shape, dtype=bool)
    kernels = _strips.kernels() if x.size >= _STRIP_MIN_SITES else None
    if kernels is None:
        return _urban_kdtree(x, y, r, k)
    return _urban_strips(x, y, r, k, kernels)


# Below this many sites a KD-tree answers faster than loading the compiled kernels
# (~0.4 s once per process for numba itself); above it the strips win (4.8 M sites:
# ~0.5 s instead of ~3 s).
_STRIP_MIN_SITES = 500_000
_MAX_STRIPS = 1 << 20  # caps the strip table when the radius is tiny against the extent


def _urban_kdtree(x, y, r: float, k: int) -> np.ndarray:
    """Density rule by KD-tree: the k-th nearest site (itself first) is within ``r``."""
    # A k-nearest query with an upper bound is several times cheaper than counting
    # every neighbour in dense cities. An unbalanced tree builds faster, and querying
    # in the tree's own order keeps the memory access local.
    tree = cKDTree(
        np.column_stack([x.ravel(), y.ravel()]), balanced_tree=False, compact_nodes=False
    )
    order = tree.indices
    # the tree keeps only neighbours strictly nearer than its bound (compared squared):
    # a bound above r keeps every site at distance <= r, also when r = 0 (duplicates)
    bound = max(r * (1 + 1e-9), 1e-150)
    dist, _ = tree.query(tree.data[order], k=[k], distance_upper_bound=bound, workers=-1)
    urban = np.empty(x.size, dtype=bool)
    urban[order] = dist[:, 0] <= r
    return urban.reshape(x.shape)


def _within_sq(r: float) -> float:
    """Largest float64 ``t`` with ``sqrt(t) <= r``: ``d2 <= t`` iff ``sqrt(d2) <= r``."""
    t = np.float64(r) * np.float64(r)
    while np.sqrt(np.nextafter(t, np.inf)) <= r:
        t = np.nextafter(t, np.inf)
    while t > 0 and np.sqrt(t) > r:
        t = np.nextafter(t, -np.inf)
    return float(t)


def _urban_strips(x, y, r: float, k: int, kernels) -> np.ndarray:
    """Density rule by strips of height ``r`` (see :func:`urban_from_density`)."""
    by_strip, sort_strips, count_strips = kernels
    fx, fy = x.ravel(), y.ravel()
    n = fx.size
    x0, y0 = float(fx.min()), float(fy.min())
    span_x, span_y = float(fx.max()) - x0, float(fy.max()) - y0
    scale = max(abs(x0), abs(y0), abs(x0 + span_x), abs(y0 + span_y))
    # A strip is sorted by x through integer keys: x quantised to q, packed with the
    # site's position in its strip (fewer than 2**ibits sites).
    ibits = n.bit_length()
    q = max(span_x, 1e-300) / 2.0 ** (61 - ibits)
    # Float rounding (strips, windows, the quantised sort, d² underflowing below
    # 1e-300) is covered by tol, which only widens the windows: every pair within r
    # is still looked at.
    tol = 1e-9 * (scale + r) + 2 * q + 1e-150
    # Strips of height r: a site's circle reaches its own strip and the two beside it
    # (a third only at exactly r, through rounding). Taller strips when r is tiny.
    h = max(r, span_y / _MAX_STRIPS, 1e3 * tol)
    strip = ((fy - y0) / h).astype(np.int64)
    nstrips = int(strip.max()) + 1
    perm, starts, xs, ys = by_strip(strip, nstrips, fx, fy)
    del strip
    reach = 2 if h - tol <= r else 1
    offsets = np.array([0, *(s * d for d in range(1, reach + 1) for s in (-1, 1))], np.int64)

    workers = max(1, os.cpu_count() or 1)
    # blocks of strips holding about equal numbers of sites; more blocks than
    # threads so a dense block does not leave a core idle
    cuts = np.searchsorted(starts, np.linspace(0, n, 4 * workers + 1), side="left")
    cuts = np.unique(np.clip(cuts, 0, nstrips))
    cuts[0], cuts[-1] = 0, nstrips
    blocks = list(zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True))
    flags = np.empty(n, dtype=np.bool_)
    t = _within_sq(r)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(
            pool.map(lambda b: sort_strips(b[0], b[1], starts, perm, xs, ys, x0, q, ibits), blocks)
        )
        list(
            pool.map(
                lambda b: count_strips(
                    b[0], b[1], xs, ys, starts, offsets, y0, h, r, t, tol, k, flags
                ),
                blocks,
            )
        )
    urban = np.empty(n, dtype=bool)
    urban[perm] = flags
    return urban.reshape(x.shape)


def site_environment(x, y, settings: CoverageSettings, counties=None) -> np.ndarray:
    """Urban flag per site: from ``counties`` when given, else the density rule.

    Parameters
    ----------
    x, y : array_like
        Site coordinates in metres (in the counties' CRS when counties are given).
    settings : CoverageSettings
        For the density rule.
    counties : geopandas.GeoDataFrame, optional
        County zones with an ``urban`` column, in the same CRS as ``x, y``.
    """
    if counties is not None:
        return urban_from_zones(x, y, counties)
    return urban_from_density(x, y, settings.density_radius_m, settings.density_min_sites)


def point_xy(layer, crs, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of a point layer in the metric CRS ``crs`` (via :mod:`geo5g.project`).

    Raises
    ------
    CRSError
        The layer has no CRS.
    DataError
        A feature is not a single point.
    """
    require_crs(layer, name)
    if is_site_table(layer):  # lon/lat columns: points by construction
        return metric_xy(layer, crs, name)
    if not np.all(shapely.get_type_id(np.asarray(layer.geometry.values)) == 0):
        raise DataError(f"{name}: every feature must be a single point")
    # coordinates are transformed as arrays: no new Point objects for millions of sites
    return metric_xy(layer, crs, name)


def site_reach(
    sites,
    crs,
    settings: CoverageSettings,
    *,
    model: CoverageModel | None = None,
    counties=None,
    urban=None,
    xy=None,
    reach_m=None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sites in metres with their reach: ``(x, y, reach_m)``.

    Parameters
    ----------
    sites : geopandas.GeoDataFrame
        Point sites (Sites contract), any CRS.
    crs : pyproj.CRS
        The metric CRS to measure in.
    settings : CoverageSettings
    model : CoverageModel, optional
        Default :class:`BandTableModel` of ``settings``.
    counties : geopandas.GeoDataFrame, optional
        Counties with an ``urban`` flag (any CRS); else the density rule decides.
    urban : array_like of bool, optional
        Environment per site, overriding both.
    xy : tuple of array_like, optional
        The sites' coordinates already in ``crs`` (e.g. from
        :func:`geo5g.project.metric_xy`): they are not transformed again.
    reach_m : array_like, optional
        The reach per site already computed (e.g. by an earlier call): ``model``,
        ``counties`` and ``urban`` are then not consulted.

    Returns
    -------
    tuple of numpy.ndarray
        x, y (metres) and reach (metres, finite and > 0) per site.
    """
    model = model or BandTableModel(settings)
    name = sites.attrs.get("source", "sites")
    if xy is None:
        x, y = point_xy(sites, crs, name)
    else:
        x, y = (np.asarray(v, dtype="float64").ravel() for v in xy)
        if x.shape != (len(sites),) or y.shape != x.shape:
            raise DataError(f"{name}: xy must hold one coordinate pair per site")
    if reach_m is not None:
        reach = np.asarray(reach_m, dtype="float64").ravel()
        if reach.shape != x.shape or not np.all(np.isfinite(reach) & (reach > 0)):
            raise DataError(f"{name}: reach_m must be finite and > 0 for every site")
        return x, y, reach
    if urban is None:
        counties_m = None if counties is None else to_metric(counties, crs, "counties")
        urban = site_environment(x, y, settings, counties_m)
    reach = np.asarray(model.reach_m(sites, np.asarray(urban, dtype=bool)), dtype="float64")
    if reach.shape != x.shape or not np.all(np.isfinite(reach) & (reach > 0)):
        raise DataError(f"coverage model {type(model).__name__}: reach must be > 0 for every site")
    return x, y, reach


def sites_near(qx, qy, x, y, dist: float) -> np.ndarray:
    """Which points ``(x, y)`` may lie within ``dist`` of some query point ``(qx, qy)``.

    A coarse grid, no tree: cells of side ``dist`` (at least 1/2048 of the extent)
    holding a query point, and their 8 neighbours, keep the points in them. The
    answer is a superset of the points within ``dist`` (never misses one) and
    costs one pass over the points: most of a country's millions of sites are far
    from its roads or ports and need not enter any KD-tree.

    Parameters
    ----------
    qx, qy : array_like
        Query points (metres).
    x, y : array_like
        Points to filter (same CRS).
    dist : float
        Distance in metres.

    Returns
    -------
    numpy.ndarray of bool
        One flag per point of ``x, y``.

    Examples
    --------
    >>> sites_near([0.0], [0.0], [50.0, 90.0, 5000.0], [0.0, 0.0, 0.0], 100.0).tolist()
    [True, True, False]
    """
    qx, qy = np.asarray(qx, dtype="float64"), np.asarray(qy, dtype="float64")
    x, y = np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
    out = np.zeros(x.size, dtype=bool)
    q = np.isfinite(qx) & np.isfinite(qy)
    ok = np.isfinite(x) & np.isfinite(y)  # a point without coordinates is near nothing
    if not q.any() or not ok.any():
        return out
    qx, qy = qx[q], qy[q]
    px, py = (x, y) if ok.all() else (x[ok], y[ok])  # no copies of millions of sites
    x0, y0 = min(qx.min(), px.min()), min(qy.min(), py.min())
    span = max(qx.max(), px.max()) - x0, max(qy.max(), py.max()) - y0
    # a hair over dist, so that float rounding never puts two points within dist of
    # each other two cells apart
    cell = max(float(dist), max(span) / 2048.0, 1e-9) * (1.0 + 1e-9)
    inv = 1.0 / cell
    ncol = int(span[0] * inv) + 3
    grid = np.zeros((int(span[1] * inv) + 3, ncol), dtype=bool)

    def flat_cell(vx, vy):
        # one flat int32 index per point (≤ 2051² cells), built in place: a few passes
        # over millions of sites instead of two int64 pairs
        row = ((vy - y0) * inv).astype(np.int32)
        row += 1
        row *= ncol
        col = ((vx - x0) * inv).astype(np.int32)
        row += col
        row += 1
        return row

    cells = flat_cell(qx, qy)
    flat = grid.ravel()
    if 9 * cells.size < grid.size:
        # few query points (a country's ports): mark their 3 × 3 blocks directly,
        # cheaper than dilating a grid of millions of cells
        for dr in (-ncol, 0, ncol):
            for dc in (-1, 0, 1):
                flat[cells + (dr + dc)] = True
    else:
        flat[cells] = True
        flat = ndimage.binary_dilation(grid, structure=np.ones((3, 3), dtype=bool)).ravel()
    out[ok] = flat[flat_cell(px, py)]
    return out
