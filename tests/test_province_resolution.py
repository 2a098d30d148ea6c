"""--province end to end: every spelling reaches the same zones; 'all'; unknown names.

``tests/test_boundaries.py`` checks :func:`geo5g.boundaries.resolve_province`
itself; here the analyses and the command line are checked to honour it.
"""

import json
import re

import pytest
from click.testing import CliRunner

from geo5g.cli import cli
from geo5g.errors import DataError
from geo5g.pipeline import Request, run
from geo5g.registry import resolve_province

# three sites: Nanjing, Nanchang, Beijing (WGS-84)
SITES = "site_id,lon,lat,operator\nNJ-1,118.79,32.06,China Mobile\nNC-1,115.86,28.68,China Unicom\nBJ-1,116.40,39.90,China Telecom\n"  # noqa: E501


@pytest.fixture(scope="module")
def sites_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("sites") / "three.csv"
    path.write_text(SITES, encoding="utf-8")
    return path


class _Density:
    """The density slice of the pipeline, as the CLI's density command runs it."""

    def __init__(self, done):
        self.table = done.density.table
        self.summary = done.density.summary
        self.provinces = done.density.provinces
        self.plan = done.inputs.plan


def analyse_density(province, *, sites):
    return _Density(run(Request(province=province, sites=sites), "density"))


@pytest.fixture(scope="module")
def jiangsu(sites_csv):
    return analyse_density("jiangsu", sites=sites_csv)


@pytest.mark.parametrize("spelling", ["江苏", "江苏省", "JiangSu", "320000", 320000])
def test_every_spelling_gives_the_same_table(spelling, sites_csv, jiangsu):
    got = analyse_density(spelling, sites=sites_csv)
    assert got.table.equals(jiangsu.table)
    assert got.plan.id == jiangsu.plan.id == "jiangsu-2024"
    assert len(got.table) == 13
    assert got.table.loc[320100, "stations"] == 1
    assert got.summary["unassigned_sites"] == 2  # Nanchang and Beijing are elsewhere


def test_all_is_every_prefecture_of_the_mainland(sites_csv):
    got = analyse_density("all", sites=sites_csv)
    assert len(got.table) == 367
    assert got.plan.id == "national-2025"
    assert len(got.provinces) == 31
    assert got.summary["unassigned_sites"] == 0
    found = got.table.loc[got.table["stations"] > 0].index.tolist()
    assert found == [110100, 320100, 360100]


def test_several_provinces_in_one_argument(sites_csv):
    got = analyse_density("江苏,jiangxi", sites=sites_csv)
    assert len(got.provinces) == 2
    assert got.table["stations"].sum() == 2


@pytest.mark.parametrize(
    ("spelling", "message"),
    [
        ("jiangsuu", "unknown province 'jiangsuu'; did you mean 'jiangsu'"),
        ("江苏x", "did you mean '江苏'"),
        ("320100", "320100 is not a province adcode"),
        ("atlantis", "unknown province 'atlantis'"),
    ],
)
def test_unknown_province_is_a_clear_error(spelling, message, sites_csv):
    with pytest.raises(DataError, match=message):
        analyse_density(spelling, sites=sites_csv)


def _cli(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize(("spelling", "rows"), [("江苏", 13), ("360000", 11), ("all", 367)])
def test_cli_density_province(spelling, rows, sites_csv):
    res = _cli(
        "-q", "density", "--province", spelling, "--sites", str(sites_csv), "--format", "json"
    )
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.output)["rows"]) == rows


def test_cli_unknown_province_exits_with_one_line(sites_csv):
    res = _cli("density", "--province", "jiangsuu", "--sites", str(sites_csv))
    assert res.exit_code != 0
    assert "unknown province 'jiangsuu'; did you mean 'jiangsu'" in res.output
    assert "Traceback" not in res.output


# ------------------------------------------------------------------ 'all' without --sites


def test_national_demo_sites_are_cached_and_identical(tmp_path, monkeypatch):
    from geo5g import demo

    first = demo.national_demo_sites(total=20_000, seed=5, cache_dir=tmp_path)
    (cached,) = tmp_path.glob("national_sites_*.parquet")
    assert first.attrs["synthetic"] is True
    assert len(first) == 20_000

    def no_generation(*args, **kwargs):
        raise AssertionError("generated again instead of reading the cache")

    monkeypatch.setattr(demo, "synthetic_sites_national", no_generation)
    again = demo.national_demo_sites(total=20_000, seed=5, cache_dir=tmp_path)
    assert again.drop(columns="geometry").equals(first.drop(columns="geometry"))
    assert again.geometry.geom_equals_exact(first.geometry, 0).all()
    assert again.crs == first.crs and again.attrs["synthetic"] is True
    # another seed is another key; a damaged file is regenerated, not trusted
    monkeypatch.undo()
    cached.write_bytes(b"not parquet")
    repaired = demo.national_demo_sites(total=20_000, seed=5, cache_dir=tmp_path)
    assert repaired["site_id"].equals(first["site_id"])
    other = demo.national_demo_sites(total=20_000, seed=6, cache_dir=tmp_path, cache=False)
    assert not other["lon"].equals(first["lon"])
    assert len(list(tmp_path.glob("national_sites_*.parquet"))) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("南京", "南京市 (320100) is a city of 江苏省; use province='jiangsu'"),
        ("南昌市", "南昌市 (360100) is a city of 江西省; use province='jiangxi'"),
        ("Nanjing", "is a city of 江苏省"),
    ],
)
def test_a_city_named_as_province_is_answered_with_its_province(text, expected):
    with pytest.raises(DataError, match=re.escape(expected)):
        resolve_province(text)


def test_an_ambiguous_city_name_lists_every_city():
    with pytest.raises(DataError) as err:
        resolve_province("Suzhou")
    assert "苏州市" in str(err.value) and "宿州市" in str(err.value)


def test_the_cli_names_its_own_option_for_a_city():
    from click.testing import CliRunner

    from geo5g.cli import cli

    res = CliRunner().invoke(cli, ["density", "--province", "南京"])
    assert res.exit_code == 1 and "use --province jiangsu" in res.stderr
