"""Plans as data: built-ins, user files, comparison."""

import math

import pandas as pd
import pytest

from geo5g.errors import InputError, PlanError
from geo5g.plans import available_plans, compare, load_plan, meets


def test_builtins_present():
    assert set(available_plans()) >= {
        "jiangsu-2024",
        "jiangxi-2023",
        "national-2023",
        "national-2025",
    }


@pytest.mark.parametrize(
    ("plan_id", "op", "threshold"),
    [
        ("jiangsu-2024", ">", 26),
        ("jiangxi-2023", ">", 18),
        ("national-2023", ">", 18),
        ("national-2025", ">=", 26),
    ],
)
def test_density_thresholds(plan_id, op, threshold):
    t = load_plan(plan_id).density_target
    assert (t.op, t.threshold) == (op, threshold)


def test_every_target_cites_its_section():
    for plan_id in available_plans():
        for t in load_plan(plan_id).targets:
            assert t.section and t.quote, (plan_id, t.id)


def test_jiangsu_spatial_targets_from_the_seed():
    plan = load_plan("jiangsu-2024")
    rsu = plan.target("rsu_road_km")
    assert (rsu.op, rsu.threshold) == (">=", 300)
    assert "300公里以上" in rsu.quote
    assert plan.target("expressway_coverage_pct") is not None
    assert plan.target("ports_covered_pct") is not None
    assert plan.target("v2x_scenarios").threshold == 30
    assert plan.target("smart_port_scenarios").threshold == 20


def test_jiangxi_county_urban_coverage():
    t = load_plan("jiangxi-2023").target("county_seats_covered_pct")
    assert "县级以上城区5G网络连续覆盖" in t.quote


def test_compare_values_and_na():
    df = compare(load_plan("jiangsu-2024"), {"stations_per_10k": 27.0, "rsu_road_km": 120.0})
    row = df.set_index("metric")
    assert bool(row.loc["stations_per_10k", "met"]) is True
    assert bool(row.loc["rsu_road_km", "met"]) is False
    assert row.loc["expressway_coverage_pct", "met"] is pd.NA
    assert "not measured in this run" in row.loc["expressway_coverage_pct", "note"]
    assert "count of projects" in row.loc["v2x_scenarios", "note"]


@pytest.mark.parametrize(
    ("value", "op", "expected"),
    [(26.0, ">", False), (26.0, ">=", True), (26.01, ">", True), (math.nan, ">", pd.NA)],
)
def test_meets(value, op, expected):
    assert meets(value, op, 26) is expected or meets(value, op, 26) == expected


def test_user_plan_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        'id = "mine"\nname_zh = "我的"\nname_en = "Mine"\nprovince = "jiangsu"\n'
        '[[targets]]\nid = "d"\nmetric = "stations_per_10k"\nop = ">="\nthreshold = 30\n'
        'unit = "per 10k"\nsection = "1"\nquote = "30"\n',
        encoding="utf-8",
    )
    assert load_plan(path).density_target.threshold == 30


def test_user_plan_reports_every_problem(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        'id = "bad"\nname_zh = "x"\nprovince = "x"\n'
        '[[targets]]\nid = "d"\nmetric = "stations_per_10k"\nop = "<"\nthreshold = "many"\n'
        'unit = "u"\nsection = "s"\nquote = "q"\n',
        encoding="utf-8",
    )
    with pytest.raises(PlanError) as err:
        load_plan(path)
    msg = str(err.value)
    assert "name_en" in msg and "op '<'" in msg and "'many' is not a number" in msg


def test_unknown_plan():
    with pytest.raises(
        PlanError, match="unknown plan 'jiangsu-2030'; built-in plans: jiangsu-2024"
    ):
        load_plan("jiangsu-2030")


def test_missing_plan_file(tmp_path):
    with pytest.raises(InputError, match="plan file not found"):
        load_plan(tmp_path / "nope.toml")


def test_invalid_toml(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text("id = ", encoding="utf-8")
    with pytest.raises(PlanError, match="not valid TOML"):
        load_plan(path)
