"""A 3GPP TR 38.901 link-budget coverage model: how far each 5G site reaches.

:class:`LinkBudgetModel` implements :class:`geo5g.coverage.CoverageModel`. For each
site it builds the downlink SS-RSRP budget of the site's band (per resource element,
``geo5g/settings/linkbudget.toml``), takes the maximum allowed path loss (MAPL) after
penetration loss and an edge-probability margin, and solves the TR 38.901 path loss
for the distance where it equals the MAPL::

    model = LinkBudgetModel(load_link_budget(), service="vehicle")
    reach = model.reach_m(sites, urban)          # float64 metres, one per site
    model.table()                                # the whole budget, band × scenario × service

The path-loss formulas are those of 3GPP TR 38.901 (V17) Table 7.4.1-1 for UMa, UMi
street canyon and RMa, LOS and NLOS (:func:`path_loss_db`), with the LOS probability
of Table 7.4.2-1 (:func:`los_probability`), the O2I building penetration of
§7.4.3.1 / Table 7.4.3-2 (:func:`o2i_penetration_db`) and the car penetration of
§7.4.3.2. The table's formulas carry no equation numbers; comments name the row
("UMa LOS, PL1") and the note of the table instead.

Decisions, stated once here and in the functions:

* UMa's effective environment height is hE = 1 m (Note 1 of Table 7.4.1-1). Note 1
  draws hE = 1 m with probability 1 / (1 + C(d2D, hUT)), and C = 0 for hUT < 13 m,
  so for the 1.5 m UT of the budget this is exact, not an approximation.
* TR 38.901 states a single BS height for UMa (25 m) and UMi (10 m). The formulas
  use hBS only through d3D and the breakpoint, so geo5g accepts UMa 10–150 m (the
  span the table states for RMa) and UMi 3–25 m (lamp-post to low-rooftop small
  cells) as an extension; :data:`VALIDITY` lists every range.
* Site heights outside a scenario's accepted range are clamped into it by the model
  (the Sites contract accepts 1–300 m); :func:`path_loss_db` itself raises instead.
* The reach search runs over the scenario's validity distances. When the budget is
  not used up at the longest valid distance the reach is that distance; when it is
  used up before 10 m the reach is 10 m. Both are flagged ``clamped`` in
  :meth:`LinkBudgetModel.table`.
* The "fc < 6 GHz: use fc = 6 GHz" (UMa) and "fc < 2 GHz: use fc = 2 GHz" (UMi) rules
  of TR 38.901 belong to the large-scale parameters of Table 7.5-6, not to the path
  loss: the path-loss formulas are used as written from 0.5 GHz.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ._validate import read_settings_toml
from .errors import DataError
from .vocabulary import BANDS, normalise_band

__all__ = [
    "LOS_MODES",
    "N_RB",
    "SCENARIOS",
    "SERVICES",
    "VALIDITY",
    "BandBudget",
    "LinkBudgetModel",
    "LinkBudgetSettings",
    "SiteCombinations",
    "breakpoint_distance_m",
    "edge_margin_db",
    "load_link_budget",
    "los_probability",
    "o2i_penetration_db",
    "path_loss_db",
    "shadow_fading_db",
]

_DEFAULT_SETTINGS = Path(__file__).resolve().parent / "settings" / "linkbudget.toml"

#: Propagation velocity of TR 38.901 Notes 1 and 5 of Table 7.4.1-1 (m/s).
_C = 3.0e8

#: The TR 38.901 scenarios modelled: Urban Macro, Urban Micro street canyon, Rural Macro.
SCENARIOS = ("UMa", "UMi", "RMa")

#: Services (where the UE is): outdoors, in a car, indoors (low- or high-loss building).
SERVICES = ("outdoor", "vehicle", "indoor", "indoor-high")

#: Propagation conditions: NLOS (planning practice), LOS, or LOS-probability weighted.
LOS_MODES = ("nlos", "los", "weighted")

#: Validity ranges of the path-loss models (closed intervals), TR 38.901 Table 7.4.1-1
#: unless marked "geo5g": distances (m), carrier frequency (GHz), heights (m).
VALIDITY = MappingProxyType(
    {
        "UMa": MappingProxyType(
            {
                "d2d_m_los": (10.0, 5000.0),
                "d2d_m_nlos": (10.0, 5000.0),
                "fc_ghz": (0.5, 100.0),
                "h_bs_m": (10.0, 150.0),  # geo5g: the table states 25 m only
                "h_ut_m": (1.5, 22.5),
            }
        ),
        "UMi": MappingProxyType(
            {
                "d2d_m_los": (10.0, 5000.0),
                "d2d_m_nlos": (10.0, 5000.0),
                "fc_ghz": (0.5, 100.0),
                "h_bs_m": (3.0, 25.0),  # geo5g: the table states 10 m only
                "h_ut_m": (1.5, 22.5),
            }
        ),
        "RMa": MappingProxyType(
            {
                "d2d_m_los": (10.0, 10000.0),
                "d2d_m_nlos": (10.0, 5000.0),
                "fc_ghz": (0.5, 30.0),
                "h_bs_m": (10.0, 150.0),
                "h_ut_m": (1.0, 10.0),
                "h_m": (5.0, 50.0),
                "w_m": (5.0, 50.0),
            }
        ),
    }
)

#: Transmission bandwidth N_RB of TS 38.101-1 Table 5.3.2-1 (FR1): (MHz, kHz) → RBs.
N_RB = MappingProxyType(
    {
        (5.0, 15.0): 25, (10.0, 15.0): 52, (15.0, 15.0): 79, (20.0, 15.0): 106,
        (25.0, 15.0): 133, (30.0, 15.0): 160, (35.0, 15.0): 188, (40.0, 15.0): 216,
        (45.0, 15.0): 242, (50.0, 15.0): 270,
        (5.0, 30.0): 11, (10.0, 30.0): 24, (15.0, 30.0): 38, (20.0, 30.0): 51,
        (25.0, 30.0): 65, (30.0, 30.0): 78, (35.0, 30.0): 92, (40.0, 30.0): 106,
        (45.0, 30.0): 119, (50.0, 30.0): 133, (60.0, 30.0): 162, (70.0, 30.0): 189,
        (80.0, 30.0): 217, (90.0, 30.0): 245, (100.0, 30.0): 273,
    }
)  # fmt: skip

_SOURCE = "3GPP TR 38.901 Table 7.4.1-1"


# --------------------------------------------------------------------------- checks


def _in_range(name: str, value, lo: float, hi: float, unit: str, what: str) -> np.ndarray:
    """``value`` as float64, or a one-line DataError naming the first bad value."""
    arr = np.asarray(value, dtype="float64")
    bad = ~((arr >= lo) & (arr <= hi))  # NaN is out of range as well
    if bad.any():
        first = float(arr[bad].flat[0])
        more = int(np.count_nonzero(bad)) - 1
        also = f" (and {more} more values)" if more else ""
        raise DataError(
            f"path loss: {name} = {first:g}{also} is outside [{lo:g}, {hi:g}] {unit}, "
            f"the {what} validity range of {_SOURCE}"
        )
    return arr


def _scenario(scenario) -> str:
    key = str(scenario).strip().casefold()
    for name in SCENARIOS:
        if name.casefold() == key:
            return name
    raise DataError(f"path loss: scenario = {scenario!r} is not one of UMa, UMi or RMa")


def _los_mode(los) -> str:
    if los is True:
        return "los"
    if los is False:
        return "nlos"
    mode = str(los).strip().casefold()
    if mode not in LOS_MODES:
        raise DataError(f"path loss: los = {los!r} is not one of True, False, 'weighted'")
    return mode


# --------------------------------------------------------------------------- path loss


def _d3d(d2d, h_bs, h_ut):
    # d3D between the antennas, from the ground distance and the height difference
    return np.sqrt(np.square(d2d) + np.square(h_bs - h_ut))


def _dbp(scenario: str, fc, h_bs, h_ut):
    """Breakpoint distance in metres (fc in GHz)."""
    if scenario == "RMa":
        # Note 5: dBP = 2π hBS hUT fc / c, fc in Hz
        return 2.0 * np.pi * h_bs * h_ut * (fc * 1e9) / _C
    # Note 1: d'BP = 4 h'BS h'UT fc / c with h' = h − hE, hE = 1 m (UMi always; UMa
    # the value Note 1 takes for hUT < 13 m, see the module notes)
    return 4.0 * (h_bs - 1.0) * (h_ut - 1.0) * (fc * 1e9) / _C


def _rma_pl1(d, fc, h):
    """RMa LOS PL1 at 3D distance ``d`` (also evaluated at d = dBP for PL2)."""
    return (
        20.0 * np.log10(40.0 * np.pi * d * fc / 3.0)
        + np.minimum(0.03 * h**1.72, 10.0) * np.log10(d)
        - np.minimum(0.044 * h**1.72, 14.77)
        + 0.002 * np.log10(h) * d
    )


def _pl_los(scenario: str, d2d, fc, h_bs, h_ut, h, w):
    """LOS path loss (dB) of Table 7.4.1-1, no range checks."""
    d3d = _d3d(d2d, h_bs, h_ut)
    dbp = _dbp(scenario, fc, h_bs, h_ut)
    if scenario == "RMa":
        # RMa LOS: PL1 up to dBP, PL2 = PL1(dBP) + 40 log10(d3D / dBP) beyond
        pl1 = _rma_pl1(d3d, fc, h)
        pl2 = _rma_pl1(dbp, fc, h) + 40.0 * np.log10(d3d / dbp)
        return np.where(d2d <= dbp, pl1, pl2)
    if scenario == "UMa":
        # UMa LOS: PL1 = 28.0 + 22 log10(d3D) + 20 log10(fc)
        #          PL2 = 28.0 + 40 log10(d3D) + 20 log10(fc) − 9 log10(d'BP² + (hBS − hUT)²)
        a, n1, k = 28.0, 22.0, 9.0
    else:
        # UMi-Street Canyon LOS: PL1 = 32.4 + 21 log10(d3D) + 20 log10(fc)
        #   PL2 = 32.4 + 40 log10(d3D) + 20 log10(fc) − 9.5 log10(d'BP² + (hBS − hUT)²)
        a, n1, k = 32.4, 21.0, 9.5
    pl1 = a + n1 * np.log10(d3d) + 20.0 * np.log10(fc)
    pl2 = (
        a
        + 40.0 * np.log10(d3d)
        + 20.0 * np.log10(fc)
        - k * np.log10(np.square(dbp) + np.square(h_bs - h_ut))
    )
    return np.where(d2d <= dbp, pl1, pl2)


def _pl_nlos_prime(scenario: str, d2d, fc, h_bs, h_ut, h, w):
    """PL'_NLOS (dB) of Table 7.4.1-1, before the max with the LOS loss."""
    d3d = _d3d(d2d, h_bs, h_ut)
    if scenario == "UMa":
        # PL'UMa-NLOS = 13.54 + 39.08 log10(d3D) + 20 log10(fc) − 0.6 (hUT − 1.5)
        return 13.54 + 39.08 * np.log10(d3d) + 20.0 * np.log10(fc) - 0.6 * (h_ut - 1.5)
    if scenario == "UMi":
        # PL'UMi-NLOS = 35.3 log10(d3D) + 22.4 + 21.3 log10(fc) − 0.3 (hUT − 1.5)
        return 35.3 * np.log10(d3d) + 22.4 + 21.3 * np.log10(fc) - 0.3 * (h_ut - 1.5)
    # PL'RMa-NLOS = 161.04 − 7.1 log10(W) + 7.5 log10(h)
    #   − (24.37 − 3.7 (h/hBS)²) log10(hBS) + (43.42 − 3.1 log10(hBS)) (log10(d3D) − 3)
    #   + 20 log10(fc) − (3.2 (log10(11.75 hUT))² − 4.97)
    return (
        161.04
        - 7.1 * np.log10(w)
        + 7.5 * np.log10(h)
        - (24.37 - 3.7 * np.square(h / h_bs)) * np.log10(h_bs)
        + (43.42 - 3.1 * np.log10(h_bs)) * (np.log10(d3d) - 3.0)
        + 20.0 * np.log10(fc)
        - (3.2 * np.square(np.log10(11.75 * h_ut)) - 4.97)
    )


def _p_los(scenario: str, d2d, h_ut):
    """LOS probability of Table 7.4.2-1, no range checks."""
    d2d = np.asarray(d2d, dtype="float64")
    safe = np.maximum(d2d, 1.0)  # the d2D ≤ 18 m branch is 1; avoid dividing by 0 there
    if scenario == "RMa":
        # RMa: 1 for d2D ≤ 10 m, exp(−(d2D − 10)/1000) beyond
        return np.where(d2d <= 10.0, 1.0, np.exp(-(d2d - 10.0) / 1000.0))
    if scenario == "UMi":
        # UMi-Street Canyon: 1 for d2D ≤ 18 m, 18/d2D + exp(−d2D/36)(1 − 18/d2D) beyond
        p = 18.0 / safe + np.exp(-safe / 36.0) * (1.0 - 18.0 / safe)
        return np.where(d2d <= 18.0, 1.0, p)
    # UMa: 1 for d2D ≤ 18 m, beyond
    # [18/d2D + exp(−d2D/63)(1 − 18/d2D)] (1 + C'(hUT) 5/4 (d2D/100)³ exp(−d2D/150)),
    # C'(hUT) = 0 for hUT ≤ 13 m, ((hUT − 13)/10)^1.5 for 13 m < hUT ≤ 23 m
    c = np.where(h_ut <= 13.0, 0.0, np.power(np.maximum(h_ut - 13.0, 0.0) / 10.0, 1.5))
    p = (18.0 / safe + np.exp(-safe / 63.0) * (1.0 - 18.0 / safe)) * (
        1.0 + c * 1.25 * (safe / 100.0) ** 3 * np.exp(-safe / 150.0)
    )
    return np.where(d2d <= 18.0, 1.0, p)


def _pl(scenario: str, mode: str, d2d, fc, h_bs, h_ut, h, w):
    """Path loss (dB) for ``mode`` in LOS_MODES, no range checks."""
    los = _pl_los(scenario, d2d, fc, h_bs, h_ut, h, w)
    if mode == "los":
        return los
    # NLOS: PL = max(PL_LOS, PL'_NLOS), as the table writes for UMa, UMi and RMa
    nlos = np.maximum(los, _pl_nlos_prime(scenario, d2d, fc, h_bs, h_ut, h, w))
    if mode == "nlos":
        return nlos
    # weighted: mean received power over LOS and NLOS (linear power domain), i.e.
    # PL = −10 log10(P_LOS 10^(−PL_LOS/10) + (1 − P_LOS) 10^(−PL_NLOS/10))
    p = _p_los(scenario, d2d, h_ut)
    return -10.0 * np.log10(p * 10.0 ** (-los / 10.0) + (1.0 - p) * 10.0 ** (-nlos / 10.0))


def _sigma_sf(scenario: str, mode: str, d2d, fc, h_bs, h_ut):
    """Shadow-fading σ (dB) of Table 7.4.1-1."""
    shape = np.broadcast(d2d, fc, h_bs, h_ut).shape
    if mode == "los":
        if scenario == "RMa":
            # RMa LOS: σSF = 4 dB for PL1 (d2D ≤ dBP), 6 dB for PL2
            return np.where(d2d <= _dbp("RMa", fc, h_bs, h_ut), 4.0, 6.0) + np.zeros(shape)
        return np.full(shape, 4.0)  # UMa and UMi LOS
    # NLOS: UMa 6, UMi 7.82, RMa 8 dB; the weighted mode uses these too, because at
    # the cell edge the NLOS part dominates the mixture (and it is the larger σ)
    return np.full(shape, {"UMa": 6.0, "UMi": 7.82, "RMa": 8.0}[scenario])


def _check_inputs(scenario: str, mode: str, d2d, fc, h_bs, h_ut, h, w):
    limits = VALIDITY[scenario]
    what = f"{scenario} {mode.upper() if mode != 'weighted' else 'LOS/NLOS'}"
    d_range = limits["d2d_m_los" if mode == "los" else "d2d_m_nlos"]
    out = [
        _in_range("d2d_m", d2d, *d_range, "m", what),
        _in_range("fc_ghz", fc, *limits["fc_ghz"], "GHz", scenario),
        _in_range("h_bs_m", h_bs, *limits["h_bs_m"], "m", scenario),
        _in_range("h_ut_m", h_ut, *limits["h_ut_m"], "m", scenario),
    ]
    if scenario == "RMa":
        out += [
            _in_range("h_m", h, *limits["h_m"], "m", scenario),
            _in_range("w_m", w, *limits["w_m"], "m", scenario),
        ]
    else:
        out += [np.asarray(h, dtype="float64"), np.asarray(w, dtype="float64")]
    return out


def path_loss_db(
    scenario, d2d_m, fc_ghz, h_bs_m, h_ut_m=1.5, *, los=False, h_m=5.0, w_m=20.0
) -> np.ndarray:
    """Path loss of 3GPP TR 38.901 Table 7.4.1-1 in dB (UMa, UMi street canyon, RMa).

    Parameters
    ----------
    scenario : {"UMa", "UMi", "RMa"}
        Urban Macro, Urban Micro street canyon or Rural Macro.
    d2d_m : array_like
        Ground distance between BS and UT in metres.
    fc_ghz : array_like
        Carrier frequency in GHz.
    h_bs_m, h_ut_m : array_like
        BS and UT antenna heights in metres.
    los : bool or {"los", "nlos", "weighted"}, default False
        True/"los": LOS loss. False/"nlos": NLOS loss ``max(PL_LOS, PL'_NLOS)``.
        "weighted": the mean received power over LOS and NLOS with the LOS
        probability of Table 7.4.2-1, averaged in the linear power domain.
    h_m, w_m : array_like, default 5 and 20
        RMa average building height and street width in metres (RMa only).

    Returns
    -------
    numpy.ndarray
        Path loss in dB, the inputs broadcast together.

    Raises
    ------
    DataError
        An input is outside its validity range (:data:`VALIDITY`), in one line naming
        the parameter, the value, the range and the source.

    Notes
    -----
    d3D = sqrt(d2D² + (hBS − hUT)²). UMa and UMi use the breakpoint
    d'BP = 4 h'BS h'UT fc / c with h' = h − 1 m (Note 1; for UMa hE = 1 m, exact for
    hUT < 13 m), RMa dBP = 2π hBS hUT fc / c (Note 5). The LOS pieces switch at
    d2D = (d')BP. RMa's PL2 is anchored at PL1(dBP) evaluated at a 3D distance of dBP,
    so the loss steps at dBP: upward, except for tall masts among tall buildings
    (h near 50 m) where it can step down by less than 0.01 dB.

    The "weighted" loss averages received power, not dB: a small LOS probability
    still lifts the mean noticeably, so it is more optimistic than averaging the
    dB values would be. UMa's LOS probability rises again with distance for
    hUT > 13 m (the C'(hUT) term), so only for hUT ≤ 13 m is the weighted loss
    sure to rise with distance.

    Examples
    --------
    UMa NLOS at 100 m: 13.54 + 39.08·log10(sqrt(100² + 23.5²)) + 20·log10(3.5)

    >>> round(float(path_loss_db("UMa", 100.0, 3.5, 25.0)), 2)
    103.04
    """
    scenario, mode = _scenario(scenario), _los_mode(los)
    d2d, fc, h_bs, h_ut, h, w = _check_inputs(
        scenario, mode, d2d_m, fc_ghz, h_bs_m, h_ut_m, h_m, w_m
    )
    return np.asarray(_pl(scenario, mode, d2d, fc, h_bs, h_ut, h, w), dtype="float64")


def shadow_fading_db(scenario, d2d_m, fc_ghz, h_bs_m, h_ut_m=1.5, *, los=False) -> np.ndarray:
    """Shadow-fading standard deviation σSF of TR 38.901 Table 7.4.1-1 in dB.

    UMa LOS 4 / NLOS 6, UMi LOS 4 / NLOS 7.82, RMa LOS 4 below the breakpoint and 6
    beyond it / NLOS 8. The "weighted" mode uses the NLOS value (see :func:`path_loss_db`
    for the parameters).

    Examples
    --------
    >>> shadow_fading_db("RMa", [100.0, 5000.0], 3.5, 35.0, los=True).tolist()
    [4.0, 6.0]
    """
    scenario, mode = _scenario(scenario), _los_mode(los)
    d2d, fc, h_bs, h_ut, _, _ = _check_inputs(scenario, mode, d2d_m, fc_ghz, h_bs_m, h_ut_m, 5, 20)
    return _sigma_sf(scenario, mode, d2d, fc, h_bs, h_ut)


def breakpoint_distance_m(scenario, fc_ghz, h_bs_m, h_ut_m=1.5) -> np.ndarray:
    """Breakpoint distance of TR 38.901 Table 7.4.1-1 (Notes 1 and 5) in metres.

    UMa/UMi: d'BP = 4 (hBS − 1)(hUT − 1) fc / c; RMa: dBP = 2π hBS hUT fc / c.

    Examples
    --------
    >>> round(float(breakpoint_distance_m("UMa", 3.5, 25.0)), 6)  # 4 · 24 · 0.5 · 3.5e9 / 3e8
    560.0
    """
    scenario = _scenario(scenario)
    limits = VALIDITY[scenario]
    fc = _in_range("fc_ghz", fc_ghz, *limits["fc_ghz"], "GHz", scenario)
    h_bs = _in_range("h_bs_m", h_bs_m, *limits["h_bs_m"], "m", scenario)
    h_ut = _in_range("h_ut_m", h_ut_m, *limits["h_ut_m"], "m", scenario)
    return np.asarray(_dbp(scenario, fc, h_bs, h_ut), dtype="float64")


def los_probability(scenario, d2d_m, h_ut_m=1.5) -> np.ndarray:
    """LOS probability of TR 38.901 Table 7.4.2-1 (outdoor users).

    Parameters
    ----------
    scenario : {"UMa", "UMi", "RMa"}
    d2d_m : array_like
        Ground distance in metres (≥ 0).
    h_ut_m : array_like, default 1.5
        UT height in metres (UMa's C'(hUT) term; the table defines it up to 23 m).

    Returns
    -------
    numpy.ndarray
        Probabilities in [0, 1].

    Examples
    --------
    >>> round(float(los_probability("RMa", 1010.0)), 6)  # exp(−1000/1000)
    0.367879
    """
    scenario = _scenario(scenario)
    d2d = _in_range("d2d_m", d2d_m, 0.0, math.inf, "m", f"{scenario} LOS-probability")
    h_ut = _in_range("h_ut_m", h_ut_m, *VALIDITY[scenario]["h_ut_m"], "m", scenario)
    return np.asarray(np.broadcast_to(_p_los(scenario, d2d, h_ut), np.broadcast(d2d, h_ut).shape))


# --------------------------------------------------------------------------- penetration


def o2i_penetration_db(fc_ghz, loss: str = "low", d2d_in_m=25.0 / 3.0) -> np.ndarray:
    """Mean O2I building penetration loss PL_tw + PL_in of TR 38.901 Table 7.4.3-2 (dB).

    Parameters
    ----------
    fc_ghz : array_like
        Carrier frequency in GHz (0.5–100, the range of Table 7.4.3-1).
    loss : {"low", "high"}
        Low-loss model (30 % standard glass, 70 % concrete) or high-loss model
        (70 % IRR glass, 30 % concrete).
    d2d_in_m : array_like, default 25/3
        Indoor distance of PL_in = 0.5 d2D-in. The default is the mean of the
        standard's min of two uniform(0, 25 m) draws (UMa/UMi); RMa's is 10/3 m.

    Returns
    -------
    numpy.ndarray
        PL_tw + PL_in in dB (the σ_P of 4.4 dB / 6.5 dB is in the settings).

    Notes
    -----
    Table 7.4.3-1: L_glass = 2 + 0.2 f, L_IRRglass = 23 + 0.3 f, L_concrete = 5 + 4 f.
    Low: PL_tw = 5 − 10 log10(0.3·10^(−L_glass/10) + 0.7·10^(−L_concrete/10)).
    High: PL_tw = 5 − 10 log10(0.7·10^(−L_IRRglass/10) + 0.3·10^(−L_concrete/10)).
    The high-loss model stands for energy-efficient buildings (IRR glass), found
    mostly in cities; geo5g does not tie either model to a scenario.

    Examples
    --------
    >>> round(float(o2i_penetration_db(3.5, d2d_in_m=0.0)), 2)
    12.7
    """
    fc = np.asarray(fc_ghz, dtype="float64")
    bad = ~((fc >= 0.5) & (fc <= 100.0))
    if bad.any():
        raise DataError(
            f"O2I penetration: fc_ghz = {float(fc[bad].flat[0]):g} is outside [0.5, 100] GHz, "
            "the range of 3GPP TR 38.901 Table 7.4.3-1"
        )
    d_in = np.asarray(d2d_in_m, dtype="float64")
    if not (np.isfinite(d_in).all() and (d_in >= 0).all()):
        raise DataError(f"O2I penetration: d2d_in_m = {d2d_in_m!r} must be finite and >= 0")
    l_glass, l_irr, l_concrete = 2.0 + 0.2 * fc, 23.0 + 0.3 * fc, 5.0 + 4.0 * fc
    if loss == "low":
        mix = 0.3 * 10.0 ** (-l_glass / 10.0) + 0.7 * 10.0 ** (-l_concrete / 10.0)
    elif loss == "high":
        mix = 0.7 * 10.0 ** (-l_irr / 10.0) + 0.3 * 10.0 ** (-l_concrete / 10.0)
    else:
        raise DataError(f"O2I penetration: loss = {loss!r} is not 'low' or 'high'")
    return np.asarray(5.0 - 10.0 * np.log10(mix) + 0.5 * d_in, dtype="float64")


def edge_margin_db(probability, sigma_db) -> np.ndarray:
    """Edge-probability margin Φ⁻¹(p) · σ in dB (log-normal shadowing).

    Parameters
    ----------
    probability : array_like
        Probability that the signal at the cell edge is above the threshold, in
        [0.5, 0.9999] (0.9 is the cell-edge probability of the FCC's Mobility Fund
        and 5G Fund coverage specifications).
    sigma_db : array_like
        Standard deviation of the received level in dB (≥ 0), e.g.
        sqrt(σ_SF² + σ_pen²).

    Examples
    --------
    >>> round(float(edge_margin_db(0.9, 1.0)), 4)
    1.2816
    """
    p = np.asarray(probability, dtype="float64")
    if not ((p >= 0.5) & (p <= 0.9999)).all():
        bad = float(p[~((p >= 0.5) & (p <= 0.9999))].flat[0])
        raise DataError(f"edge margin: probability = {bad:g} is outside [0.5, 0.9999]")
    sigma = np.asarray(sigma_db, dtype="float64")
    if not (np.isfinite(sigma).all() and (sigma >= 0).all()):
        raise DataError(f"edge margin: sigma_db = {sigma_db!r} must be finite and >= 0")
    return np.asarray(ndtri(p) * sigma, dtype="float64")


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class BandBudget:
    """Transmit side of one band's budget (see ``geo5g/settings/linkbudget.toml``).

    Attributes
    ----------
    fc_ghz : float
        Downlink carrier centre in GHz.
    bandwidth_mhz, scs_khz : float
        Channel bandwidth and subcarrier spacing.
    n_rb : int
        Transmission bandwidth in resource blocks (TS 38.101-1 Table 5.3.2-1).
    tx_power_dbm : float
        Total conducted transmit power.
    antenna_gain_dbi : float
        BS antenna (beamformed) gain.
    feeder_loss_db : float
        Loss between radio and antenna.
    """

    fc_ghz: float
    bandwidth_mhz: float
    scs_khz: float
    n_rb: int
    tx_power_dbm: float
    antenna_gain_dbi: float
    feeder_loss_db: float

    @property
    def re_offset_db(self) -> float:
        """10·log10(12 · N_RB): total power minus power per resource element."""
        return 10.0 * math.log10(12 * self.n_rb)


@dataclass(frozen=True)
class LinkBudgetSettings:
    """Link-budget settings (every value's source is in ``geo5g/settings/linkbudget.toml``).

    Attributes
    ----------
    bands : Mapping[str, BandBudget]
        Band label (of :data:`geo5g.vocabulary.BANDS`) → transmit budget.
    default_band : str
        Band used for sites whose band is missing or unknown.
    rsrp_threshold_dbm : float
        SS-RSRP a covered UE must receive.
    ue_antenna_gain_dbi, body_loss_db : float
        Receive side.
    h_ut_m : float
        UT height.
    h_bs_m : Mapping[str, float]
        Scenario → BS height of sites without ``height_m``.
    umi_below_m : float
        Urban sites with a given height below this (and no scenario) are UMi.
    building_height_m, street_width_m : float
        RMa's h and W.
    car_mean_db, car_sigma_db : float
        In-vehicle penetration loss.
    o2i_low_sigma_db, o2i_high_sigma_db : float
        σ_P of the low- and high-loss O2I models.
    indoor_distance_m : Mapping[str, float]
        Scenario → d2D-in of PL_in.
    source : str
        Where the settings came from.
    """

    bands: Mapping[str, BandBudget]
    default_band: str
    rsrp_threshold_dbm: float
    ue_antenna_gain_dbi: float
    body_loss_db: float
    h_ut_m: float
    h_bs_m: Mapping[str, float]
    umi_below_m: float
    building_height_m: float
    street_width_m: float
    car_mean_db: float
    car_sigma_db: float
    o2i_low_sigma_db: float
    o2i_high_sigma_db: float
    indoor_distance_m: Mapping[str, float]
    source: str = "<defaults>"


# key → (lowest, highest, unit) of every number in the settings file
_RECEIVER = {
    "rsrp_threshold_dbm": (-156.0, -31.0, "dBm (the SS-RSRP range of TS 38.133)"),
    "ue_antenna_gain_dbi": (-10.0, 20.0, "dBi"),
    "body_loss_db": (0.0, 20.0, "dB"),
    # inside both UMa/UMi's 1.5–22.5 m and RMa's 1–10 m, so every scenario is valid
    "ut_height_m": (1.5, 10.0, "m"),
}
_RMA = {"building_height_m": (5.0, 50.0, "m"), "street_width_m": (5.0, 50.0, "m")}
_PENETRATION = {
    "car_mean_db": (0.0, 40.0, "dB"),
    "car_sigma_db": (0.0, 20.0, "dB"),
    "o2i_low_sigma_db": (0.0, 20.0, "dB"),
    "o2i_high_sigma_db": (0.0, 20.0, "dB"),
}
_INDOOR = {"UMa": (0.0, 25.0, "m"), "UMi": (0.0, 25.0, "m"), "RMa": (0.0, 10.0, "m")}
_BAND = {
    # RMa's 0.5–30 GHz: the narrowest frequency range of the three scenarios
    "fc_ghz": (0.5, 30.0, "GHz"),
    "bandwidth_mhz": (5.0, 100.0, "MHz"),
    "scs_khz": (15.0, 30.0, "kHz"),
    "tx_power_dbm": (-30.0, 70.0, "dBm"),
    "antenna_gain_dbi": (-10.0, 40.0, "dBi"),
    "feeder_loss_db": (0.0, 20.0, "dB"),
}


class _Reader:
    """Collects every problem of a settings file, to report them in one line."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[str] = []

    def table(self, data, name: str, keys) -> Mapping:
        if name:
            node = data
            for part in name.split("."):
                node = node.get(part) if isinstance(node, Mapping) else None
            if not isinstance(node, Mapping):
                self.problems.append(f"[{name}] is missing; add it as in {_BUNDLED}")
                return {}
        else:
            node = data
        for key in node:
            if key not in keys:
                where = f"{name}.{key}" if name else key
                self.problems.append(
                    f"{where} is not a known key; remove it (known: {', '.join(keys)})"
                )
        return node

    def number(self, table: Mapping, name: str, key: str, lo: float, hi: float, unit: str) -> float:
        where = f"{name}.{key}"
        if key not in table:
            self.problems.append(f"{where} is missing; add {key} = <{unit}>")
            return float("nan")
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problems.append(f"{where} = {value!r} is not a number; write a number in {unit}")
            return float("nan")
        number = float(value)
        if not math.isfinite(number):
            self.problems.append(f"{where} = {value!r} is not finite; write a number in {unit}")
        elif not lo <= number <= hi:
            self.problems.append(f"{where} = {value!r} is outside [{lo:g}, {hi:g}] {unit}")
        return number


_BUNDLED = "geo5g/settings/linkbudget.toml"


def load_link_budget(path=None) -> LinkBudgetSettings:
    """Load link-budget settings from a TOML file (default: the bundled ``linkbudget.toml``).

    Parameters
    ----------
    path : str or pathlib.Path, optional
        A TOML file with the tables and keys of ``geo5g/settings/linkbudget.toml``
        (all of them).

    Returns
    -------
    LinkBudgetSettings

    Raises
    ------
    InputError
        The file cannot be read.
    DataError
        The file is not TOML, or has unknown, missing, non-numeric, non-finite or
        out-of-range values: all of them in one line naming the file, key, value
        and fix.

    Examples
    --------
    >>> s = load_link_budget()
    >>> s.bands["3.5GHz"].n_rb, s.rsrp_threshold_dbm
    (273, -105.0)
    """
    data, source = read_settings_toml(path, _DEFAULT_SETTINGS, _BUNDLED, "link-budget settings")

    r = _Reader(source)
    r.table(data, "", ("receiver", "sites", "rma", "penetration", "bands"))
    receiver = r.table(data, "receiver", tuple(_RECEIVER))
    rx = {k: r.number(receiver, "receiver", k, *v) for k, v in _RECEIVER.items()}
    sites = r.table(data, "sites", ("default_band", "umi_below_m", "bs_height_m"))
    umi_below = r.number(sites, "sites", "umi_below_m", 0.0, 150.0, "m")
    heights = r.table(data, "sites.bs_height_m", SCENARIOS)
    h_bs = {
        s: r.number(heights, "sites.bs_height_m", s, *VALIDITY[s]["h_bs_m"], "m") for s in SCENARIOS
    }
    rma = r.table(data, "rma", tuple(_RMA))
    rma_values = {k: r.number(rma, "rma", k, *v) for k, v in _RMA.items()}
    pen = r.table(data, "penetration", (*_PENETRATION, "indoor_distance_m"))
    pen_values = {k: r.number(pen, "penetration", k, *v) for k, v in _PENETRATION.items()}
    indoor = r.table(data, "penetration.indoor_distance_m", SCENARIOS)
    d_in = {s: r.number(indoor, "penetration.indoor_distance_m", s, *v) for s, v in _INDOOR.items()}

    bands: dict[str, BandBudget] = {}
    table = r.table(data, "bands", BANDS)
    for band in BANDS:
        if band not in table:
            continue
        name = f'bands."{band}"'
        row = table[band]
        if not isinstance(row, Mapping):
            r.problems.append(f"{name} = {row!r} is not a table; write [{name}] with its keys")
            continue
        for key in row:
            if key not in _BAND:
                r.problems.append(
                    f"{name}.{key} is not a known key; remove it (known: {', '.join(_BAND)})"
                )
        v = {k: r.number(row, name, k, *lim) for k, lim in _BAND.items()}
        n_rb = N_RB.get((v["bandwidth_mhz"], v["scs_khz"]))
        if n_rb is None and math.isfinite(v["bandwidth_mhz"]) and math.isfinite(v["scs_khz"]):
            valid = sorted(bw for bw, scs in N_RB if scs == v["scs_khz"])
            r.problems.append(
                f"{name}: bandwidth_mhz = {v['bandwidth_mhz']:g} at scs_khz = {v['scs_khz']:g} is "
                f"not in TS 38.101-1 Table 5.3.2-1; use one of {', '.join(f'{b:g}' for b in valid)}"
                if valid
                else f"{name}: scs_khz = {v['scs_khz']:g} is not 15 or 30"
            )
        bands[band] = BandBudget(n_rb=n_rb or 0, **v)
    if not table and "bands" in data:
        r.problems.append("[bands] lists no band; add at least the default band")
    default = sites.get("default_band")
    if "default_band" not in sites:
        r.problems.append('sites.default_band is missing; add default_band = "3.5GHz"')
    elif default not in bands:
        r.problems.append(
            f"sites.default_band = {default!r} is not a band of [bands]; "
            f"use one of {', '.join(bands) or ', '.join(BANDS)}"
        )
    if r.problems:
        raise DataError(f"{source}: " + "; ".join(r.problems))
    return LinkBudgetSettings(
        bands=MappingProxyType(bands),
        default_band=default,
        rsrp_threshold_dbm=rx["rsrp_threshold_dbm"],
        ue_antenna_gain_dbi=rx["ue_antenna_gain_dbi"],
        body_loss_db=rx["body_loss_db"],
        h_ut_m=rx["ut_height_m"],
        h_bs_m=MappingProxyType(h_bs),
        umi_below_m=umi_below,
        building_height_m=rma_values["building_height_m"],
        street_width_m=rma_values["street_width_m"],
        car_mean_db=pen_values["car_mean_db"],
        car_sigma_db=pen_values["car_sigma_db"],
        o2i_low_sigma_db=pen_values["o2i_low_sigma_db"],
        o2i_high_sigma_db=pen_values["o2i_high_sigma_db"],
        indoor_distance_m=MappingProxyType(d_in),
        source=source,
    )


# --------------------------------------------------------------------------- the model

_SERVICE_LABEL = {
    "outdoor": "outdoor",
    "vehicle": "in-vehicle",
    "indoor": "indoor (low-loss O2I)",
    "indoor-high": "indoor (high-loss O2I)",
}
_MODE_LABEL = {"nlos": "NLOS", "los": "LOS", "weighted": "LOS-probability-weighted"}
_BISECTIONS = 60  # halvings of log(d): 2.7 decades / 2^60, far below 0.01 dB
_PL_TOLERANCE_DB = 0.01


def _numeric_column(sites, name: str, n: int) -> np.ndarray:
    """A site column as float64 (NaN where missing or not a number)."""
    if name not in sites.columns:
        return np.full(n, np.nan)
    return pd.to_numeric(sites[name], errors="coerce").to_numpy("float64", na_value=np.nan)


#: Site columns that change a site's link budget besides its band and scenario.
_OWN_INPUTS = ("height_m", "tx_power_dbm", "antenna_gain_dbi", "eirp_dbm")


@dataclass(frozen=True, eq=False)
class SiteCombinations:
    """Sites grouped by their link-budget inputs (:meth:`LinkBudgetModel.combinations`).

    Attributes
    ----------
    combo : numpy.ndarray of int64
        Per site, its group.
    band, scenario, h_bs, eirp : numpy.ndarray
        Per group: band code, scenario code, BS height (m), EIRP (dBm).
    radius_m : numpy.ndarray
        Per site, its own ``radius_m`` (NaN where it has none).
    """

    combo: np.ndarray
    band: np.ndarray
    scenario: np.ndarray
    h_bs: np.ndarray
    eirp: np.ndarray
    radius_m: np.ndarray


@dataclass(frozen=True)
class LinkBudgetModel:
    """Reach from a TR 38.901 link budget; a site's ``radius_m`` overrides it.

    Parameters
    ----------
    settings : LinkBudgetSettings
        Band budgets and receive side (:func:`load_link_budget`).
    service : {"outdoor", "vehicle", "indoor", "indoor-high"}, default "outdoor"
        Where the UE is: no penetration, in a car (§7.4.3.2), indoors behind the
        low-loss or the high-loss O2I model (Table 7.4.3-2).
    probability : float, default 0.9
        Probability that the RSRP at the edge of the reach meets the threshold,
        in [0.5, 0.9999].
    los : {"nlos", "los", "weighted"}, default "nlos"
        Propagation condition; NLOS is the conservative planning choice.

    Notes
    -----
    Per site: the band (missing or unknown → ``settings.default_band``), the
    scenario (``scenario`` column, else urban → UMa, or UMi when the site's
    ``height_m`` is below ``settings.umi_below_m``; rural → RMa), the BS height
    (``height_m``, else the scenario's default; clamped into the scenario's
    :data:`VALIDITY` range) and the total EIRP (``eirp_dbm``, else
    ``tx_power_dbm`` + ``antenna_gain_dbi`` − feeder loss, each column falling back
    to the band's value). The reach is solved once per distinct combination of
    those four and broadcast back to the sites.

    The reach is the first ground distance where PL(d) + penetration + margin(d)
    reaches the link budget, by bisection over the validity distances. It is a root
    of PL = MAPL because the path loss rises with distance (NLOS is a max of two
    rising curves, the LOS probability falls for hUT ≤ 13 m); RMa LOS has the
    σSF step at dBP, where the reach can stop at the breakpoint (``limit`` =
    "sf-step" in :meth:`table`).

    Examples
    --------
    >>> import pandas as pd, numpy as np
    >>> model = LinkBudgetModel(load_link_budget())
    >>> sites = pd.DataFrame({"band": ["3.5GHz", None], "radius_m": [np.nan, 42.0]})
    >>> model.reach_m(sites, np.array([True, True])).round(0).tolist()
    [863.0, 42.0]
    """

    settings: LinkBudgetSettings
    service: str = "outdoor"
    probability: float = 0.9
    los: str = "nlos"

    def __post_init__(self):
        if self.service not in SERVICES:
            raise DataError(
                f"link budget: service = {self.service!r} is not one of {', '.join(SERVICES)}"
            )
        if self.los not in LOS_MODES:
            raise DataError(f"link budget: los = {self.los!r} is not one of {', '.join(LOS_MODES)}")
        p = self.probability
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.5 <= p <= 0.9999:
            raise DataError(f"link budget: probability = {p!r} is outside [0.5, 0.9999]")

    # ------------------------------------------------------------------ per site

    def reach_m(self, sites, urban: np.ndarray, *, combinations=None) -> np.ndarray:
        """Reach of every site in metres (see :class:`geo5g.coverage.CoverageModel`).

        ``combinations`` (:meth:`combinations` of the same sites and flags, from any
        model with these settings) skips grouping the sites again: the grouping does
        not depend on the service, so a run judging several services does it once.
        """
        c = combinations if combinations is not None else self.combinations(sites, urban)
        solved = self._solve(
            c.band, c.scenario, c.h_bs, c.eirp, np.full(c.band.size, SERVICES.index(self.service))
        )
        reach = solved["reach_m"][c.combo] if c.combo.size else np.zeros(0)
        given = np.isfinite(c.radius_m) & (c.radius_m > 0)
        return np.where(given, c.radius_m, reach).astype("float64")

    def combinations(self, sites, urban: np.ndarray) -> SiteCombinations:
        """The sites grouped by what the budget uses, one solve per group, not per site.

        A site's inputs (:meth:`site_inputs`) are a function of its band, its scenario
        and its own ``height_m``, ``tx_power_dbm``, ``antenna_gain_dbi`` and
        ``eirp_dbm``; the sites are grouped by those values (the numeric columns only
        when a file gives them) and the inputs are worked out for one site per group.
        """
        n = len(sites)
        urban = np.asarray(urban, dtype=bool)
        if urban.shape != (n,):
            raise DataError(f"urban flags: {urban.shape[0]} values for {n} sites")
        band = self._band_codes(sites, list(self.settings.bands), n)
        height = _numeric_column(sites, "height_m", n)
        scenario = self._scenario_codes(sites, urban, height, n)
        key = band.astype("int64") * len(SCENARIOS) + scenario
        for column in _OWN_INPUTS:
            if column not in sites.columns:
                continue  # no 4.8 M NaN arrays for columns a file does not have
            values = height if column == "height_m" else _numeric_column(sites, column, n)
            if not np.isfinite(values).any():
                continue  # absent or empty: the band and scenario decide
            # pack the group so far and this column's codes into one int64, renumbered
            # first so that the product stays far below 2**63
            key, _ = pd.factorize(key)
            codes, uniques = pd.factorize(values)  # NaN → −1
            key = key.astype("int64") * (len(uniques) + 1) + (codes + 1)
        combo, uniques = pd.factorize(key)
        # first site of each group, in one pass (no sort): written in reverse order,
        # the earliest site of a code is the last write and stays
        first = np.empty(len(uniques), dtype=np.int64)
        first[combo[::-1]] = np.arange(n - 1, -1, -1)
        b, sc, h_bs, eirp = self.site_inputs(sites.iloc[first], urban[first])
        return SiteCombinations(
            combo=np.asarray(combo, dtype=np.int64),
            band=b,
            scenario=sc,
            h_bs=h_bs,
            eirp=eirp,
            radius_m=_numeric_column(sites, "radius_m", n),
        )

    def site_inputs(self, sites, urban: np.ndarray):
        """Per site: band code, scenario code, BS height (m) and EIRP (dBm) the budget uses.

        The site's own columns where given (``height_m`` clamped into the scenario's
        accepted range, ``eirp_dbm``, else ``tx_power_dbm`` + ``antenna_gain_dbi`` −
        feeder loss), the band's defaults otherwise. Shared by :meth:`reach_m` and
        :func:`geo5g.signal.site_rsrp_params`, so both see the same sites.
        """
        n = len(sites)
        s = self.settings
        names = list(s.bands)
        band = self._band_codes(sites, names, n)
        height = _numeric_column(sites, "height_m", n)
        scenario = self._scenario_codes(sites, np.asarray(urban, dtype=bool), height, n)
        default_h = np.array([s.h_bs_m[x] for x in SCENARIOS])
        lo = np.array([VALIDITY[x]["h_bs_m"][0] for x in SCENARIOS])
        hi = np.array([VALIDITY[x]["h_bs_m"][1] for x in SCENARIOS])
        # heights outside the scenario's accepted range are clamped (documented)
        h_bs = np.clip(
            np.where(np.isfinite(height), height, default_h[scenario]), lo[scenario], hi[scenario]
        )
        budgets = [s.bands[b] for b in names]
        tx = _numeric_column(sites, "tx_power_dbm", n)
        gain = _numeric_column(sites, "antenna_gain_dbi", n)
        eirp = _numeric_column(sites, "eirp_dbm", n)
        tx = np.where(np.isfinite(tx), tx, np.array([b.tx_power_dbm for b in budgets])[band])
        gain = np.where(
            np.isfinite(gain), gain, np.array([b.antenna_gain_dbi for b in budgets])[band]
        )
        feeder = np.array([b.feeder_loss_db for b in budgets])[band]
        eirp = np.where(np.isfinite(eirp), eirp, tx + gain - feeder)
        return band, scenario, h_bs, eirp

    def _band_codes(self, sites, names: list[str], n: int) -> np.ndarray:
        """Index into ``names`` of each site's band (missing or unknown → default)."""
        default = names.index(self.settings.default_band)
        if "band" not in sites.columns or n == 0:
            return np.full(n, default)
        codes, labels = pd.factorize(sites["band"])
        # normalise only the distinct labels ("n78", "3500" → "3.5GHz")
        canonical = normalise_band(pd.Series(labels, dtype="object").astype("str")).tolist()
        lookup = np.array(
            [names.index(c) if isinstance(c, str) and c in names else default for c in canonical]
            + [default],  # code −1 (missing) picks this last entry
            dtype="int64",
        )
        return lookup[codes]

    def _scenario_codes(self, sites, urban, height, n: int) -> np.ndarray:
        """Index into SCENARIOS of each site: its own, else the urban/height rule."""
        # urban → UMa, or UMi for low antennas (below the rooftops); rural → RMa
        rule = np.where(urban, np.where(height < self.settings.umi_below_m, 1, 0), 2)
        if "scenario" not in sites.columns or n == 0:
            return rule
        codes, labels = pd.factorize(sites["scenario"])
        known = {x.casefold(): i for i, x in enumerate(SCENARIOS)}
        lookup = []
        for label in labels:
            text = str(label).strip().casefold()
            if text in ("", "nan", "none", "<na>"):
                lookup.append(-1)
            elif text in known:
                lookup.append(known[text])
            else:
                rows = int(np.count_nonzero(codes == len(lookup)))
                raise DataError(
                    f"sites: {rows} rows have scenario {label!r}; use UMa, UMi or RMa, "
                    "or leave it blank for the urban/rural rule"
                )
        own = np.array([*lookup, -1], dtype="int64")[codes]
        return np.where(own >= 0, own, rule)

    # ------------------------------------------------------------------ solver

    def _penetration(self, service, scenario, fc):
        """Mean and σ of the service's penetration loss per combination (dB)."""
        s = self.settings
        d_in = np.array([s.indoor_distance_m[x] for x in SCENARIOS])[scenario]
        mean = np.zeros(fc.shape)
        sigma = np.zeros(fc.shape)
        car = service == SERVICES.index("vehicle")
        mean[car], sigma[car] = s.car_mean_db, s.car_sigma_db
        for name, loss, sig in (
            ("indoor", "low", s.o2i_low_sigma_db),
            ("indoor-high", "high", s.o2i_high_sigma_db),
        ):
            sel = service == SERVICES.index(name)
            if sel.any():
                mean[sel] = o2i_penetration_db(fc[sel], loss, d_in[sel])
                sigma[sel] = sig
        return mean, sigma

    def _solve(self, band, scenario, h_bs, eirp, service) -> dict[str, np.ndarray]:
        """Reach and budget of each combination (arrays aligned with the inputs)."""
        s = self.settings
        budgets = [s.bands[b] for b in s.bands]
        fc = np.array([b.fc_ghz for b in budgets])[band]
        re_offset = np.array([b.re_offset_db for b in budgets])[band]
        h_ut = np.full(fc.shape, s.h_ut_m)
        # SS-RSRP budget before penetration and margin: EIRP per RE + UE gain − body
        # loss − threshold
        budget = eirp - re_offset + s.ue_antenna_gain_dbi - s.body_loss_db - s.rsrp_threshold_dbm
        pen_mean, pen_sigma = self._penetration(service, scenario, fc)
        z = float(ndtri(self.probability))
        h, w = s.building_height_m, s.street_width_m

        reach = np.zeros(fc.shape)
        pl_at = np.zeros(fc.shape)
        sigma_sf = np.zeros(fc.shape)
        limit = np.full(fc.shape, "mapl", dtype=object)
        for code, name in enumerate(SCENARIOS):
            sel = np.flatnonzero(scenario == code)
            if sel.size == 0:
                continue
            args = (fc[sel], h_bs[sel], h_ut[sel])
            room = budget[sel] - pen_mean[sel]
            pen_var = np.square(pen_sigma[sel])

            def excess(d, name=name, args=args, room=room, pen_var=pen_var):
                # PL + margin − room: ≥ 0 where the edge probability falls below p
                sf = _sigma_sf(name, self.los, d, *args)
                pl = _pl(name, self.los, d, *args, h, w)
                return pl + z * np.sqrt(np.square(sf) + pen_var) - room

            d_min, d_max = VALIDITY[name]["d2d_m_los" if self.los == "los" else "d2d_m_nlos"]
            lo = np.full(sel.size, math.log(d_min))
            hi = np.full(sel.size, math.log(d_max))
            short = excess(np.exp(lo)) >= 0  # not even the shortest valid distance
            far = excess(np.exp(hi)) < 0  # budget left at the longest valid distance
            for _ in range(_BISECTIONS):
                mid = 0.5 * (lo + hi)
                up = excess(np.exp(mid)) >= 0
                hi = np.where(up, mid, hi)
                lo = np.where(up, lo, mid)
            d = np.where(short, d_min, np.where(far, d_max, np.exp(hi)))
            reach[sel] = d
            pl_at[sel] = _pl(name, self.los, d, *args, h, w)
            sigma_sf[sel] = _sigma_sf(name, self.los, d, *args)
            gap = np.abs(excess(d))
            limit[sel] = np.where(
                short,
                "min-distance",
                np.where(far, "max-distance", np.where(gap < _PL_TOLERANCE_DB, "mapl", "sf-step")),
            )
        sigma = np.sqrt(np.square(sigma_sf) + np.square(pen_sigma))
        margin = z * sigma
        return {
            "fc_ghz": fc,
            "re_offset_db": re_offset,
            "h_ut_m": h_ut,
            "penetration_db": pen_mean,
            "sigma_pen_db": pen_sigma,
            "sigma_sf_db": sigma_sf,
            "sigma_db": sigma,
            "margin_db": margin,
            "mapl_db": budget - pen_mean - margin,
            "reach_m": reach,
            "path_loss_db": pl_at,
            "limit": limit,
        }

    # ------------------------------------------------------------------ reporting

    def table(self) -> pd.DataFrame:
        """The whole budget at the default heights: one row per band × scenario × service.

        Returns
        -------
        pandas.DataFrame
            Columns ``band, scenario, service, fc_ghz, bandwidth_mhz, scs_khz, n_rb,
            p_total_dbm, p_re_dbm, g_tx_dbi, feeder_loss_db, g_rx_dbi, body_loss_db,
            rsrp_threshold_dbm, penetration_db, sigma_sf_db, sigma_pen_db, sigma_db,
            margin_db, mapl_db, h_bs_m, h_ut_m, reach_m, path_loss_db, clamped,
            limit``, where ``mapl_db = p_re_dbm + g_tx_dbi − feeder_loss_db + g_rx_dbi
            − body_loss_db − rsrp_threshold_dbm − penetration_db − margin_db`` and
            ``margin_db = Φ⁻¹(p) · sigma_db``. ``path_loss_db`` is the path loss at
            ``reach_m``; ``limit`` says what ended the reach: "mapl" (PL = MAPL),
            "max-distance"/"min-distance" (``clamped`` to the validity distances) or
            "sf-step" (RMa LOS σSF step at dBP). The model's own ``service`` does not
            restrict the rows: every service is listed.
        """
        s = self.settings
        names = list(s.bands)
        grid = pd.MultiIndex.from_product(
            [names, SCENARIOS, SERVICES], names=["band", "scenario", "service"]
        ).to_frame(index=False)
        band = pd.Index(names).get_indexer(grid["band"])
        scenario = pd.Index(SCENARIOS).get_indexer(grid["scenario"])
        service = pd.Index(SERVICES).get_indexer(grid["service"])
        budgets = [s.bands[b] for b in names]
        p_total = np.array([b.tx_power_dbm for b in budgets])[band]
        g_tx = np.array([b.antenna_gain_dbi for b in budgets])[band]
        feeder = np.array([b.feeder_loss_db for b in budgets])[band]
        h_bs = np.array([s.h_bs_m[x] for x in SCENARIOS])[scenario]
        out = self._solve(band, scenario, h_bs, p_total + g_tx - feeder, service)
        grid["fc_ghz"] = out["fc_ghz"]
        grid["bandwidth_mhz"] = np.array([b.bandwidth_mhz for b in budgets])[band]
        grid["scs_khz"] = np.array([b.scs_khz for b in budgets])[band]
        grid["n_rb"] = np.array([b.n_rb for b in budgets])[band]
        grid["p_total_dbm"] = p_total
        grid["p_re_dbm"] = p_total - out["re_offset_db"]
        grid["g_tx_dbi"] = g_tx
        grid["feeder_loss_db"] = feeder
        grid["g_rx_dbi"] = s.ue_antenna_gain_dbi
        grid["body_loss_db"] = s.body_loss_db
        grid["rsrp_threshold_dbm"] = s.rsrp_threshold_dbm
        for column in (
            "penetration_db", "sigma_sf_db", "sigma_pen_db", "sigma_db", "margin_db", "mapl_db",
        ):  # fmt: skip
            grid[column] = out[column]
        grid["h_bs_m"] = h_bs
        grid["h_ut_m"] = out["h_ut_m"]
        grid["reach_m"] = out["reach_m"]
        grid["path_loss_db"] = out["path_loss_db"]
        grid["clamped"] = np.isin(out["limit"], ["max-distance", "min-distance"])
        grid["limit"] = pd.array(out["limit"], dtype="str")
        return grid

    def describe(self) -> str:
        """One line: what the model assumes.

        Examples
        --------
        >>> LinkBudgetModel(load_link_budget(), service="vehicle").describe()
        'TR 38.901 NLOS link budget, in-vehicle, p = 0.9, RSRP ≥ −105 dBm'
        """
        threshold = f"{self.settings.rsrp_threshold_dbm:g}".replace("-", "−")
        return (
            f"TR 38.901 {_MODE_LABEL[self.los]} link budget, {_SERVICE_LABEL[self.service]}, "
            f"p = {self.probability:g}, RSRP ≥ {threshold} dBm"
        )
