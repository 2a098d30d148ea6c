"""Every spatial target of the seeds' plans is measured or said not measurable, with why."""

from __future__ import annotations

import pandas as pd
import pytest

from geo5g.pipeline import Request, line_rule, run
from geo5g.plans import COUNTED, FED_BY, MEASURABLE, load_plan


@pytest.fixture(scope="module")
def jiangsu():
    return run(Request(province="jiangsu"), "report")


@pytest.mark.parametrize("plan", ["jiangsu-2024", "jiangxi-2023"])
def test_every_target_is_measurable_or_counted_and_says_what_feeds_it(plan):
    targets = load_plan(plan).targets
    assert all(t.metric in MEASURABLE | COUNTED for t in targets)
    # a measurable metric that a run may lack names the option that feeds it (density is
    # measured on every run)
    always = {"stations_per_10k", "cities_meeting_density_pct"}
    assert {t.metric for t in targets if t.metric in MEASURABLE} - always <= set(FED_BY)


@pytest.mark.parametrize(
    ("plan", "metric", "threshold"),
    [
        ("jiangsu-2024", "vpn_networks", 500),  # 建设超过 500 个 5G 行业虚拟专网
        ("jiangxi-2023", "vpn_networks", 100),  # 建成超过100个5G行业虚拟专网
        ("jiangxi-2023", "railway_coverage_pct", 100),
        ("jiangxi-2023", "tunnel_coverage_pct", 100),
        ("jiangxi-2023", "metro_coverage_pct", 100),
        ("jiangxi-2023", "campus_covered_pct", 100),
        ("jiangxi-2023", "hospital_covered_pct", 100),
        ("jiangxi-2023", "urban_area_covered_pct", 100),
        ("jiangsu-2024", "main_road_coverage_pct", 100),
        ("jiangsu-2024", "stations_700mhz", 0),
    ],
)
def test_the_seeds_targets_are_in_the_plans(plan, metric, threshold):
    found = [t for t in load_plan(plan).targets if t.metric == metric]
    assert len(found) == 1 and found[0].threshold == threshold and found[0].quote


def test_the_scorecard_counts_700mhz_stations_and_names_missing_layers(jiangsu):
    card = jiangsu.scorecard.set_index("metric")
    sites = jiangsu.inputs.sites
    assert card.loc["stations_700mhz", "measured"] == (sites["band"] == "700MHz").sum()
    assert "--roads FILE:main_road" in card.loc["main_road_coverage_pct", "note"]
    assert "not measurable" in card.loc["vpn_networks", "note"]
    assert pd.isna(card.loc["vpn_networks", "met"])


def test_the_line_rule_keeps_kinds_apart():
    """One ref as a road and as a tunnel: two lines, each judged on its own metres."""
    runs = pd.DataFrame(
        {
            "ref": ["G2", "G2", "G2"],
            "city_adcode": [1, 1, 1],
            "kind": ["expressway", "expressway", "tunnel"],
            "route_m": [960.0, 40.0, 500.0],
            "covered": [True, False, False],
        }
    )
    rule = line_rule(runs).set_index("kind", append=True)
    assert rule.loc[("G2", 1, "expressway"), "coverage_pct"] == pytest.approx(96.0)
    assert rule.loc[("G2", 1, "expressway"), "continuous"]
    assert rule.loc[("G2", 1, "tunnel"), "covered_km"] == 0.0
