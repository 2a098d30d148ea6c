"""The command line: exit codes, formats and one-line errors."""

import json

import pytest
from click.testing import CliRunner

from geo5g.cli import EXIT_BELOW_TARGET, cli


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_plans_lists_builtins():
    res = run("plans")
    assert res.exit_code == 0
    for plan_id in ("jiangsu-2024", "jiangxi-2023", "national-2023", "national-2025"):
        assert plan_id in res.output


def test_plans_one_plan_csv():
    res = run("plans", "jiangsu-2024", "--format", "csv")
    assert res.exit_code == 0
    assert "rsu_road_km,>=,300.0" in res.output


def test_density_jiangsu_totals_census_exactly():
    res = run("-q", "density", "--province", "jiangsu", "--format", "json")
    assert res.exit_code == 0
    payload = json.loads(res.output)
    assert sum(r["population"] for r in payload["rows"]) == 84_748_016
    assert payload["summary"]["population"] == 84_748_016
    assert len(payload["rows"]) == 13
    nanjing = next(r for r in payload["rows"] if r["adcode"] == 320100)
    assert nanjing["per_10k"] == pytest.approx(nanjing["stations"] / 9_314_685 * 1e4)


def test_density_jiangxi_csv():
    res = run("-q", "density", "--province", "jiangxi", "--plan", "jiangxi-2023", "--format", "csv")
    assert res.exit_code == 0
    lines = res.output.strip().splitlines()
    assert lines[0].startswith("adcode,name_zh,name_en,province,population,stations,per_10k")
    assert len(lines) == 12  # header + 11 cities
    assert ",18.0," in lines[1]


def test_fail_below_exit_code():
    res = run("-q", "density", "--province", "jiangsu", "--fail-below")
    assert res.exit_code == EXIT_BELOW_TARGET
    assert "below > 26 per 10k" in res.output


def test_fail_below_passes_when_all_met(tmp_path):
    plan = tmp_path / "low.toml"
    plan.write_text(
        'id = "low"\nname_zh = "低"\nname_en = "Low"\nprovince = "jiangsu"\n'
        '[[targets]]\nid = "d"\nmetric = "stations_per_10k"\nop = ">="\nthreshold = 1\n'
        'unit = "per 10k"\nsection = "test"\nquote = "1"\n',
        encoding="utf-8",
    )
    res = run("-q", "density", "--province", "jiangsu", "--plan", str(plan), "--fail-below")
    assert res.exit_code == 0


def test_user_sites_gcj02(tmp_path):
    path = tmp_path / "my_sites.csv"
    # two sites in central Nanjing given in GCJ-02, one in Shanghai (outside Jiangsu)
    path.write_text(
        "site_id,经度,纬度,operator\nA,118.7969,32.0603,中国移动\nB,118.80,32.05,电信\n"
        "C,121.47,31.23,联通\n",
        encoding="utf-8",
    )
    res = run(
        "density",
        "--sites",
        str(path),
        "--coords",
        "gcj02",
        "--province",
        "jiangsu",
        "--format",
        "json",
    )
    assert res.exit_code == 0
    payload = json.loads(res.stdout)
    assert payload["summary"]["stations"] == 2
    assert payload["summary"]["unassigned_sites"] == 1
    assert "1 sites fall in no city" in res.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["density", "--sites", "nope.csv"], "nope.csv"),
        (["density", "--province", "atlantis"], "unknown province 'atlantis'"),
        (["density", "--plan", "jiangsu-2099"], "unknown plan 'jiangsu-2099'"),
    ],
)
def test_errors_are_one_line_exit_1(args, fragment):
    res = run(*args)
    assert res.exit_code == 1
    err = res.stderr.strip()
    assert err.startswith("Error: ") and fragment in err
    assert len(err.splitlines()) == 1
    assert "Traceback" not in res.output


def test_bad_coordinates_one_line(tmp_path):
    path = tmp_path / "swapped.csv"
    path.write_text("lon,lat\n32.06,118.79\n31.2,120.6\n", encoding="utf-8")
    res = run("density", "--sites", str(path))
    assert res.exit_code == 1
    assert "swapped" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_usage_error_exit_2():
    res = run("density", "--level", "village")
    assert res.exit_code == 2


def test_output_file_written(tmp_path):
    out = tmp_path / "t.csv"
    res = run("-q", "density", "--format", "csv", "--output", str(out))
    assert res.exit_code == 0 and res.output == ""
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads the Chinese names as UTF-8
    assert data.decode("utf-8-sig").startswith("adcode,")


def test_by_operator_sums_to_city_stations():
    res = run("-q", "density", "--province", "jiangsu", "--by-operator", "--format", "csv")
    assert res.exit_code == 0
    import io

    import pandas as pd

    by_op = pd.read_csv(io.StringIO(res.stdout))
    assert set(by_op.columns) == {"adcode", "operator", "stations", "per_10k"}
    assert "China Mobile" in set(by_op["operator"])
    city = pd.read_csv(io.StringIO(run("-q", "density", "--format", "csv").stdout))
    assert by_op.groupby("adcode")["stations"].sum().to_dict() == dict(
        zip(city["adcode"], city["stations"], strict=True)
    )


def test_county_level_without_population_keeps_stations():
    res = run("density", "--province", "jiangxi", "--level", "county", "--format", "json")
    assert res.exit_code == 0
    payload = json.loads(res.stdout)
    assert len(payload["rows"]) == 100
    assert all(r["population"] is None for r in payload["rows"])
    assert sum(r["stations"] for r in payload["rows"]) > 0
    assert "county population" in res.stderr
