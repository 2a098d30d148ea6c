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


def test_a_railway_layer_beside_the_expressways_is_judged_on_its_own(tmp_path):
    """Two --roads layers: the railway target is measured on the railway alone."""
    import geopandas as gpd
    import shapely

    from geo5g._paths import data_dir

    rail = tmp_path / "rail.geojson"
    # 20 km east–west through central Nanjing, where the demo has sites everywhere
    line = shapely.LineString([(118.70, 32.05), (118.91, 32.05)])
    gpd.GeoDataFrame({"name": ["京沪铁路"]}, geometry=[line], crs=4326).to_file(rail)
    roads = data_dir() / "roads" / "expressways_schematic_jiangsu.geojson"
    done = run(Request(province="jiangsu", roads=((roads, None), (rail, "铁路"))), "gaps")
    runs = done.gaps.runs
    assert set(runs["kind"]) == {"expressway", "railway"}
    mine = runs[runs["kind"] == "railway"]
    assert mine["route_m"].sum() / 1000 == pytest.approx(19.8, rel=0.01)  # ≈ 0.21° × 94.4 km
    assert (done.gaps.lines["kind"] == "railway").sum() == 1  # one ref × one city


def test_urban_areas_are_measured_as_areas(tmp_path):
    """A user's urban area is measured on its own polygon; the proxy is labelled."""
    import geopandas as gpd
    import shapely

    areas = tmp_path / "urban.geojson"
    box = shapely.box(116.001, 28.001, 116.011, 28.011)  # ≈ 1 km², Jiangxi countryside
    gpd.GeoDataFrame({"name": ["测试城区"]}, geometry=[box], crs=4326).to_file(areas)
    done = run(Request(province="jiangxi", urban_areas=areas), "report")
    assert len(done.urban) == 1 and done.urban["area_km2"].iloc[0] == pytest.approx(1.09, rel=0.02)
    card = done.scorecard.set_index("metric")
    one = done.urban.iloc[0]
    assert card.loc["urban_area_covered_pct", "measured"] == 100.0 * one["continuous"]
    assert one["continuous"] == (one["covered_pct"] >= 95.0)
    proxy = run(Request(province="jiangxi"), "report")
    assert "PROXY" in card_note(proxy) and len(proxy.urban) == 100  # one per county-level unit


def card_note(done) -> str:
    return done.scorecard.set_index("metric").loc["urban_area_covered_pct", "note"]


def test_cli_reads_an_excel_sheet(tmp_path):
    from click.testing import CliRunner

    from geo5g.cli import cli

    book = tmp_path / "sites.xlsx"
    with pd.ExcelWriter(book) as xl:
        pd.DataFrame({"说明": ["demo"]}).to_excel(xl, sheet_name="说明", index=False)
        pd.DataFrame(
            {"站号": ["A1", "A2"], "经度": [118.79, 118.80], "纬度": [32.06, 32.07]}
        ).to_excel(xl, sheet_name="基站", index=False)
    res = CliRunner().invoke(
        cli, ["density", "--sites", str(book), "--sheet", "基站", "--format", "csv"]
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(__import__("io").StringIO(res.stdout))
    assert table["stations"].sum() == 2


def test_one_osm_extract_named_with_several_kinds_is_read_once(monkeypatch):
    import geopandas as gpd
    import shapely

    import geo5g.roads
    from geo5g.pipeline import _read_lines

    calls = []

    def fake(path, kind=None):
        calls.append((str(path), kind))
        kinds = kind if isinstance(kind, tuple) else (kind or "expressway",)
        line = shapely.LineString([(118.7, 32.0), (118.8, 32.0)])
        return gpd.GeoDataFrame(
            {"ref": "x", "name": "x", "kind": list(kinds), "schematic": False, "weight": 1.0},
            geometry=[line] * len(kinds),
            crs=4326,
        )

    monkeypatch.setattr(geo5g.roads, "read_roads", fake)
    given = (("js.osm.pbf", "railway"), ("roads.gpkg", None), ("js.osm.pbf", "tunnel"))
    lines, sources = _read_lines(Request(roads=given), None, [], True)
    assert calls == [("js.osm.pbf", ("railway", "tunnel")), ("roads.gpkg", None)]
    assert sorted(lines["kind"]) == ["expressway", "railway", "tunnel"]
    assert [s.layer for s in sources] == ["railway/tunnel lines", "roads"]


def test_the_report_lists_and_exports_the_urban_areas(tmp_path):
    import geopandas as gpd
    from click.testing import CliRunner

    from geo5g.cli import cli

    out = tmp_path / "jx"
    res = CliRunner().invoke(cli, ["-q", "report", "--province", "jiangxi", "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "urban_areas.csv", encoding="utf-8-sig")
    assert len(table) == 100 and table["source"].str.startswith("PROXY").all()
    # failing areas first, then by covered share
    assert not table["continuous"].iloc[0] and table["continuous"].is_monotonic_increasing
    layer = gpd.read_file(out / "coverage.gpkg", layer="urban_areas")
    assert len(layer) == 100 and layer.crs.to_epsg() == 4326
    card = pd.read_csv(out / "scorecard.csv", encoding="utf-8-sig").set_index("metric")
    share = 100 * table["continuous"].mean()
    assert card.loc["urban_area_covered_pct", "measured"] == pytest.approx(share)
    assert "Urban areas: share of each area covered" in (out / "index.html").read_text("utf-8")
