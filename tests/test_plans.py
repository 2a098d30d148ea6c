"""Plans as data: built-ins, user files, comparison."""

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


_HEAD = 'id = "mine"\nname_zh = "我的计划"\nname_en = "Mine"\nprovince = "jiangsu"\n'
_TARGET = (
    '[[targets]]\nid = "{id}"\nmetric = "{metric}"\nop = ">="\nthreshold = {threshold}\n'
    'unit = "每万人"\nsection = "一、"\nquote = "每万人拥有5G基站数"\n'
)


def _density(threshold="30", tid="d", metric="stations_per_10k"):
    return _TARGET.format(id=tid, metric=metric, threshold=threshold)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_plan_saved_by_chinese_windows_is_read(tmp_path, encoding):
    path = tmp_path / "plan.toml"
    path.write_bytes((_HEAD + _density()).encode(encoding))
    plan = load_plan(path)
    assert plan.name_zh == "我的计划"
    assert plan.density_target.quote == "每万人拥有5G基站数"


def test_plan_not_text_is_refused_in_one_line(tmp_path):
    path = tmp_path / "plan.toml"
    path.write_bytes(b"\xff\xfe\x00\x81\x30\xff" * 10)
    with pytest.raises(PlanError, match="not UTF-8 or GBK/GB18030") as err:
        load_plan(path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('targets = "stations"\n', "'targets' must be a list of tables"),
        ("targets = [1, 2]\n", "'targets' must be a list of tables"),
        (_density("nan"), "target 'd': threshold nan is not a finite number"),
        (_density("inf"), "target 'd': threshold inf is not a finite number"),
        (_density('"26"'), "target 'd': threshold '26' is not a number"),
        (_density("true"), "target 'd': threshold True is not a number"),
        (_density(tid="x", metric="stations_per_10K"), "target 'x': unknown metric"),
        (_density() + _density(), "duplicate target ids 'd'"),
    ],
)
def test_malformed_targets_are_refused_naming_file_and_target(tmp_path, body, expected):
    path = tmp_path / "plan.toml"
    path.write_text(_HEAD + body, encoding="utf-8")
    with pytest.raises(PlanError) as err:
        load_plan(path)
    msg = str(err.value)
    assert msg.startswith(str(path)) and expected in msg


def test_unknown_metric_message_lists_the_fix(tmp_path):
    path = tmp_path / "plan.toml"
    path.write_text(_HEAD + _density(metric="density"), encoding="utf-8")
    with pytest.raises(PlanError, match=r"measurable metrics are .*stations_per_10k"):
        load_plan(path)


def test_every_builtin_metric_is_known():
    from geo5g.plans import COUNTED, MEASURABLE

    for plan_id in available_plans():
        for t in load_plan(plan_id).targets:
            assert t.metric in MEASURABLE | COUNTED, (plan_id, t.id)


@pytest.mark.parametrize(
    ("plan_id", "area", "ok"),
    [
        ("jiangsu-2024", "jiangsu", True),
        ("jiangsu-2024", "jiangxi", False),
        ("jiangsu-2024", "jiangsu,zhejiang", False),
        ("jiangsu-2024", "all", False),
        ("national-2025", "jiangxi", True),
        ("national-2025", "all", True),
    ],
)
def test_plan_must_be_for_the_area(plan_id, area, ok):
    from geo5g.plans import check_plan_area
    from geo5g.registry import resolve_province

    plan = load_plan(plan_id)
    provinces = resolve_province(area)
    if ok:
        assert check_plan_area(plan, provinces) is None
    else:
        with pytest.raises(PlanError, match="is jiangsu's plan but the area is"):
            check_plan_area(plan, provinces)


def test_cli_refuses_another_provinces_plan():
    from click.testing import CliRunner

    from geo5g.cli import cli

    args = ["density", "--province", "jiangxi", "--plan", "jiangsu-2024"]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 1
    err = res.stderr.strip()
    assert "\n" not in err and "use --province jiangsu" in err


_TOML_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda x: (
            "nan" if x != x else ("inf" if x == math.inf else "-inf" if x == -math.inf else repr(x))
        )
    ),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.text(max_size=8).map(lambda t: '"' + t.replace("\\", "").replace('"', "") + '"'),
    st.sampled_from(["true", "[]", "{}", "[1]", "2024-01-01"]),
)


@settings(max_examples=150, deadline=None)
@given(_TOML_VALUES)
def test_any_threshold_loads_finite_or_is_refused(tmp_path_factory, value):
    path = tmp_path_factory.mktemp("p") / "plan.toml"
    path.write_text(_HEAD + _density(threshold=value), encoding="utf-8")
    try:
        plan = load_plan(path)
    except PlanError as err:
        assert str(err).startswith(str(path)) and "\n" not in str(err)
    else:
        assert math.isfinite(plan.density_target.threshold)


def test_airports_target_of_jiangxi_is_measured_on_the_bundled_airports():
    from geo5g.pipeline import Request, run

    done = run(Request(province="jiangxi", plan="jiangxi-2023"), "report")
    card = done.scorecard.set_index("metric")
    airports = done.inputs.poi
    assert set(airports["place_class"]) == {"airport"} and len(airports) == 7
    covered = int(done.poi["covered"].sum())
    assert card.loc["airports_covered_pct", "measured"] == pytest.approx(100 * covered / 7)
    assert "indoors" in card.loc["airports_covered_pct", "note"]
