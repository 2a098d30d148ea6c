"""Tests for geo5g.linkbudget: TR 38.901 path loss, penetration, margin, the model.

The expected path losses are the formulas of 3GPP TR 38.901 Table 7.4.1-1 written
out with literal numbers (``math.log10``), independent of the module's helpers.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo5g.coverage import CoverageModel
from geo5g.errors import DataError, InputError
from geo5g.linkbudget import (
    VALIDITY,
    LinkBudgetModel,
    breakpoint_distance_m,
    edge_margin_db,
    load_link_budget,
    los_probability,
    o2i_penetration_db,
    path_loss_db,
    shadow_fading_db,
)

SETTINGS = load_link_budget()
MODEL = LinkBudgetModel(SETTINGS)
BUNDLED = Path(__file__).resolve().parents[1] / "geo5g" / "settings" / "linkbudget.toml"
log10 = math.log10
Z90 = 1.2815515655446004  # Φ⁻¹(0.9)


def _row(table, band, scenario, service):
    sel = table[
        (table["band"] == band) & (table["scenario"] == scenario) & (table["service"] == service)
    ]
    assert len(sel) == 1
    return sel.iloc[0]


# --------------------------------------------------------------------------- path loss


def test_uma_los_both_sides_of_breakpoint():
    # d'BP = 4 (25 − 1)(1.5 − 1) · 3.5e9 / 3e8 = 560 m
    assert breakpoint_distance_m("UMa", 3.5, 25.0, 1.5) == pytest.approx(560.0)
    d3d = math.sqrt(100**2 + 23.5**2)
    pl1 = 28.0 + 22 * log10(d3d) + 20 * log10(3.5)
    assert path_loss_db("UMa", 100.0, 3.5, 25.0, los=True) == pytest.approx(pl1, abs=1e-9)
    d3d = math.sqrt(1000**2 + 23.5**2)
    pl2 = 28.0 + 40 * log10(d3d) + 20 * log10(3.5) - 9 * log10(560.0**2 + 23.5**2)
    assert path_loss_db("UMa", 1000.0, 3.5, 25.0, los=True) == pytest.approx(pl2, abs=1e-9)


def test_uma_nlos_and_the_max_rule_picking_los():
    d3d = math.sqrt(100**2 + 23.5**2)
    nlos = 13.54 + 39.08 * log10(d3d) + 20 * log10(3.5) - 0.6 * (1.5 - 1.5)
    assert path_loss_db("UMa", 100.0, 3.5, 25.0) == pytest.approx(nlos, abs=1e-9)
    # a 22.5 m UT 20 m from the mast: PL'_NLOS (with −0.6 · 21 dB) is below PL_LOS,
    # so NLOS = max(PL_LOS, PL'_NLOS) is the LOS value (d'BP = 4·24·21.5·3.5e9/3e8 ≫ 20 m)
    d3d = math.sqrt(20**2 + 2.5**2)
    los = 28.0 + 22 * log10(d3d) + 20 * log10(3.5)
    prime = 13.54 + 39.08 * log10(d3d) + 20 * log10(3.5) - 0.6 * (22.5 - 1.5)
    assert los > prime + 4
    assert path_loss_db("UMa", 20.0, 3.5, 25.0, 22.5) == pytest.approx(los, abs=1e-9)


def test_umi_los_and_nlos():
    # d'BP = 4 (10 − 1)(1.5 − 1) · 2.6e9 / 3e8 = 156 m
    assert breakpoint_distance_m("UMi", 2.6, 10.0) == pytest.approx(156.0)
    d3d = math.sqrt(100**2 + 8.5**2)
    assert path_loss_db("UMi", 100.0, 2.6, 10.0, los=True) == pytest.approx(
        32.4 + 21 * log10(d3d) + 20 * log10(2.6), abs=1e-9
    )
    assert path_loss_db("UMi", 100.0, 2.6, 10.0) == pytest.approx(
        35.3 * log10(d3d) + 22.4 + 21.3 * log10(2.6), abs=1e-9
    )
    d3d = math.sqrt(400**2 + 8.5**2)
    pl2 = 32.4 + 40 * log10(d3d) + 20 * log10(2.6) - 9.5 * log10(156.0**2 + 8.5**2)
    assert path_loss_db("UMi", 400.0, 2.6, 10.0, los=True) == pytest.approx(pl2, abs=1e-9)
    assert path_loss_db("UMi", 400.0, 2.6, 10.0) == pytest.approx(
        max(pl2, 35.3 * log10(d3d) + 22.4 + 21.3 * log10(2.6)), abs=1e-9
    )


def _rma_pl1(d, fc, h=5.0):
    return (
        20 * log10(40 * math.pi * d * fc / 3)
        + min(0.03 * h**1.72, 10) * log10(d)
        - min(0.044 * h**1.72, 14.77)
        + 0.002 * log10(h) * d
    )


def test_rma_los_both_sides_of_breakpoint():
    dbp = 2 * math.pi * 35 * 1.5 * 3.5e9 / 3e8  # 3848 m
    assert breakpoint_distance_m("RMa", 3.5, 35.0) == pytest.approx(dbp)
    d3d = math.sqrt(1000**2 + 33.5**2)
    assert path_loss_db("RMa", 1000.0, 3.5, 35.0, los=True) == pytest.approx(
        _rma_pl1(d3d, 3.5), abs=1e-9
    )
    d3d = math.sqrt(6000**2 + 33.5**2)
    pl2 = _rma_pl1(dbp, 3.5) + 40 * log10(d3d / dbp)
    assert path_loss_db("RMa", 6000.0, 3.5, 35.0, los=True) == pytest.approx(pl2, abs=1e-9)
    # σSF 4 dB for PL1, 6 dB for PL2
    sigma = shadow_fading_db("RMa", [1000.0, 6000.0], 3.5, 35.0, los=True)
    assert sigma.tolist() == [4.0, 6.0]


def test_rma_nlos():
    w, h, hbs, hut, fc = 20.0, 5.0, 35.0, 1.5, 0.773
    for d2d in (1000.0, 4000.0):
        d3d = math.sqrt(d2d**2 + 33.5**2)
        prime = (
            161.04
            - 7.1 * log10(w)
            + 7.5 * log10(h)
            - (24.37 - 3.7 * (h / hbs) ** 2) * log10(hbs)
            + (43.42 - 3.1 * log10(hbs)) * (log10(d3d) - 3)
            + 20 * log10(fc)
            - (3.2 * log10(11.75 * hut) ** 2 - 4.97)
        )
        dbp = 2 * math.pi * 35 * 1.5 * 0.773e9 / 3e8  # 850 m: both points use PL2
        los = _rma_pl1(dbp, fc) + 40 * log10(d3d / dbp)
        assert path_loss_db("RMa", d2d, fc, hbs) == pytest.approx(max(los, prime), abs=1e-9)
        assert prime > los  # NLOS here is the PL' branch
    # other h and W enter only PL'
    d3d = math.sqrt(2000**2 + 33.5**2)
    prime = (
        161.04
        - 7.1 * log10(30.0)
        + 7.5 * log10(12.0)
        - (24.37 - 3.7 * (12.0 / 35) ** 2) * log10(35)
        + (43.42 - 3.1 * log10(35)) * (log10(d3d) - 3)
        + 20 * log10(3.5)
        - (3.2 * log10(11.75 * 1.5) ** 2 - 4.97)
    )
    assert path_loss_db("RMa", 2000.0, 3.5, 35.0, h_m=12.0, w_m=30.0) == pytest.approx(prime)


def test_path_loss_broadcasts():
    pl = path_loss_db("UMa", np.array([[100.0], [1000.0]]), np.array([0.7, 3.5, 4.9]), 25.0)
    assert pl.shape == (2, 3)
    assert pl[0, 1] == pytest.approx(float(path_loss_db("UMa", 100.0, 3.5, 25.0)))


def test_shadow_fading_values():
    assert float(shadow_fading_db("UMa", 500.0, 3.5, 25.0, los=True)) == 4.0
    assert float(shadow_fading_db("UMa", 500.0, 3.5, 25.0)) == 6.0
    assert float(shadow_fading_db("UMi", 500.0, 3.5, 10.0, los=True)) == 4.0
    assert float(shadow_fading_db("UMi", 500.0, 3.5, 10.0)) == 7.82
    assert float(shadow_fading_db("RMa", 500.0, 3.5, 35.0)) == 8.0


def test_los_probability_table():
    assert float(los_probability("UMa", 10.0)) == 1.0
    assert float(los_probability("UMi", 100.0)) == pytest.approx(
        18 / 100 + math.exp(-100 / 36) * (1 - 18 / 100)
    )
    assert float(los_probability("UMa", 100.0)) == pytest.approx(
        18 / 100 + math.exp(-100 / 63) * (1 - 18 / 100)
    )
    c = ((20.0 - 13) / 10) ** 1.5
    assert float(los_probability("UMa", 100.0, 20.0)) == pytest.approx(
        (18 / 100 + math.exp(-100 / 63) * (1 - 18 / 100))
        * (1 + c * 5 / 4 * (100 / 100) ** 3 * math.exp(-100 / 150))
    )
    assert float(los_probability("RMa", 510.0)) == pytest.approx(math.exp(-0.5))


def test_weighted_loss_is_the_linear_power_mean():
    p = 18 / 300 + math.exp(-300 / 36) * (1 - 18 / 300)
    los = float(path_loss_db("UMi", 300.0, 3.5, 10.0, los=True))
    nlos = float(path_loss_db("UMi", 300.0, 3.5, 10.0))
    expected = -10 * log10(p * 10 ** (-los / 10) + (1 - p) * 10 ** (-nlos / 10))
    assert path_loss_db("UMi", 300.0, 3.5, 10.0, los="weighted") == pytest.approx(expected)
    assert los < expected < nlos


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: path_loss_db("RMa", 6000.0, 3.5, 35.0), "d2d_m"),
        (lambda: path_loss_db("UMa", [100.0, 5.0], 3.5, 25.0), "d2d_m"),
        (lambda: path_loss_db("RMa", 100.0, 40.0, 35.0), "fc_ghz"),
        (lambda: path_loss_db("UMa", 100.0, 0.3, 25.0), "fc_ghz"),
        (lambda: path_loss_db("UMa", 100.0, 3.5, 200.0), "h_bs_m"),
        (lambda: path_loss_db("UMi", 100.0, 3.5, 40.0), "h_bs_m"),
        (lambda: path_loss_db("UMa", 100.0, 3.5, 25.0, 30.0), "h_ut_m"),
        (lambda: path_loss_db("RMa", 100.0, 3.5, 35.0, 12.0), "h_ut_m"),
        (lambda: path_loss_db("RMa", 100.0, 3.5, 35.0, h_m=60.0), "h_m"),
        (lambda: path_loss_db("RMa", 100.0, 3.5, 35.0, w_m=float("nan")), "w_m"),
    ],
)
def test_validity_errors_are_one_line_naming_the_parameter(call, name):
    with pytest.raises(DataError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    assert f"{name} = " in message
    assert "TR 38.901" in message


def test_rma_los_is_valid_to_10_km_but_nlos_only_to_5_km():
    assert np.isfinite(path_loss_db("RMa", 9000.0, 3.5, 35.0, los=True))
    with pytest.raises(DataError, match=r"d2d_m = 9000 is outside \[10, 5000\] m"):
        path_loss_db("RMa", 9000.0, 3.5, 35.0)


_SCENARIO_CASES = st.sampled_from(["UMa", "UMi", "RMa"])


@given(
    scenario=_SCENARIO_CASES,
    mode=st.sampled_from([True, False, "weighted"]),
    fc=st.floats(0.5, 30.0),
    u=st.floats(0.0, 1.0),
    v=st.floats(0.0, 1.0),
    hbs=st.floats(0.0, 1.0),
    hut=st.floats(0.0, 1.0),
    h=st.floats(5.0, 50.0),
)
def test_path_loss_rises_with_distance(scenario, mode, fc, u, v, hbs, hut, h):
    limits = VALIDITY[scenario]
    lo, hi = limits["d2d_m_los" if mode is True else "d2d_m_nlos"]
    d1, d2 = sorted(lo * (hi / lo) ** np.array([u, v]))
    h_bs = limits["h_bs_m"][0] + hbs * (limits["h_bs_m"][1] - limits["h_bs_m"][0])
    # UMa's LOS probability rises again for hUT > 13 m (C' term): keep the UT low
    h_lo, h_hi = limits["h_ut_m"]
    h_ut = h_lo + hut * (min(h_hi, 13.0) - h_lo)
    pl1, pl2 = path_loss_db(scenario, [d1, d2], fc, h_bs, h_ut, los=mode, h_m=h)
    # RMa's PL2 is anchored at PL1(dBP) at a 3D distance of dBP: it may step down at
    # dBP by less than 0.01 dB (tall masts, tall buildings); elsewhere PL never falls
    tolerance = 0.01 if scenario == "RMa" and mode is not False else 1e-9
    assert pl2 >= pl1 - tolerance


# --------------------------------------------------------------------------- penetration and margin


def test_o2i_low_and_high_loss():
    fc = 3.5
    l_glass, l_irr, l_concrete = 2 + 0.2 * fc, 23 + 0.3 * fc, 5 + 4 * fc
    low = 5 - 10 * log10(0.3 * 10 ** (-l_glass / 10) + 0.7 * 10 ** (-l_concrete / 10))
    high = 5 - 10 * log10(0.7 * 10 ** (-l_irr / 10) + 0.3 * 10 ** (-l_concrete / 10))
    assert o2i_penetration_db(fc, "low", 0.0) == pytest.approx(low)
    assert o2i_penetration_db(fc, "high", 0.0) == pytest.approx(high)
    # PL_in = 0.5 d2D-in with the default d2D-in = 25/3 m
    assert o2i_penetration_db(fc) == pytest.approx(low + 0.5 * 25 / 3)
    table = MODEL.table()
    indoor = _row(table, "3.5GHz", "UMa", "indoor")
    assert indoor["penetration_db"] == pytest.approx(low + 0.5 * 8.333)
    assert indoor["sigma_pen_db"] == 4.4
    high_row = _row(table, "3.5GHz", "RMa", "indoor-high")
    assert high_row["penetration_db"] == pytest.approx(high + 0.5 * 3.333)
    assert high_row["sigma_pen_db"] == 6.5
    with pytest.raises(DataError, match="fc_ghz"):
        o2i_penetration_db(200.0)


def test_car_penetration_and_outdoor():
    table = MODEL.table()
    car = table[table["service"] == "vehicle"]
    assert (car["penetration_db"] == 9.0).all()
    assert (car["sigma_pen_db"] == 5.0).all()
    outdoor = table[table["service"] == "outdoor"]
    assert (outdoor["penetration_db"] == 0.0).all()
    assert (outdoor["sigma_db"] == outdoor["sigma_sf_db"]).all()


def test_edge_margin():
    assert edge_margin_db(0.9, 1.0) == pytest.approx(1.2816, abs=1e-4)
    assert edge_margin_db(0.9, 7.44) == pytest.approx(1.28155 * 7.44, abs=1e-4)
    assert edge_margin_db(0.95, 8.0) == pytest.approx(1.64485 * 8.0, abs=1e-4)
    assert edge_margin_db(0.5, 8.0) == 0.0
    with pytest.raises(DataError, match=r"probability = 0\.3 "):
        edge_margin_db(0.3, 8.0)
    with pytest.raises(DataError, match=r"probability = 1 "):
        edge_margin_db(1.0, 8.0)


# --------------------------------------------------------------------------- the budget table


@pytest.mark.parametrize("los", ["nlos", "los", "weighted"])
def test_table_budget_adds_up_and_pl_at_reach_is_mapl(los):
    model = LinkBudgetModel(SETTINGS, los=los)
    table = model.table()
    assert len(table) == 5 * 3 * 4
    flag = {"nlos": False, "los": True, "weighted": "weighted"}[los]
    for row in table.itertuples():
        p_re = row.p_total_dbm - 10 * log10(12 * row.n_rb)
        assert row.p_re_dbm == pytest.approx(p_re)
        sf = float(
            shadow_fading_db(row.scenario, row.reach_m, row.fc_ghz, row.h_bs_m, 1.5, los=flag)
        )
        sigma = math.sqrt(sf**2 + row.sigma_pen_db**2)
        assert row.sigma_db == pytest.approx(sigma)
        mapl = (
            p_re
            + row.g_tx_dbi
            - row.feeder_loss_db
            + 0.0
            - 0.0
            - (-105.0)
            - row.penetration_db
            - Z90 * sigma
        )
        assert row.mapl_db == pytest.approx(mapl)
        pl = float(path_loss_db(row.scenario, row.reach_m, row.fc_ghz, row.h_bs_m, los=flag))
        if row.clamped:
            # the budget is not used up within the validity distance
            assert (
                row.reach_m
                == VALIDITY[row.scenario]["d2d_m_los" if los == "los" else "d2d_m_nlos"][1]
            )
            assert pl < mapl
        else:
            assert row.limit == "mapl"
            assert abs(pl - mapl) < 0.01


def test_default_table_values():
    table = MODEL.table()
    assert not table["clamped"].any()
    n_rb = table.groupby("band")["n_rb"].first().to_dict()
    assert n_rb == {"700MHz": 160, "2.1GHz": 106, "2.6GHz": 273, "3.5GHz": 273, "4.9GHz": 273}
    row = _row(table, "3.5GHz", "UMa", "outdoor")
    # 53 dBm − 10·log10(12 · 273) + 24 dBi + 105 dB − 1.2816 · 6 dB
    mapl = 53 - 10 * log10(3276) + 24 + 105 - Z90 * 6
    assert row["mapl_db"] == pytest.approx(mapl)
    # NLOS PL' = MAPL solved by hand: d3D = 10^((MAPL − 13.54 − 20 log10 3.5) / 39.08)
    d3d = 10 ** ((mapl - 13.54 - 20 * log10(3.5)) / 39.08)
    assert row["reach_m"] == pytest.approx(math.sqrt(d3d**2 - 23.5**2), rel=1e-6)
    assert row["h_bs_m"] == 25.0
    assert _row(table, "3.5GHz", "RMa", "outdoor")["h_bs_m"] == 35.0
    assert _row(table, "3.5GHz", "UMi", "outdoor")["h_bs_m"] == 10.0


def test_describe():
    assert (
        LinkBudgetModel(SETTINGS, service="vehicle").describe()
        == "TR 38.901 NLOS link budget, in-vehicle, p = 0.9, RSRP ≥ −105 dBm"
    )
    text = LinkBudgetModel(SETTINGS, service="indoor-high", probability=0.95, los="weighted")
    assert text.describe() == (
        "TR 38.901 LOS-probability-weighted link budget, indoor (high-loss O2I), "
        "p = 0.95, RSRP ≥ −105 dBm"
    )


@pytest.mark.parametrize(
    "kwargs", [{"service": "boat"}, {"probability": 0.4}, {"probability": 1.0}, {"los": True}]
)
def test_model_rejects_bad_options(kwargs):
    with pytest.raises(DataError) as info:
        LinkBudgetModel(SETTINGS, **kwargs)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- monotonicity


def _one_site(model, urban=True, **columns):
    sites = (
        pd.DataFrame({k: [v] for k, v in columns.items()}) if columns else pd.DataFrame(index=[0])
    )
    return float(model.reach_m(sites, np.array([urban]))[0])


def _with_band(settings, **changes):
    band = dataclasses.replace(settings.bands["3.5GHz"], **changes)
    return dataclasses.replace(settings, bands={**settings.bands, "3.5GHz": band})


_SERVICE = st.sampled_from(["outdoor", "vehicle", "indoor", "indoor-high"])


@given(
    scenario=_SCENARIO_CASES,
    service=_SERVICE,
    los=st.sampled_from(["nlos", "weighted"]),
    f=st.lists(st.floats(0.5, 30.0), min_size=2, max_size=2),
)
def test_reach_falls_as_frequency_rises(scenario, service, los, f):
    f1, f2 = sorted(f)
    reach = [
        _one_site(
            LinkBudgetModel(_with_band(SETTINGS, fc_ghz=fc), service=service, los=los),
            scenario=scenario,
        )
        for fc in (f1, f2)
    ]
    assert reach[1] <= reach[0] * (1 + 1e-9)


@given(
    scenario=_SCENARIO_CASES,
    service=_SERVICE,
    p=st.lists(st.floats(0.5, 0.9999), min_size=2, max_size=2),
)
def test_reach_falls_as_probability_rises(scenario, service, p):
    p1, p2 = sorted(p)
    r1, r2 = (
        _one_site(LinkBudgetModel(SETTINGS, service=service, probability=q), scenario=scenario)
        for q in (p1, p2)
    )
    assert r2 <= r1 * (1 + 1e-9)


@given(scenario=_SCENARIO_CASES, loss=st.lists(st.floats(0.0, 40.0), min_size=2, max_size=2))
def test_reach_falls_as_service_loss_rises(scenario, loss):
    a, b = sorted(loss)
    r1, r2 = (
        _one_site(
            LinkBudgetModel(dataclasses.replace(SETTINGS, car_mean_db=x), service="vehicle"),
            scenario=scenario,
        )
        for x in (a, b)
    )
    assert r2 <= r1 * (1 + 1e-9)


@pytest.mark.parametrize("scenario", ["UMa", "UMi", "RMa"])
@pytest.mark.parametrize("band", ["700MHz", "2.1GHz", "2.6GHz", "3.5GHz", "4.9GHz"])
def test_service_order(scenario, band):
    reach = {
        service: _one_site(LinkBudgetModel(SETTINGS, service=service), band=band, scenario=scenario)
        for service in ("outdoor", "vehicle", "indoor", "indoor-high")
    }
    assert reach["outdoor"] > reach["vehicle"]
    assert reach["outdoor"] > reach["indoor"] > reach["indoor-high"]


@given(
    scenario=_SCENARIO_CASES,
    service=_SERVICE,
    eirp=st.lists(st.floats(40.0, 90.0), min_size=2, max_size=2),
)
def test_reach_rises_with_power(scenario, service, eirp):
    e1, e2 = sorted(eirp)
    model = LinkBudgetModel(SETTINGS, service=service)
    r1, r2 = (_one_site(model, scenario=scenario, eirp_dbm=e) for e in (e1, e2))
    assert r2 >= r1 * (1 - 1e-9)


@given(
    service=st.sampled_from(["outdoor", "vehicle"]),
    band=st.sampled_from(["700MHz", "2.1GHz", "2.6GHz", "3.5GHz"]),
    h=st.lists(st.floats(10.0, 150.0), min_size=2, max_size=2),
)
def test_rma_reach_rises_with_bs_height(service, band, h):
    h1, h2 = sorted(h)
    model = LinkBudgetModel(SETTINGS, service=service)
    r1, r2 = (_one_site(model, urban=False, band=band, height_m=x) for x in (h1, h2))
    assert r2 >= r1 * (1 - 1e-9)


@given(h=st.floats(10.0, 150.0))
def test_uma_nlos_reach_is_fixed_in_3d_distance(h):
    # PL'UMa-NLOS depends on hBS only through d3D: a taller mast does not reach
    # further in UMa (the table was fitted at 25 m), the 3D reach stays the same
    base = _one_site(MODEL, scenario="UMa", height_m=25.0)
    reach = _one_site(MODEL, scenario="UMa", height_m=h)
    assert math.hypot(reach, h - 1.5) == pytest.approx(math.hypot(base, 23.5), rel=1e-9)


# --------------------------------------------------------------------------- sites


def test_is_a_coverage_model():
    assert isinstance(MODEL, CoverageModel)


def test_radius_wins_and_missing_columns_fall_back():
    table = MODEL.table()
    uma = _row(table, "3.5GHz", "UMa", "outdoor")["reach_m"]
    rma = _row(table, "700MHz", "RMa", "outdoor")["reach_m"]
    sites = pd.DataFrame(
        {
            "band": pd.array(["3.5GHz", "3.5GHz", None, "700MHz", "3.5GHz"], dtype="str"),
            "radius_m": [42.0, np.nan, np.nan, 0.0, -5.0],
            "height_m": np.nan,
            "eirp_dbm": np.nan,
            "tx_power_dbm": np.nan,
            "antenna_gain_dbi": np.nan,
            "scenario": pd.array([None, None, None, None, None], dtype="str"),
        }
    )
    reach = MODEL.reach_m(sites, np.array([True, True, True, False, True]))
    assert reach.dtype == np.float64
    assert reach.tolist() == pytest.approx([42.0, uma, uma, rma, uma])
    # no optional columns at all: the same defaults
    bare = MODEL.reach_m(pd.DataFrame({"band": ["3.5GHz"]}), np.array([True]))
    assert bare.tolist() == pytest.approx([uma])


def test_band_spellings_and_unknown_bands():
    table = MODEL.table()
    low = _row(table, "700MHz", "UMa", "outdoor")["reach_m"]
    mid = _row(table, "3.5GHz", "UMa", "outdoor")["reach_m"]
    sites = pd.DataFrame({"band": ["n28", "700M", "n78", "3.3GHz", np.nan]})
    reach = MODEL.reach_m(sites, np.ones(5, dtype=bool))
    assert reach.tolist() == pytest.approx([low, low, mid, mid, mid])


def test_site_eirp_power_gain_height_and_scenario_are_used():
    table = MODEL.table()
    uma = _row(table, "3.5GHz", "UMa", "outdoor")
    rma = _row(table, "3.5GHz", "RMa", "outdoor")
    umi = _row(table, "3.5GHz", "UMi", "outdoor")
    default_eirp = 53.0 + 24.0 - 0.0
    sites = pd.DataFrame(
        {
            "band": "3.5GHz",
            "eirp_dbm": [default_eirp + 10, np.nan, np.nan, np.nan, np.nan, np.nan],
            "tx_power_dbm": [np.nan, 56.0, np.nan, np.nan, np.nan, np.nan],
            "antenna_gain_dbi": [np.nan, 21.0, np.nan, np.nan, np.nan, np.nan],
            "height_m": [np.nan, np.nan, 60.0, 8.0, np.nan, 5.0],
            "scenario": [None, None, "RMa", None, "umi", "RMa"],
        }
    )
    reach = MODEL.reach_m(sites, np.ones(6, dtype=bool))
    # 10 dB more EIRP: the path loss at the reach is the MAPL + 10 dB
    assert path_loss_db("UMa", reach[0], 3.5, 25.0) == pytest.approx(uma["mapl_db"] + 10, abs=0.01)
    # 56 dBm + 21 dBi is the default EIRP again
    assert reach[1] == pytest.approx(uma["reach_m"])
    # an urban site declared RMa, 60 m high: the NLOS MAPL does not depend on height
    assert path_loss_db("RMa", reach[2], 3.5, 60.0) == pytest.approx(rma["mapl_db"], abs=0.01)
    # urban, 8 m high, no scenario: UMi at 8 m
    assert path_loss_db("UMi", reach[3], 3.5, 8.0) == pytest.approx(umi["mapl_db"], abs=0.01)
    # scenario spelled in lower case, default UMi height
    assert reach[4] == pytest.approx(umi["reach_m"])
    # 5 m is below RMa's 10–150 m: clamped to 10 m
    assert path_loss_db("RMa", reach[5], 3.5, 10.0) == pytest.approx(rma["mapl_db"], abs=0.01)


def test_bad_scenario_and_urban_length():
    sites = pd.DataFrame({"band": ["3.5GHz"] * 3, "scenario": ["UMa", "Indoor", "Indoor"]})
    with pytest.raises(DataError) as info:
        MODEL.reach_m(sites, np.ones(3, dtype=bool))
    assert "\n" not in str(info.value)
    assert "2 rows have scenario 'Indoor'" in str(info.value)
    with pytest.raises(DataError, match="2 values for 3 sites"):
        MODEL.reach_m(sites.iloc[:0].reindex(range(3)), np.ones(2, dtype=bool))


def test_no_sites():
    assert MODEL.reach_m(pd.DataFrame({"band": []}), np.zeros(0, dtype=bool)).shape == (0,)


def test_vectorised_over_many_sites(monkeypatch):
    small = pd.DataFrame(
        {
            "band": ["3.5GHz", "700MHz", None, "2.6GHz", "4.9GHz", "2.1GHz", "3.5GHz"],
            "radius_m": [np.nan, np.nan, np.nan, 150.0, np.nan, np.nan, np.nan],
            "height_m": [np.nan, 40.0, 12.0, np.nan, 30.0, np.nan, np.nan],
            "eirp_dbm": [np.nan, np.nan, 60.0, np.nan, np.nan, np.nan, 80.0],
            "scenario": [None, None, None, None, "UMi", "RMa", None],
        }
    )
    urban_small = np.array([True, False, True, True, True, True, False])
    expected = MODEL.reach_m(small, urban_small)
    repeats = 200_000 // len(small) + 1
    big = pd.concat([small] * repeats, ignore_index=True).iloc[:200_000]
    urban = np.tile(urban_small, repeats)[:200_000]

    sizes = []
    solve = LinkBudgetModel._solve

    def counting(self, band, *args):
        sizes.append(len(band))
        return solve(self, band, *args)

    monkeypatch.setattr(LinkBudgetModel, "_solve", counting)
    reach = MODEL.reach_m(big, urban)
    assert reach.shape == (200_000,)
    assert np.isfinite(reach).all() and (reach > 0).all()
    np.testing.assert_array_equal(reach, np.tile(expected, repeats)[:200_000])
    assert sizes == [7]  # one solve of the 7 distinct combinations, not 200,000


# --------------------------------------------------------------------------- settings file


def test_default_settings():
    assert SETTINGS.rsrp_threshold_dbm == -105.0
    assert dict(SETTINGS.h_bs_m) == {"UMa": 25.0, "UMi": 10.0, "RMa": 35.0}
    assert SETTINGS.h_ut_m == 1.5
    assert SETTINGS.bands["700MHz"].n_rb == 160
    assert SETTINGS.bands["2.1GHz"].n_rb == 106
    assert SETTINGS.default_band == "3.5GHz"


def test_broken_toml_is_one_line(tmp_path):
    path = tmp_path / "lb.toml"
    path.write_text("[receiver\nrsrp_threshold_dbm = -105\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_link_budget(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: not valid TOML")


def test_every_bad_value_reported_in_one_line(tmp_path):
    text = BUNDLED.read_text(encoding="utf-8")
    for old, new in [
        ("rsrp_threshold_dbm = -105.0", 'rsrp_threshold_dbm = "-105"'),
        ("ut_height_m = 1.5", "ut_height_m = nan"),
        ("body_loss_db = 0.0", "body_loss_db = -3.0\ncolour = 1"),
        ('default_band = "3.5GHz"', 'default_band = "5GHz"'),
        ("car_sigma_db = 5.0\n", ""),
        ("bandwidth_mhz = 20.0 ", "bandwidth_mhz = 33.0 "),
        ("fc_ghz = 4.85", "fc_ghz = 40.0"),
        ("UMa = 25.0", "UMa = 400.0"),
    ]:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "lb.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_link_budget(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    for part in [
        "receiver.rsrp_threshold_dbm = '-105' is not a number",
        "receiver.ut_height_m = nan is not finite",
        "receiver.body_loss_db = -3.0 is outside [0, 20] dB",
        "receiver.colour is not a known key; remove it",
        "sites.default_band = '5GHz' is not a band of [bands]",
        "penetration.car_sigma_db is missing; add car_sigma_db",
        'bands."2.1GHz": bandwidth_mhz = 33 at scs_khz = 15 is not in TS 38.101-1',
        'bands."4.9GHz".fc_ghz = 40.0 is outside [0.5, 30] GHz',
        "sites.bs_height_m.UMa = 400.0 is outside [10, 150] m",
    ]:
        assert part in message


def test_unknown_band_and_missing_file(tmp_path):
    path = tmp_path / "lb.toml"
    text = BUNDLED.read_text(encoding="utf-8") + '\n[bands."28GHz"]\nfc_ghz = 28.0\n'
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=r"bands\.28GHz is not a known key"):
        load_link_budget(path)
    with pytest.raises(InputError, match="cannot read"):
        load_link_budget(tmp_path / "missing.toml")


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["3.5GHz", "700MHz", "2.6GHz", "n41", None]),
            st.sampled_from([None, "UMa", "umi", "RMa"]),
            st.sampled_from([np.nan, 8.0, 25.0, 40.0]),
            st.sampled_from([np.nan, 60.0, 77.0]),
            st.sampled_from([np.nan, 50.0]),
            st.booleans(),
        ),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from(["outdoor", "vehicle", "indoor"]),
)
@settings(max_examples=25, deadline=None)  # each site solved alone is the slow oracle
def test_grouped_reach_equals_each_site_alone(rows, service):
    # the sites are solved once per group of equal inputs; each site alone is the oracle
    band, scenario, height, eirp, tx, urban = (list(c) for c in zip(*rows, strict=True))
    sites = pd.DataFrame(
        {
            "band": band,
            "scenario": scenario,
            "height_m": height,
            "eirp_dbm": eirp,
            "tx_power_dbm": tx,
        }
    )
    urban = np.array(urban)
    model = LinkBudgetModel(SETTINGS, service=service)
    alone = [float(model.reach_m(sites.iloc[[i]], urban[[i]])[0]) for i in range(len(sites))]
    assert model.reach_m(sites, urban).tolist() == alone
    # the grouping of another service's model is the same grouping
    shared = LinkBudgetModel(SETTINGS, service="outdoor").combinations(sites, urban)
    assert model.reach_m(sites, urban, combinations=shared).tolist() == alone
    assert shared.combo.max() + 1 <= len(sites.assign(u=urban).astype(str).drop_duplicates())
