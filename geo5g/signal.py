"""Best-server SS-RSRP on a raster grid, from the TR 38.901 link budget.

:mod:`geo5g.linkbudget` answers "how far does each site reach"; this module
answers "what signal does a UE see here". The signal of site *i* at ground
distance *d* is the SS-RSRP a UE receives there with the model's cell-edge
probability *p* (the same quantity the reach is solved for)::

    RSRP_i(d) = B_i − PL_i(d) − L_pen − Φ⁻¹(p) · sqrt(σ_SF(d)² + σ_pen²)

with ``B_i`` = EIRP per resource element + UE antenna gain − body loss, ``PL_i``
the TR 38.901 path loss of the site's scenario, ``L_pen``/``σ_pen`` the mean and
σ of the service's penetration loss. So ``RSRP_i(reach_i)`` is the RSRP
threshold wherever the reach is set by the budget (not clamped to the validity
distances)::

    model = LinkBudgetModel(load_link_budget(), service="indoor")
    params = site_rsrp_params(model, sites, urban)      # per-site terms
    rsrp_dbm(params, 500.0)                             # dBm, one per site
    signal_raster(sites, model, urban, bounds=..., crs=..., out="rsrp.tif")
    population_covered_by_signal("rsrp.tif", "worldpop.tif", zones, -105.0)

:func:`signal_raster` takes, per pixel, the maximum over sites (best server),
the operator of that site and the number of operators whose users see the
threshold there with China's network sharing applied
(:meth:`geo5g.sharing.Sharing.serves`). The grid is cut into tiles computed
independently with dask (threads locally, or a ``distributed`` cluster), and a
GeoTIFF is written tile by tile, so a raster larger than memory works.

Decisions, stated once here:

* A site's signal is the physics of its budget: its ``radius_m`` (an override
  of the reach in :class:`~geo5g.linkbudget.LinkBudgetModel`) does not change it.
* Below the shortest valid distance of the path-loss model (10 m) the signal is
  that at 10 m; beyond the longest (5 km, RMa LOS 10 km) there is none (NaN).
* A site contributes only within its *cutoff*: the distance where its RSRP is
  :data:`FLOOR_DB` (30 dB) below the threshold, or the longest valid distance if
  that comes first. A pixel no site's cutoff reaches is nodata (NaN). A site
  that is 30 dB below the threshold already at 10 m contributes nothing.
* Distances are measured in the grid's CRS and divided by the point scale factor
  at the site, ``sqrt(h · k)`` of PROJ's factors: exact for conformal projections
  (the transverse Mercator of :func:`geo5g.project.metric_crs`); use one.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj.exceptions
import rasterio
import rasterio.crs
import rasterio.enums
import rasterio.errors
import rasterio.features
import rasterio.windows
import shapely
import shapely.geometry
from affine import Affine
from pyproj import CRS, Proj
from scipy.spatial import cKDTree
from scipy.special import ndtri

from .errors import CRSError, DataError, InputError
from .linkbudget import (
    SCENARIOS,
    SERVICES,
    VALIDITY,
    LinkBudgetModel,
    _pl,
    _sigma_sf,
)
from .outputs import atomic_path
from .popcover import _check_counts, _check_transform, _values
from .project import is_site_table, points_xy, require_crs, transform_xy
from .sharing import Sharing, load_sharing
from .vocabulary import OPERATORS, normalise_operator

__all__ = [
    "BAND_DESCRIPTIONS",
    "FLOOR_DB",
    "RsrpParams",
    "SignalGrid",
    "population_covered_by_signal",
    "rsrp_dbm",
    "signal_raster",
    "site_rsrp_params",
]

#: A site contributes to a pixel while its RSRP is at most this far below the threshold.
FLOOR_DB = 30.0

#: Descriptions of the bands of the GeoTIFF written by :func:`signal_raster`.
BAND_DESCRIPTIONS = (
    "SS-RSRP of the best server (dBm)",
    "operator of the best server (1 China Mobile, 2 China Unicom, 3 China Telecom, "
    "4 China Broadnet, 0 none)",
    "operators whose users see SS-RSRP >= threshold (sharing applied)",
)

_BLOCK_PX = 64  # pixels per side of the blocks a tile is computed in
_MAX_PAIRS = 2**20  # pixel × site pairs per chunk: a few tens of MB of temporaries
_TILES_PER_BATCH = 64  # tiles in flight (≤ 1.5 MB of results each at 512 px)
_GDAL_CACHE_BYTES = 256 * 2**20  # block cache while writing: partial blocks stay in it
_GTIFF_BLOCK = 512
_POP_PIXELS_PER_BAND = 2**22  # population pixels per band of rows
_POPCOUNT = np.array([bin(i).count("1") for i in range(16)], dtype=np.uint8)
_LOCAL_SCHEDULERS = ("threads", "sync", "synchronous", "single-threaded", "processes")


# --------------------------------------------------------------------------- per site


@dataclass(frozen=True)
class RsrpParams:
    """Per-site terms of the SS-RSRP formula (arrays aligned with the sites).

    Attributes
    ----------
    band : numpy.ndarray of str
        Band label the model uses for the site (missing or unknown → default band).
    fc_ghz, h_bs_m, h_ut_m : numpy.ndarray
        Carrier frequency (GHz), BS height (clamped into the scenario's range) and
        UE height (m).
    scenario : numpy.ndarray of int
        Index into :data:`geo5g.linkbudget.SCENARIOS`.
    budget_dbm : numpy.ndarray
        EIRP per resource element + UE antenna gain − body loss (dBm).
    penetration_db, sigma_pen_db : numpy.ndarray
        Mean and σ of the service's penetration loss (dB).
    reach_m : numpy.ndarray
        Distance where the RSRP meets the threshold (the model's reach, without a
        site's ``radius_m`` override).
    limit : numpy.ndarray of str
        What ended the reach ("mapl", "max-distance", "min-distance", "sf-step"),
        as in :meth:`geo5g.linkbudget.LinkBudgetModel.table`.
    cutoff_m : numpy.ndarray
        Distance beyond which the site contributes nothing (0: nowhere).
    d_min_m, d_max_m : numpy.ndarray
        Validity distances of the site's path-loss model.
    z : float
        Φ⁻¹(p) of the model's cell-edge probability.
    threshold_dbm : float
        The RSRP threshold of the settings.
    los : str
        Propagation condition (:data:`geo5g.linkbudget.LOS_MODES`).
    building_height_m, street_width_m : float
        RMa's h and W.
    """

    band: np.ndarray
    fc_ghz: np.ndarray
    scenario: np.ndarray
    h_bs_m: np.ndarray
    h_ut_m: np.ndarray
    budget_dbm: np.ndarray
    penetration_db: np.ndarray
    sigma_pen_db: np.ndarray
    reach_m: np.ndarray
    limit: np.ndarray
    cutoff_m: np.ndarray
    d_min_m: np.ndarray
    d_max_m: np.ndarray
    z: float
    threshold_dbm: float
    los: str
    building_height_m: float
    street_width_m: float

    def __len__(self) -> int:
        return int(self.fc_ghz.shape[0])

    def take(self, index) -> RsrpParams:
        """The parameters of the sites at ``index`` (positions), in that order.

        Fields that are not arrays (the scalars) are kept as they are.
        """
        index = np.asarray(index)
        arrays = {
            f.name: getattr(self, f.name)[index]
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }
        return dataclasses.replace(self, **arrays)

    def to_frame(self) -> pd.DataFrame:
        """The per-site arrays as a table (scenario as its name)."""
        columns = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }
        columns["scenario"] = np.asarray(SCENARIOS, dtype=object)[self.scenario]
        return pd.DataFrame(columns)


def _combinations(*parts) -> tuple[np.ndarray, np.ndarray]:
    """Code of each row's distinct combination of ``parts``, and each code's first row.

    The packing of :meth:`LinkBudgetModel.reach_m`: factorize each part, pack the
    codes into one int64, factorize that.
    """
    n = len(parts[0])
    key = np.zeros(n, dtype="int64")
    for part in parts:
        codes, uniques = pd.factorize(part)
        key = key * len(uniques) + codes
    combo, uniques = pd.factorize(key)
    first = np.empty(len(uniques), dtype=np.int64)
    first[combo[::-1]] = np.arange(n - 1, -1, -1)  # the earliest row of a code is written last
    return combo, first


def site_rsrp_params(
    model: LinkBudgetModel, sites, urban, *, floor_db: float = FLOOR_DB
) -> RsrpParams:
    """The terms of each site's SS-RSRP formula, as the link-budget model derives them.

    Parameters
    ----------
    model : geo5g.linkbudget.LinkBudgetModel
        Settings, service, cell-edge probability and propagation condition.
    sites : pandas.DataFrame
        The site table (optional columns ``band``, ``scenario``, ``height_m``,
        ``eirp_dbm``, ``tx_power_dbm``, ``antenna_gain_dbi``, as for
        :meth:`~geo5g.linkbudget.LinkBudgetModel.reach_m`).
    urban : array_like of bool
        Whether each site is urban (UMa/UMi) or rural (RMa).
    floor_db : float, default :data:`FLOOR_DB`
        The cutoff is where the RSRP falls this far below the threshold.

    Returns
    -------
    RsrpParams

    Notes
    -----
    Band, scenario, BS height and EIRP follow
    :meth:`~geo5g.linkbudget.LinkBudgetModel.reach_m` exactly (the same helpers,
    the same clamping and fallbacks); the frequency, resource-element offset,
    penetration and reach come from the model's own solver, once per distinct
    combination. The cutoff is the same solver's reach for a threshold lowered by
    ``floor_db``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from geo5g.linkbudget import load_link_budget
    >>> p = site_rsrp_params(LinkBudgetModel(load_link_budget()),
    ...                      pd.DataFrame({"band": ["3.5GHz"]}), np.array([True]))
    >>> round(float(p.budget_dbm[0]), 2), p.reach_m.round(0).tolist()   # 77 − 10·log10(12·273)
    (41.85, [863.0])
    """
    if not isinstance(model, LinkBudgetModel):
        raise DataError(
            f"model = {type(model).__name__} is not a LinkBudgetModel; "
            "pass LinkBudgetModel(load_link_budget())"
        )
    floor = float(floor_db)
    if not (math.isfinite(floor) and floor >= 0):
        raise DataError(f"floor_db = {floor_db!r} must be a finite number of dB >= 0")
    n = len(sites)
    urban = np.asarray(urban, dtype=bool)
    if urban.shape != (n,):
        raise DataError(f"urban flags: {urban.shape[0]} values for {n} sites; pass one per site")
    s = model.settings
    names = list(s.bands)
    band, scenario, h_bs, eirp = model.site_inputs(sites, urban)
    # --- the model's solver, once per distinct combination
    combo, first = _combinations(band, scenario, h_bs, eirp)
    args = (band[first], scenario[first], h_bs[first], eirp[first])
    service = np.full(first.size, SERVICES.index(model.service))
    solved = model._solve(*args, service)
    lowered = dataclasses.replace(s, rsrp_threshold_dbm=s.rsrp_threshold_dbm - floor)
    far = dataclasses.replace(model, settings=lowered)._solve(*args, service)
    mode = "d2d_m_los" if model.los == "los" else "d2d_m_nlos"
    d_min = np.array([VALIDITY[x][mode][0] for x in SCENARIOS])[scenario]
    d_max = np.array([VALIDITY[x][mode][1] for x in SCENARIOS])[scenario]
    cutoff = np.where(far["limit"] == "min-distance", 0.0, far["reach_m"])[combo]
    return RsrpParams(
        band=np.asarray(names, dtype=object)[band],
        fc_ghz=solved["fc_ghz"][combo],
        scenario=np.asarray(scenario, dtype=np.int64),
        h_bs_m=np.asarray(h_bs, dtype="float64"),
        h_ut_m=solved["h_ut_m"][combo],
        budget_dbm=eirp - solved["re_offset_db"][combo] + s.ue_antenna_gain_dbi - s.body_loss_db,
        penetration_db=solved["penetration_db"][combo],
        sigma_pen_db=solved["sigma_pen_db"][combo],
        reach_m=solved["reach_m"][combo],
        limit=solved["limit"][combo],
        cutoff_m=cutoff,
        d_min_m=d_min,
        d_max_m=d_max,
        z=float(ndtri(model.probability)),
        threshold_dbm=float(s.rsrp_threshold_dbm),
        los=model.los,
        building_height_m=float(s.building_height_m),
        street_width_m=float(s.street_width_m),
    )


def _rsrp(params: RsrpParams, d: np.ndarray) -> np.ndarray:
    """RSRP (dBm) for distances broadcast against the sites on the last axis, no checks."""
    shape = np.broadcast_shapes(d.shape, (len(params),))
    d = np.broadcast_to(d, shape)
    out = np.full(shape, np.nan)
    h, w = params.building_height_m, params.street_width_m
    for code, name in enumerate(SCENARIOS):  # three scenarios
        sel = np.flatnonzero(params.scenario == code)
        if sel.size == 0:
            continue
        dd = d[..., sel]
        at = np.maximum(dd, params.d_min_m[sel])  # the 10 m value below 10 m
        fc, h_bs, h_ut = params.fc_ghz[sel], params.h_bs_m[sel], params.h_ut_m[sel]
        pl = _pl(name, params.los, at, fc, h_bs, h_ut, h, w)
        sf = _sigma_sf(name, params.los, at, fc, h_bs, h_ut)
        sigma = np.sqrt(np.square(sf) + np.square(params.sigma_pen_db[sel]))
        value = params.budget_dbm[sel] - pl - params.penetration_db[sel] - params.z * sigma
        out[..., sel] = np.where(dd <= params.d_max_m[sel], value, np.nan)
    return out


def rsrp_dbm(params: RsrpParams, d2d_m) -> np.ndarray:
    """SS-RSRP (dBm) of each site at ground distance ``d2d_m``, at the cell-edge probability.

    Parameters
    ----------
    params : RsrpParams
        From :func:`site_rsrp_params`.
    d2d_m : array_like
        Ground distances in metres (≥ 0), broadcast against the sites along the
        last axis: a scalar, one per site, or ``(..., n_sites)``.

    Returns
    -------
    numpy.ndarray
        ``budget − PL(d) − penetration − Φ⁻¹(p) · sqrt(σ_SF(d)² + σ_pen²)``;
        below the shortest valid distance the value at it, beyond the longest NaN.
        Non-increasing in ``d``; equal to the threshold at the reach where the
        reach's ``limit`` is "mapl".

    Raises
    ------
    DataError
        A distance is negative.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from geo5g.linkbudget import load_link_budget
    >>> p = site_rsrp_params(LinkBudgetModel(load_link_budget()),
    ...                      pd.DataFrame({"band": ["3.5GHz"]}), np.array([True]))
    >>> rsrp_dbm(p, p.reach_m).round(6).tolist()
    [-105.0]
    """
    d = np.asarray(d2d_m, dtype="float64")
    if (d < 0).any():
        raise DataError(f"d2d_m = {float(d[d < 0].flat[0]):g} is negative; distances are >= 0 m")
    try:
        return _rsrp(params, d)
    except ValueError:
        raise DataError(
            f"d2d_m of shape {d.shape} does not broadcast against {len(params)} sites; "
            "give one distance, one per site, or (..., n_sites)"
        ) from None


# --------------------------------------------------------------------------- tiles


@dataclass(frozen=True)
class _Sites:
    """The sites one tile needs: positions in the grid CRS and what the tile computes."""

    x: np.ndarray
    y: np.ndarray
    scale: np.ndarray  # point scale factor k: projected length = k · ground length
    reach: np.ndarray  # cutoff in projected units (cutoff_m · k)
    operator: np.ndarray  # uint8 code, 0 unknown
    serves: np.ndarray  # uint8 bit k: serves the users of OPERATORS[k]
    params: RsrpParams
    coef: np.ndarray | None = None  # (n, _NCOEF) terms of the compiled kernel, or None


@dataclass(frozen=True)
class _Tile:
    row: int
    col: int
    height: int
    width: int
    transform: tuple[float, ...]


def _rect_distance(x, y, x0, x1, y0, y1):
    """Distance from points to the rectangle [x0, x1] × [y0, y1] (0 inside)."""
    dx = np.maximum(np.maximum(x0 - x, x - x1), 0.0)
    dy = np.maximum(np.maximum(y0 - y, y - y1), 0.0)
    return np.hypot(dx, dy)


def _compute_tile_numpy(tile: _Tile, sites: _Sites):
    """Best RSRP, operator and operator count of one tile with numpy (the reference)."""
    t = Affine(*tile.transform)
    xs = t.c + (tile.col + np.arange(tile.width) + 0.5) * t.a
    ys = t.f + (tile.row + np.arange(tile.height) + 0.5) * t.e
    rsrp = np.full((tile.height, tile.width), np.nan, dtype=np.float32)
    operator = np.zeros((tile.height, tile.width), dtype=np.uint8)
    count = np.zeros((tile.height, tile.width), dtype=np.uint8)
    threshold = sites.params.threshold_dbm
    for r0 in range(0, tile.height, _BLOCK_PX):  # blocks of a tile, never single pixels
        r1 = min(r0 + _BLOCK_PX, tile.height)
        for c0 in range(0, tile.width, _BLOCK_PX):
            c1 = min(c0 + _BLOCK_PX, tile.width)
            bx, by = np.meshgrid(xs[c0:c1], ys[r0:r1])
            bx, by = bx.ravel(), by.ravel()
            near = np.flatnonzero(
                _rect_distance(sites.x, sites.y, xs[c0], xs[c1 - 1], by.min(), by.max())
                <= sites.reach
            )
            if near.size == 0:
                continue
            best = np.full(bx.size, -np.inf)
            arg = np.full(bx.size, -1, dtype=np.int64)
            bits = np.zeros(bx.size, dtype=np.uint8)
            step = max(1, _MAX_PAIRS // bx.size)
            for start in range(0, near.size, step):  # chunks of sites, for memory
                j = near[start : start + step]
                dist = np.hypot(bx[:, None] - sites.x[j], by[:, None] - sites.y[j])
                pix, col = np.nonzero(dist <= sites.reach[j])
                value = _rsrp(sites.params.take(j[col]), dist[pix, col] / sites.scale[j[col]])
                grid = np.full(dist.shape, -np.inf)
                grid[pix, col] = np.where(np.isnan(value), -np.inf, value)
                top = grid.argmax(axis=1)
                high = grid[np.arange(bx.size), top]
                better = high > best  # strict: the earlier site keeps a tie
                best[better] = high[better]
                arg[better] = j[top[better]]
                ok = np.where(grid >= threshold, sites.serves[j], np.uint8(0))
                bits |= np.bitwise_or.reduce(ok, axis=1)
            hit = arg >= 0
            block = (slice(r0, r1), slice(c0, c1))
            rsrp[block] = np.where(hit, best, np.nan).reshape(r1 - r0, c1 - c0)
            operator[block] = np.where(hit, sites.operator[np.maximum(arg, 0)], 0).reshape(
                r1 - r0, c1 - c0
            )
            count[block] = _POPCOUNT[bits].reshape(r1 - r0, c1 - c0)
    return tile.row, tile.col, rsrp, operator, count


# --------------------------------------------------------------------------- compiled kernel

try:
    import numba as _numba
except ImportError:  # the numpy reference computes the tiles then
    _numba = None


def _jit(func):
    """numba.njit(cache=True, nogil=True) of ``func`` (compiled at the first call), or it."""
    return func if _numba is None else _numba.njit(cache=True, nogil=True)(func)


# Columns of the per-site terms (:func:`_coefficients`) the kernel computes RSRP from.
(_K, _DMIN, _DMAX, _DH2, _DBP, _C1, _S1, _G, _C2, _C3, _S3, _SIGA, _SIGB, _SCEN, _CPRIME) = range(
    15
)
_NCOEF = 15
_LOS_CODE = {"nlos": 0, "los": 1, "weighted": 2}
#: Block sizes (pixels) of the kernel: sites are filtered per 64-px block, then the
#: 16-px and 4-px blocks inside keep only the sites that can matter there.
_LEVELS = np.array([64, 16, 4], dtype=np.int64)
#: Slack (dB) of the block bounds, far above rounding and the model's tiny steps.
_PRUNE_MARGIN_DB = 0.05


def _coefficients(params: RsrpParams) -> np.ndarray:
    """Per-site terms of :func:`_rsrp` rearranged for the kernel: (n, _NCOEF) float64.

    With ``L = log10(d3D)`` every path loss of Table 7.4.1-1 is ``c + s · L`` (RMa LOS
    PL1 adds ``g · d3D``) on each side of the breakpoint; the constants are folded
    here once per site, so a pixel × site pair costs one sqrt and one log10.
    """
    n = len(params)
    fc, h_bs, h_ut = params.fc_ghz, params.h_bs_m, params.h_ut_m
    h, w = params.building_height_m, params.street_width_m
    sc = np.asarray(params.scenario)
    uma, rma = sc == SCENARIOS.index("UMa"), sc == SCENARIOS.index("RMa")
    cf = np.zeros((n, _NCOEF))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        dh2 = np.square(h_bs - h_ut)
        lf = np.log10(fc)
        dbp = np.where(
            rma,
            2.0 * np.pi * h_bs * h_ut * (fc * 1e9) / 3.0e8,
            4.0 * (h_bs - 1.0) * (h_ut - 1.0) * (fc * 1e9) / 3.0e8,
        )
        # UMa / UMi LOS: a + n1 L + 20 log10 fc; a + 40 L + 20 log10 fc − k log10(d'BP² + Δh²)
        a = np.where(uma, 28.0, 32.4)
        c1 = a + 20.0 * lf
        s1 = np.where(uma, 22.0, 21.0)
        c2 = a + 20.0 * lf - np.where(uma, 9.0, 9.5) * np.log10(np.square(dbp) + dh2)
        # RMa LOS: PL1 = 20 log10(40π fc/3) + (20 + m) L − min(0.044 h^1.72, 14.77) + g d3D
        m = min(0.03 * h**1.72, 10.0)
        c1_rma = 20.0 * np.log10(40.0 * np.pi * fc / 3.0) - min(0.044 * h**1.72, 14.77)
        g = 0.002 * np.log10(h)
        pl1_bp = c1_rma + (20.0 + m) * np.log10(dbp) + g * dbp
        cf[:, _C1] = np.where(rma, c1_rma, c1)
        cf[:, _S1] = np.where(rma, 20.0 + m, s1)
        cf[:, _G] = np.where(rma, g, 0.0)
        cf[:, _C2] = np.where(rma, pl1_bp - 40.0 * np.log10(dbp), c2)
        # PL'_NLOS
        s3_rma = 43.42 - 3.1 * np.log10(h_bs)
        c3_rma = (
            161.04
            - 7.1 * np.log10(w)
            + 7.5 * np.log10(h)
            - (24.37 - 3.7 * np.square(h / h_bs)) * np.log10(h_bs)
            - 3.0 * s3_rma
            + 20.0 * lf
            - (3.2 * np.square(np.log10(11.75 * h_ut)) - 4.97)
        )
        c3 = np.where(
            uma, 13.54 + 20.0 * lf - 0.6 * (h_ut - 1.5), 22.4 + 21.3 * lf - 0.3 * (h_ut - 1.5)
        )
        cf[:, _C3] = np.where(rma, c3_rma, c3)
        cf[:, _S3] = np.where(rma, s3_rma, np.where(uma, 39.08, 35.3))
        if params.los == "los":
            sf_a, sf_b = np.full(n, 4.0), np.where(rma, 6.0, 4.0)
        else:
            sf_a = sf_b = np.array([6.0, 7.82, 8.0])[sc]
        sp2 = np.square(params.sigma_pen_db)
        cf[:, _SIGA] = np.sqrt(np.square(sf_a) + sp2)
        cf[:, _SIGB] = np.sqrt(np.square(sf_b) + sp2)
        cf[:, _CPRIME] = np.where(
            h_ut <= 13.0, 0.0, np.power(np.maximum(h_ut - 13.0, 0.0) / 10.0, 1.5)
        )
    cf[:, _K] = params.budget_dbm - params.penetration_db
    cf[:, _DMIN], cf[:, _DMAX] = params.d_min_m, params.d_max_m
    cf[:, _DH2], cf[:, _DBP] = dh2, dbp
    cf[:, _SCEN] = sc
    return cf


def _may_prune(params: RsrpParams) -> bool:
    """Whether every site's RSRP is non-increasing in distance (the kernel's block bounds).

    It is, up to steps far below :data:`_PRUNE_MARGIN_DB`, unless the cell-edge
    probability is below 0.5 (a larger LOS σ beyond the breakpoint would raise the
    RSRP) or the LOS probability of UMa grows with distance (weighted, hUT > 13 m).
    """
    if params.z < 0:
        return False
    if params.los == "weighted":
        uma = np.asarray(params.scenario) == SCENARIOS.index("UMa")
        return not bool((params.h_ut_m[uma] > 13.0).any())
    return True


@_jit
def _p_los_scalar(scen, d, cprime):
    # TR 38.901 Table 7.4.2-1 at one distance, as geo5g.linkbudget._p_los
    if scen == 2.0:
        return 1.0 if d <= 10.0 else math.exp(-(d - 10.0) / 1000.0)
    if d <= 18.0:
        return 1.0
    if scen == 1.0:
        return 18.0 / d + math.exp(-d / 36.0) * (1.0 - 18.0 / d)
    return (18.0 / d + math.exp(-d / 63.0) * (1.0 - 18.0 / d)) * (
        1.0 + cprime * 1.25 * (d / 100.0) ** 3 * math.exp(-d / 150.0)
    )


@_jit
def _value(cf, j, d, z, mode):
    # RSRP of site j at ground distance d, as _rsrp: NaN beyond the longest valid distance
    if not d <= cf[j, _DMAX]:
        return np.nan
    at = max(d, cf[j, _DMIN])
    d3 = math.sqrt(at * at + cf[j, _DH2])
    lg = math.log10(d3)
    if at <= cf[j, _DBP]:
        los = cf[j, _C1] + cf[j, _S1] * lg + cf[j, _G] * d3
        sig = cf[j, _SIGA]
    else:
        los = cf[j, _C2] + 40.0 * lg
        sig = cf[j, _SIGB]
    if mode == 1:
        pl = los
    else:
        nl = cf[j, _C3] + cf[j, _S3] * lg
        nlos = nl if nl > los else los
        if mode == 0:
            pl = nlos
        else:
            p = _p_los_scalar(cf[j, _SCEN], at, cf[j, _CPRIME])
            pl = -10.0 * math.log10(p * 10.0 ** (-los / 10.0) + (1.0 - p) * 10.0 ** (-nlos / 10.0))
    return cf[j, _K] - pl - z * sig


@_jit
def _select(cand, m, out, ub, x0, x1, y0, y1, sx, sy, scale, reach, serves, cf, z, mode,
            thr, prune, margin, base):  # fmt: skip
    # the sites of cand[:m] whose cutoff reaches the block [x0, x1] × [y0, y1] of pixel
    # centres into out; with prune, only those that may be the best server somewhere in
    # it or add an operator not yet served everywhere in it. Returns (count, served bits).
    k = 0
    lb = -np.inf
    certain = 0
    for i in range(m):
        j = cand[i]
        dx = max(x0 - sx[j], sx[j] - x1, 0.0)
        dy = max(y0 - sy[j], sy[j] - y1, 0.0)
        dn = math.sqrt(dx * dx + dy * dy)
        r = reach[j]
        if dn > r * (1.0 + 1e-9):
            continue
        if prune:
            u = _value(cf, j, dn * (1.0 - 1e-12) / scale[j], z, mode)
            if math.isnan(u):  # beyond the longest valid distance everywhere
                u = -np.inf
            fx = max(abs(sx[j] - x0), abs(sx[j] - x1))
            fy = max(abs(sy[j] - y0), abs(sy[j] - y1))
            df = math.sqrt(fx * fx + fy * fy) * (1.0 + 1e-12)
            if df <= r:  # the site reaches the whole block, at least with this
                low = _value(cf, j, df / scale[j], z, mode)
                if not math.isnan(low):
                    if low > lb:
                        lb = low
                    if low >= thr + margin:
                        certain |= np.int64(serves[j])
            ub[k] = u
        out[k] = j
        k += 1
    if not prune:
        return k, base
    served = base | certain
    kept = 0
    for i in range(k):
        u = ub[i]
        j = out[i]
        if u >= lb - margin or (u >= thr - margin and (np.int64(serves[j]) & ~served) != 0):
            out[kept] = j
            kept += 1
    return kept, served


@_jit
def _tile_kernel(xs, ys, sx, sy, scale, reach, serves, cf, z, mode, thr, prune, levels,
                 margin, rsrp, arg, count, popcount):  # fmt: skip
    # best RSRP (float32, left NaN where no site reaches), index of the best site (-1
    # none) and operator count of the pixels xs × ys, from the sites (sx, sy)
    n = sx.size
    height, width = ys.size, xs.size
    reach2 = np.empty(n)
    for j in range(n):
        reach2[j] = (reach[j] * (1.0 + 1e-9)) ** 2
    every = np.arange(n)
    l0 = np.empty(n, np.int64)
    l1 = np.empty(n, np.int64)
    l2 = np.empty(n, np.int64)
    ub = np.empty(n)
    b0, b1, b2 = levels[0], levels[1], levels[2]
    for r0 in range(0, height, b0):
        r1 = min(r0 + b0, height)
        for c0 in range(0, width, b0):
            c1 = min(c0 + b0, width)
            y0, y1 = min(ys[r0], ys[r1 - 1]), max(ys[r0], ys[r1 - 1])
            k0, s0 = _select(every, n, l0, ub, xs[c0], xs[c1 - 1], y0, y1, sx, sy, scale,
                             reach, serves, cf, z, mode, thr, False, margin, 0)  # fmt: skip
            if k0 == 0:
                continue
            for q0 in range(r0, r1, b1):
                q1 = min(q0 + b1, r1)
                for p0 in range(c0, c1, b1):
                    p1 = min(p0 + b1, c1)
                    y0, y1 = min(ys[q0], ys[q1 - 1]), max(ys[q0], ys[q1 - 1])
                    k1, s1 = _select(l0, k0, l1, ub, xs[p0], xs[p1 - 1], y0, y1, sx, sy,
                                     scale, reach, serves, cf, z, mode, thr, prune, margin,
                                     s0)  # fmt: skip
                    if k1 == 0:
                        continue
                    for u0 in range(q0, q1, b2):
                        u1 = min(u0 + b2, q1)
                        for v0 in range(p0, p1, b2):
                            v1 = min(v0 + b2, p1)
                            y0, y1 = min(ys[u0], ys[u1 - 1]), max(ys[u0], ys[u1 - 1])
                            k2, s2 = _select(l1, k1, l2, ub, xs[v0], xs[v1 - 1], y0, y1, sx,
                                             sy, scale, reach, serves, cf, z, mode, thr,
                                             prune, margin, s1)  # fmt: skip
                            for row in range(u0, u1):
                                py = ys[row]
                                for col in range(v0, v1):
                                    px = xs[col]
                                    best = -np.inf
                                    top = -1
                                    bits = s2
                                    for q in range(k2):
                                        j = l2[q]
                                        dx = px - sx[j]
                                        dy = py - sy[j]
                                        if dx * dx + dy * dy > reach2[j]:
                                            continue
                                        dist = math.hypot(dx, dy)
                                        if dist > reach[j]:
                                            continue
                                        v = _value(cf, j, dist / scale[j], z, mode)
                                        if v > best:  # strict: the earlier site keeps a tie
                                            best = v
                                            top = j
                                        if v >= thr:
                                            bits |= np.int64(serves[j])
                                    if top >= 0:
                                        rsrp[row, col] = best
                                        arg[row, col] = top
                                    count[row, col] = popcount[bits]


def _kernel():
    """:func:`_tile_kernel` compiled by numba (cached on disk), or None without numba."""
    return _tile_kernel if _numba is not None else None


def _compute_tile(tile: _Tile, sites: _Sites):
    """Best RSRP, its operator and the operator count of one tile (float32, uint8, uint8).

    The compiled kernel (:func:`_kernel`) when numba is there, else the numpy
    reference :func:`_compute_tile_numpy`; both give the same pixels.
    """
    kernel = _kernel()
    if kernel is None:
        return _compute_tile_numpy(tile, sites)
    t = Affine(*tile.transform)
    xs = t.c + (tile.col + np.arange(tile.width) + 0.5) * t.a
    ys = t.f + (tile.row + np.arange(tile.height) + 0.5) * t.e
    rsrp = np.full((tile.height, tile.width), np.nan, dtype=np.float32)
    operator = np.zeros((tile.height, tile.width), dtype=np.uint8)
    count = np.zeros((tile.height, tile.width), dtype=np.uint8)
    if sites.x.size:
        p = sites.params
        coef = sites.coef if sites.coef is not None else _coefficients(p)
        arg = np.full((tile.height, tile.width), -1, dtype=np.int64)
        kernel(
            xs, ys,
            np.ascontiguousarray(sites.x, dtype=np.float64),
            np.ascontiguousarray(sites.y, dtype=np.float64),
            np.ascontiguousarray(sites.scale, dtype=np.float64),
            np.ascontiguousarray(sites.reach, dtype=np.float64),
            np.ascontiguousarray(sites.serves, dtype=np.uint8),
            np.ascontiguousarray(coef, dtype=np.float64),
            float(p.z), _LOS_CODE[p.los], float(p.threshold_dbm), _may_prune(p),
            _LEVELS, _PRUNE_MARGIN_DB, rsrp, arg, count, _POPCOUNT,
        )  # fmt: skip
        operator = np.where(arg >= 0, sites.operator[np.maximum(arg, 0)], 0).astype(np.uint8)
    return tile.row, tile.col, rsrp, operator, count


# --------------------------------------------------------------------------- the raster


@dataclass(frozen=True)
class SignalGrid:
    """The bands of :func:`signal_raster` in memory.

    Attributes
    ----------
    rsrp_dbm : numpy.ndarray of float32
        Best-server SS-RSRP (dBm); NaN where no site reaches.
    operator : numpy.ndarray of uint8
        Operator of the best server, 1..4 in :data:`geo5g.vocabulary.OPERATORS`
        order, 0 none.
    operators : numpy.ndarray of uint8
        Operators whose users see RSRP ≥ threshold (sharing applied).
    transform : affine.Affine
        North-up geotransform of the grid.
    crs : pyproj.CRS
        The grid's CRS.
    threshold_dbm : float
        The RSRP threshold of the model.
    """

    rsrp_dbm: np.ndarray
    operator: np.ndarray
    operators: np.ndarray
    transform: Affine
    crs: CRS
    threshold_dbm: float


def _grid_crs(crs) -> CRS:
    try:
        out = CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(f"crs = {crs!r} is not a CRS ({exc}); pass metric_crs(bounds)") from None
    factors = [axis.unit_conversion_factor for axis in out.axis_info[:2]]
    if not out.is_projected or len(factors) < 2 or not np.allclose(factors, 1.0):
        raise CRSError(
            f"crs = {out.to_string()} is not a projected CRS in metres; "
            "pass geo5g.project.metric_crs(bounds)"
        )
    return out


def _grid(bounds, resolution_m) -> tuple[Affine, int, int]:
    try:
        x0, y0, x1, y1 = (float(v) for v in bounds)
    except (TypeError, ValueError):
        raise DataError(f"bounds = {bounds!r} is not (minx, miny, maxx, maxy)") from None
    res = float(resolution_m)
    if not (math.isfinite(res) and res > 0):
        raise DataError(f"resolution_m = {resolution_m!r} must be a positive number of metres")
    if not (np.isfinite([x0, y0, x1, y1]).all() and x1 > x0 and y1 > y0):
        raise DataError(
            f"bounds = {tuple(bounds)!r} must be finite (minx, miny, maxx, maxy) with max > min"
        )
    width = math.ceil((x1 - x0) / res - 1e-9)
    height = math.ceil((y1 - y0) / res - 1e-9)
    return Affine(res, 0.0, x0, 0.0, -res, y1), height, width


def _scale_factors(x, y, crs: CRS) -> np.ndarray:
    """Point scale factor sqrt(h · k) of ``crs`` at projected points (1 where undefined)."""
    out = np.ones(x.shape)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return out
    lon, lat = transform_xy(x[ok], y[ok], crs, crs.geodetic_crs)
    f = Proj(crs).get_factors(lon, lat)
    k = np.sqrt(np.asarray(f.meridional_scale) * np.asarray(f.parallel_scale))
    out[ok] = np.where(np.isfinite(k) & (k > 0), k, 1.0)
    return out


def _operator_bits(sites, params: RsrpParams, operators, sharing: Sharing):
    """Operator code (uint8) of each site, and the bits of the operators it serves."""
    if "operator" not in sites.columns:
        raise DataError(
            "sites: no operator column; add one (China Mobile, China Unicom, China Telecom, "
            "China Broadnet) for the operator bands"
        )
    names = list(OPERATORS)
    canonical = normalise_operator(sites["operator"]).astype("string").fillna("")
    code = np.zeros(len(sites), dtype=np.uint8)
    for k, name in enumerate(names):  # four operators
        code[(canonical == name).to_numpy()] = k + 1
    if isinstance(operators, str):
        operators = [operators]
    wanted = names if operators is None else list(normalise_operator(list(operators)))
    if bad := [o for o in wanted if o not in names]:
        raise DataError(f"operators: unknown {bad[0]!r}; use names of {', '.join(names)}")
    # the bands the model uses, so the default band applies to sharing too
    table = pd.DataFrame({"operator": canonical.to_numpy(), "band": params.band})
    bits = np.zeros(len(sites), dtype=np.uint8)
    for k, name in enumerate(names):
        if name in wanted:
            bits |= sharing.serves(table, name).astype(np.uint8) << k
    return code, bits


def _scheduler(scheduler):
    """(dask scheduler argument, client to close or None, threads in the pool)."""
    if scheduler is None:
        return "threads", None, os.cpu_count() or 1
    if isinstance(scheduler, str):
        if "://" in scheduler:
            try:
                from distributed import Client
            except ImportError:
                raise InputError(
                    f"scheduler = {scheduler!r} needs dask.distributed; "
                    "pip install 'dask[distributed]'"
                ) from None
            try:
                client = Client(scheduler, timeout="10s", set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise InputError(
                    f"scheduler = {scheduler!r}: cannot reach the dask scheduler ({exc}); "
                    "start it or pass scheduler=None"
                ) from None
            return client, client, max(1, sum(client.nthreads().values()))
        if scheduler in _LOCAL_SCHEDULERS:
            return scheduler, None, os.cpu_count() or 1
        raise DataError(
            f"scheduler = {scheduler!r} is not a dask scheduler; pass None, "
            f"one of {', '.join(_LOCAL_SCHEDULERS)}, 'tcp://host:port' or a distributed.Client"
        )
    if hasattr(scheduler, "get") and hasattr(scheduler, "nthreads"):
        return scheduler, None, max(1, sum(scheduler.nthreads().values()))
    raise DataError(
        f"scheduler = {type(scheduler).__name__} is not a dask scheduler; "
        "pass None, 'tcp://host:port' or a distributed.Client"
    )


def _tiles(t: Affine, height: int, width: int, tile_px: int, xy, reach):
    """(tile, sorted positions of the sites that may reach it) for every tile."""
    specs = [
        _Tile(r, c, min(tile_px, height - r), min(tile_px, width - c), tuple(t)[:6])
        for r in range(0, height, tile_px)
        for c in range(0, width, tile_px)
    ]
    if not specs or xy.shape[0] == 0:
        return [(s, np.zeros(0, dtype=np.int64)) for s in specs]
    res_x, res_y = abs(t.a), abs(t.e)
    # extent of the tiles' pixel centres
    x0 = np.array([t.c + (s.col + 0.5) * t.a for s in specs])
    x1 = x0 + np.array([(s.width - 1) * res_x for s in specs])
    y1 = np.array([t.f + (s.row + 0.5) * t.e for s in specs])
    y0 = y1 - np.array([(s.height - 1) * res_y for s in specs])
    centre = np.column_stack([(x0 + x1) / 2, (y0 + y1) / 2])
    radius = np.hypot(x1 - x0, y1 - y0) / 2 + float(reach.max())
    tree = cKDTree(xy)
    found = tree.query_ball_point(centre, radius, return_sorted=True)
    out = []
    for k, spec in enumerate(specs):  # tiles
        idx = np.asarray(found[k], dtype=np.int64)
        if idx.size:
            d = _rect_distance(xy[idx, 0], xy[idx, 1], x0[k], x1[k], y0[k], y1[k])
            idx = idx[d <= reach[idx]]
        out.append((spec, idx))
    return out


def signal_raster(
    sites,
    model: LinkBudgetModel,
    urban,
    *,
    bounds,
    crs,
    resolution_m: float = 100.0,
    out=None,
    operators=None,
    sharing: Sharing | None = None,
    scheduler=None,
    tile_px: int = 512,
):
    """Best-server SS-RSRP on a grid, with the serving operator and the operators served.

    Parameters
    ----------
    sites : pandas.DataFrame or geopandas.GeoDataFrame
        A site table (``lon``/``lat`` in WGS-84, ``attrs["crs"]``) or a point layer
        with a CRS, with an ``operator`` column and the columns the model reads
        (see :func:`site_rsrp_params`).
    model : geo5g.linkbudget.LinkBudgetModel
    urban : array_like of bool
        Urban flag of each site.
    bounds : sequence of float
        ``(minx, miny, maxx, maxy)`` of the grid in ``crs``; the grid starts at
        (minx, maxy) and has ``ceil(extent / resolution_m)`` pixels each way.
    crs : pyproj.CRS or str
        A projected CRS in metres, conformal for exact distances (e.g.
        :func:`geo5g.project.metric_crs`). The sites are transformed into it.
    resolution_m : float, default 100
        Pixel size in metres.
    out : str or os.PathLike, optional
        Write a GeoTIFF there (atomically) and return its path; without it, return
        the arrays.
    operators : sequence of str, optional
        The operators counted in the operators band (default all four).
    sharing : geo5g.sharing.Sharing, optional
        Who serves whom (default :func:`geo5g.sharing.load_sharing`).
    scheduler : None, str or distributed.Client, optional
        None: dask's threaded scheduler; "tcp://host:port" or a
        ``distributed.Client``: that cluster; or a local dask scheduler name
        ("sync", "processes").
    tile_px : int, default 512
        Pixels per side of a tile (a dask task). A multiple of 512 keeps the
        GeoTIFF's blocks whole on every write.

    Returns
    -------
    pathlib.Path or SignalGrid
        The GeoTIFF's path when ``out`` is given, else the arrays and transform.

    Raises
    ------
    CRSError
        ``crs`` is not a projected CRS in metres, or the sites have no CRS.
    DataError
        Bad bounds, resolution, tile size, operators or scheduler, or the sites
        have no ``operator`` column.
    InputError
        The GeoTIFF cannot be written, dask is missing, or the cluster cannot be
        reached.

    Notes
    -----
    A pixel's value is the maximum of :func:`rsrp_dbm` over the sites whose cutoff
    (:attr:`RsrpParams.cutoff_m`) reaches the pixel centre; a tie goes to the site
    earlier in ``sites``. Each tile picks those sites from a KD-tree, then a numba
    kernel (:func:`_tile_kernel`, compiled once and cached on disk) filters them per
    block of 64, 16 and 4 pixels and computes each pixel × site pair in scalar
    code. In the 16- and 4-pixel blocks it keeps only the sites that can be the
    best server (the RSRP at the block's nearest point reaches the RSRP another site
    gives at least at its farthest point) or add an operator; exact because the
    RSRP does not rise with distance (0.05 dB of slack for rounding and RMa's
    tiny LOS step). Without numba the numpy reference :func:`_compute_tile_numpy`
    computes the same pixels.

    The GeoTIFF has three **float32** bands (GeoTIFF holds one data type per
    file, so the operator bands are small whole numbers stored as float32):
    :data:`BAND_DESCRIPTIONS`. Nodata is NaN; pixels no site reaches are NaN in
    band 1 and 0 in bands 2 and 3. Blocks of 512 × 512, ZSTD level 1 (as small as
    DEFLATE here, and faster) with the floating-point predictor, nearest-neighbour
    overviews. Tiles are computed in
    batches of a few dozen and written as they come, so memory stays bounded.
    """
    try:
        import dask
    except ImportError:
        raise InputError("signal_raster needs dask; pip install 'dask[distributed]'") from None
    grid_crs = _grid_crs(crs)
    t, height, width = _grid(bounds, resolution_m)
    if isinstance(tile_px, bool) or not isinstance(tile_px, int | np.integer) or tile_px < 16:
        raise DataError(f"tile_px = {tile_px!r} must be a whole number of pixels >= 16")
    tile_px = int(tile_px)
    if not (is_site_table(sites) or hasattr(sites, "crs")):
        raise CRSError(
            "sites: neither a site table (lon/lat) nor a layer with a CRS; "
            "read them with geo5g.read_sites"
        )
    require_crs(sites, "sites")
    params = site_rsrp_params(model, sites, urban)
    x, y = points_xy(sites, grid_crs, "sites")
    if x.size != len(sites):
        raise DataError(f"sites: {x.size} coordinates for {len(sites)} sites; use single points")
    operator, serves = _operator_bits(sites, params, operators, sharing or load_sharing())
    scale = _scale_factors(x, y, grid_crs)
    reach = params.cutoff_m * scale
    live = np.flatnonzero(np.isfinite(x) & np.isfinite(y) & (reach > 0))
    xy = np.column_stack([x[live], y[live]])
    work = _tiles(t, height, width, tile_px, xy, reach[live])
    # the tiles need the numbers only: no labels to gather per pair or to ship
    slim = dataclasses.replace(params, band=None, limit=None)

    def task(spec, idx):
        pick = live[idx]
        part = _Sites(
            x[pick], y[pick], scale[pick], reach[pick], operator[pick], serves[pick],
            slim.take(pick),
        )  # fmt: skip
        return dask.delayed(_compute_tile, pure=True)(spec, part)

    def results(handle):
        target, client, threads = _scheduler(scheduler)
        per_batch = max(1, min(_TILES_PER_BATCH, 4 * threads))
        try:
            for start in range(0, len(work), per_batch):  # batches of tiles
                batch = [task(spec, idx) for spec, idx in work[start : start + per_batch]]
                for row, col, rsrp, op, count in dask.compute(*batch, scheduler=target):
                    handle(row, col, rsrp, op, count)
        finally:
            if client is not None:
                client.close()

    threshold = params.threshold_dbm
    if out is None:
        rsrp_all = np.full((height, width), np.nan, dtype=np.float32)
        op_all = np.zeros((height, width), dtype=np.uint8)
        count_all = np.zeros((height, width), dtype=np.uint8)

        def keep(row, col, rsrp, op, count):
            window = (slice(row, row + rsrp.shape[0]), slice(col, col + rsrp.shape[1]))
            rsrp_all[window], op_all[window], count_all[window] = rsrp, op, count

        results(keep)
        return SignalGrid(rsrp_all, op_all, count_all, t, grid_crs, threshold)

    target = Path(out)
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 3,
        "dtype": "float32",
        "crs": rasterio.crs.CRS.from_wkt(grid_crs.to_wkt()),
        "transform": t,
        "nodata": float("nan"),
        "tiled": True,
        "blockxsize": _GTIFF_BLOCK,
        "blockysize": _GTIFF_BLOCK,
        "compress": "zstd",
        "zstd_level": 1,  # fast: the raster is written while the tiles wait
        "predictor": 3,
        "BIGTIFF": "IF_SAFER",
    }
    try:
        with (
            atomic_path(target) as tmp,
            rasterio.Env(GDAL_CACHEMAX=_GDAL_CACHE_BYTES),
            rasterio.open(tmp, "w", **profile) as dst,
        ):
            for band, text in enumerate(BAND_DESCRIPTIONS, start=1):
                dst.set_band_description(band, text)
            dst.set_band_unit(1, "dBm")
            dst.update_tags(rsrp_threshold_dbm=f"{threshold:g}", model=model.describe())

            def write(row, col, rsrp, op, count):
                window = rasterio.windows.Window(col, row, rsrp.shape[1], rsrp.shape[0])
                dst.write(rsrp, 1, window=window)
                dst.write(op.astype(np.float32), 2, window=window)
                dst.write(count.astype(np.float32), 3, window=window)

            results(write)
            factors = [2]
            while max(height, width) / (factors[-1] * 2) >= 64:
                factors.append(factors[-1] * 2)
            dst.build_overviews(factors, rasterio.enums.Resampling.nearest)
            dst.update_tags(ns="rio_overview", resampling="nearest")
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"{target}: cannot write the signal raster ({exc})") from None
    return target


# --------------------------------------------------------------------------- population


class _RsrpSource:
    """Band 1 of an RSRP raster (a GeoTIFF, a SignalGrid or (array, transform, crs))."""

    def __init__(self, values=None, transform=None, crs=None, nodata=None, src=None):
        self.src = src
        if src is not None:
            if src.crs is None:
                raise CRSError(f"{Path(src.name).name}: RSRP raster has no CRS; set it")
            self.transform, self.crs = src.transform, CRS.from_user_input(src.crs.to_wkt())
            self.height, self.width, self.nodata = src.height, src.width, src.nodatavals[0]
        else:
            self.values = np.asarray(values)
            if self.values.ndim != 2:
                raise DataError(f"RSRP: expected a 2-D array, got {self.values.ndim} dimensions")
            self.transform, self.crs = transform, CRS.from_user_input(crs)
            self.height, self.width = self.values.shape
            self.nodata = nodata
        self.transform = _check_transform(self.transform, "RSRP raster")

    def read(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        if self.src is None:
            return self.values[r0:r1, c0:c1]
        return self.src.read(1, window=rasterio.windows.Window(c0, r0, c1 - c0, r1 - r0))


def _open(path, what: str):
    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioIOError as err:
        raise InputError(f"{Path(path).name}: cannot open the {what} raster ({err})") from None


def _covered_flags(rsrp: _RsrpSource, x, y, threshold: float) -> np.ndarray:
    """Whether the RSRP pixel containing each point (its nearest centre) meets the threshold."""
    rt = rsrp.transform
    col = np.floor((x - rt.c) / rt.a)
    row = np.floor((y - rt.f) / rt.e)
    inside = (col >= 0) & (col < rsrp.width) & (row >= 0) & (row < rsrp.height)
    out = np.zeros(x.shape, dtype=bool)
    if not inside.any():
        return out
    col, row = col[inside].astype(np.int64), row[inside].astype(np.int64)
    c0, c1, r0, r1 = col.min(), col.max() + 1, row.min(), row.max() + 1
    value = rsrp.read(int(r0), int(r1), int(c0), int(c1))[row - r0, col - c0].astype("float64")
    ok = np.isfinite(value) & (value >= threshold)
    if rsrp.nodata is not None and not np.isnan(rsrp.nodata):
        ok &= value != rsrp.nodata
    out[inside] = ok
    return out


def population_covered_by_signal(
    rsrp_raster,
    population_raster,
    zones,
    threshold_dbm: float,
    *,
    band: int = 1,
) -> pd.DataFrame:
    """Residents where the SS-RSRP meets a threshold, per zone.

    Parameters
    ----------
    rsrp_raster : str or os.PathLike or SignalGrid or tuple
        The GeoTIFF of :func:`signal_raster` (band 1), its :class:`SignalGrid`, or
        ``(array, transform, crs)``.
    population_raster : str or os.PathLike
        People per pixel (e.g. WorldPop; fractional values are summed as they are,
        nodata and NaN count as 0).
    zones : geopandas.GeoDataFrame or None
        Polygons with a CRS indexed by adcode; a population pixel belongs to the
        zone containing its centre (the later zone where zones overlap). None: the
        whole raster is one row, ``"total"``.
    threshold_dbm : float
        A pixel is covered when its RSRP is at least this (e.g. the model's
        ``settings.rsrp_threshold_dbm``, or :attr:`SignalGrid.threshold_dbm`).
    band : int, default 1
        Band of the population raster.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``adcode`` (or ``["total"]``), float columns ``population``,
        ``covered`` and ``share`` (NaN where the population is 0), as
        :func:`geo5g.popcover.covered_population`.

    Raises
    ------
    InputError
        A raster is missing or unreadable.
    CRSError
        A raster or the zones have no CRS.
    DataError
        The threshold is not a number, a raster is rotated, the band is missing,
        or the population has undeclared negative nodata.

    Notes
    -----
    The RSRP is resampled to the population grid by nearest pixel centre: each
    population pixel takes the value of the RSRP pixel containing its centre
    (transformed into the RSRP raster's CRS), which is the RSRP pixel whose
    centre is nearest. Population pixels outside the RSRP raster, or on its
    nodata, are not covered. The population raster is read in bands of rows, and
    for each band only the window of the RSRP raster it maps to.
    """
    threshold = float(threshold_dbm)
    if not math.isfinite(threshold):
        raise DataError(f"threshold_dbm = {threshold_dbm!r} must be a finite number of dBm")
    with rasterio.Env(GDAL_CACHEMAX=64 * 2**20):
        src_rsrp = None
        try:
            if isinstance(rsrp_raster, SignalGrid):
                rsrp = _RsrpSource(rsrp_raster.rsrp_dbm, rsrp_raster.transform, rsrp_raster.crs)
            elif isinstance(rsrp_raster, tuple):
                if len(rsrp_raster) != 3:
                    raise DataError("rsrp_raster: pass (array, transform, crs) for an array")
                rsrp = _RsrpSource(*rsrp_raster)
            else:
                src_rsrp = _open(rsrp_raster, "RSRP")
                rsrp = _RsrpSource(src=src_rsrp)
            with _open(population_raster, "population") as pop:
                return _population(rsrp, pop, zones, threshold, band)
        finally:
            if src_rsrp is not None:
                src_rsrp.close()


def _population(rsrp: _RsrpSource, pop, zones, threshold: float, band: int) -> pd.DataFrame:
    name = Path(pop.name).name
    if pop.crs is None:
        raise CRSError(
            f"{name}: raster has no CRS; geo5g never guesses one. "
            "Set it (gdal_edit.py -a_srs EPSG:4326 FILE) and try again"
        )
    if not 1 <= band <= pop.count:
        raise DataError(f"{name}: band {band} requested, the raster has {pop.count}")
    pop_crs = CRS.from_user_input(pop.crs.to_wkt())
    t = _check_transform(pop.transform, name)
    nodata = pop.nodatavals[band - 1]
    same_crs = pop_crs.equals(rsrp.crs, ignore_axis_order=True)
    geoms, labels, n_zones = None, None, 0
    first, stop = 0, pop.height
    if zones is not None:
        require_crs(zones, "zones")
        n_zones = len(zones)
        if not CRS.from_user_input(zones.crs).equals(pop_crs, ignore_axis_order=True):
            zones = zones.to_crs(pop_crs)
        all_geoms = np.asarray(zones.geometry.values, dtype=object)
        live = np.flatnonzero(~(shapely.is_missing(all_geoms) | shapely.is_empty(all_geoms)))
        geoms, labels = all_geoms[live], live + 1
        if len(geoms):
            _, miny, _, maxy = shapely.total_bounds(geoms)
            rows = sorted(((maxy - t.f) / t.e, (miny - t.f) / t.e))
            first = max(0, int(np.floor(rows[0])))
            stop = min(pop.height, int(np.ceil(rows[1])) + 1)
        else:
            first = stop = 0
    tree = shapely.STRtree(geoms) if geoms is not None and len(geoms) else None
    shapes = (
        [(shapely.geometry.mapping(g), 2 * int(v)) for g, v in zip(geoms, labels, strict=True)]
        if tree is not None
        else []
    )
    n_bins = 2 * (n_zones + 1)
    both = np.zeros(n_bins)
    count, lowest = 0, 0.0
    rows_per_band = max(1, min(256, _POP_PIXELS_PER_BAND // max(pop.width, 1)))
    cols = np.arange(pop.width)
    for r0 in range(first, stop, rows_per_band):  # bands of rows
        r1 = min(r0 + rows_per_band, stop)
        window = rasterio.windows.Window(0, r0, pop.width, r1 - r0)
        values = _values(pop.read(band, window=window), nodata)
        cx, cy = np.meshgrid(t.c + (cols + 0.5) * t.a, t.f + (np.arange(r0, r1) + 0.5) * t.e)
        cx, cy = cx.ravel(), cy.ravel()
        if not same_crs:
            cx, cy = transform_xy(cx, cy, pop_crs, rsrp.crs)
        covered = _covered_flags(rsrp, cx, cy, threshold).reshape(values.shape)
        key = covered.astype(np.intp)
        if tree is not None:
            y0, y1 = t.f + t.e * r0, t.f + t.e * r1
            x0, x1 = t.c, t.c + t.a * pop.width
            hit = tree.query(shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
            if len(hit):
                label = rasterio.features.rasterize(
                    [shapes[k] for k in hit],
                    out_shape=values.shape,
                    transform=Affine(t.a, 0.0, t.c, 0.0, t.e, t.f + t.e * r0),
                    fill=0,
                    all_touched=False,
                    dtype="int32",
                ).astype(np.intp)
                bad = (values < 0) & (label > 0)
                if bad.any():
                    count += int(bad.sum())
                    lowest = min(lowest, float(values[bad].min()))
                key = key + label
        both += np.bincount(key.ravel(), weights=values.ravel(), minlength=n_bins)
    total, covered_sum = both[0::2] + both[1::2], both[1::2]
    if zones is None:
        index = pd.Index(["total"])
        total, covered_sum = total[:1], covered_sum[:1]
    else:
        index = pd.Index(zones.index, name="adcode")
        total, covered_sum = total[1:], covered_sum[1:]
    _check_counts(name, total, (count, lowest), nodata, index)
    share = np.divide(covered_sum, total, out=np.full(total.shape, np.nan), where=total > 0)
    return pd.DataFrame({"population": total, "covered": covered_sum, "share": share}, index=index)
