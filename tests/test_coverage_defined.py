"""Coverage as a signal level through the pipeline: services, operators, the line rule."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from geo5g.cli import cli
from geo5g.pipeline import MEASURE_SERVICES, Request, line_rule, measure_operators, run


@pytest.fixture(scope="module")
def by_service():
    out = {}
    for service in ("outdoor", "vehicle", "indoor"):
        out[service] = run(Request(province="jiangsu", service=service), "gaps")
    return out


def test_the_link_budget_is_the_default_and_roads_are_judged_in_a_vehicle():
    done = run(Request(province="jiangsu"), "gaps")
    assert done.reach.services["roads"] == MEASURE_SERVICES["roads"] == "vehicle"
    assert done.reach.services["ports"] == "outdoor"
    assert "TR 38.901" in done.reach.model
    vehicle = run(Request(province="jiangsu", service="vehicle"), "gaps")
    assert np.array_equal(done.reach.of("roads"), vehicle.reach.of("roads"))


def test_coverage_falls_with_the_service_loss(by_service):
    pct = {s: float(r.gaps.total["coverage_pct"].iloc[0]) for s, r in by_service.items()}
    assert pct["outdoor"] > pct["vehicle"] > pct["indoor"]
    reach = {s: r.reach.of("roads") for s, r in by_service.items()}
    assert np.all(reach["outdoor"] > reach["vehicle"]) and np.all(
        reach["vehicle"] > reach["indoor"]
    )


def test_the_band_table_is_still_available():
    done = run(Request(province="jiangsu", model="band-table"), "gaps")
    bands = done.inputs.sites["band"].astype(str).to_numpy()
    urban = done.reach.urban
    r = done.reach.of("roads")
    # the table of settings/coverage.toml: 3.5 GHz 300 m urban, 1000 m rural
    assert set(np.unique(r[(bands == "3.5GHz") & urban])) == {300.0}
    assert set(np.unique(r[(bands == "3.5GHz") & ~urban])) == {1000.0}


def test_shared_networks_give_telecom_and_unicom_users_the_same_coverage():
    ct = run(Request(province="jiangsu", operator="ctcc"), "gaps")
    cu = run(Request(province="jiangsu", operator="联通"), "gaps")
    pd.testing.assert_frame_equal(ct.gaps.total, cu.gaps.total)
    cm = run(Request(province="jiangsu", operator="cmcc"), "gaps")
    assert not cm.gaps.total.equals(ct.gaps.total)


def test_one_band_layer_alone():
    low = run(Request(province="jiangsu", band="700MHz"), "gaps")
    every = run(Request(province="jiangsu"), "gaps")
    low_pct = float(low.gaps.total["coverage_pct"].iloc[0])
    assert 0 < low_pct < float(every.gaps.total["coverage_pct"].iloc[0])


def test_operators_and_covered_by_n_operators_add_up():
    done = run(Request(province="jiangsu"), "gaps")
    table = measure_operators(done.inputs, done.geometry, done.reach, done.gaps.networks)
    total = float(done.gaps.total["covered_km"].iloc[0])
    assert table.loc["at least 1 operator", "covered_km"] == pytest.approx(total, rel=1e-9)
    exactly = sum(
        table.loc[f"exactly {k} operator{'s' * (k > 1)}", "covered_km"] for k in range(1, 5)
    )
    assert exactly == pytest.approx(total, rel=1e-9)
    # Telecom and Unicom share one network: never covered for one and not the other
    assert table.loc["China Telecom", "covered_km"] == table.loc["China Unicom", "covered_km"]
    ports = len(done.ports)
    assert table.loc["at least 1 operator", "ports_covered"] == int(done.ports["covered"].sum())
    exactly_ports = sum(
        table.loc[f"exactly {k} operator{'s' * (k > 1)}", "ports_covered"] for k in range(1, 5)
    )
    assert exactly_ports == table.loc["at least 1 operator", "ports_covered"] <= ports
    for k in range(1, 4):
        more = table.loc[f"at least {k + 1} operators", "covered_km"]
        fewer = table.loc[f"at least {k} operator{'s' * (k > 1)}", "covered_km"]
        assert more <= fewer + 1e-9


@pytest.mark.parametrize(
    ("covered_m", "continuous"), [(950.0, True), (949.0, False), (1000.0, True), (0.0, False)]
)
def test_the_95_percent_line_rule_by_hand(covered_m, continuous):
    runs = pd.DataFrame(
        {
            "ref": ["G2", "G2"],
            "city_adcode": [320100, 320100],
            "route_m": [covered_m, 1000.0 - covered_m],
            "covered": [True, False],
        }
    )
    row = line_rule(runs).iloc[0]
    assert row["length_km"] == pytest.approx(1.0)
    assert row["coverage_pct"] == pytest.approx(covered_m / 10)
    assert bool(row["continuous"]) is continuous


def test_every_figure_says_how_it_was_judged():
    done = run(Request(province="jiangsu", probability=0.95), "report")
    card = done.scorecard.set_index("metric")
    assert "in a vehicle" in card.loc["expressway_coverage_pct", "note"]
    assert "cell-edge probability 0.95" in card.loc["expressway_coverage_pct", "note"]
    assert "continuously covered" in card.loc["expressway_coverage_pct", "note"]
    assert "outdoors" in card.loc["ports_covered_pct", "note"]


def test_cli_coverage_model_prints_the_whole_budget(tmp_path):
    out = tmp_path / "m.json"
    args = ["coverage-model", "--service", "vehicle", "--format", "json", "-o", str(out)]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text(encoding="utf-8-sig"))
    rows = doc["rows"] if isinstance(doc, dict) and "rows" in doc else doc
    frame = pd.DataFrame(rows)
    assert set(frame["service"]) == {"vehicle"} and len(frame) == 15  # 5 bands × 3 scenarios
    assert (frame["penetration_db"] == 9.0).all()  # TR 38.901 §7.4.3.2 car mean loss
    assert {"mapl_db", "margin_db", "reach_m", "p_re_dbm"} <= set(frame.columns)


def test_cli_gaps_by_line_and_operator():
    res = CliRunner().invoke(cli, ["gaps", "--by", "line", "--format", "csv"])
    assert res.exit_code == 0 and "continuous" in res.stdout.splitlines()[0]
    assert "continuously covered (≥ 95 %)" in res.stderr
    res = CliRunner().invoke(cli, ["gaps", "--by", "operator", "--operator", "cbn"])
    assert res.exit_code == 0 and "at least 4 operators" in res.stdout
    assert "China Broadnet's users" in res.stderr
