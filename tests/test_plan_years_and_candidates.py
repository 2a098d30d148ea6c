"""Plan years, candidate sites and the ledger through the pipeline and the CLI."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from geo5g.cli import cli
from geo5g.pipeline import Request, measure_trend, plan_candidates, run


@pytest.fixture(scope="module")
def jiangsu():
    return run(Request(province="jiangsu"), "report")


def test_candidates_close_every_gap_at_the_new_sites_reach(jiangsu):
    found = plan_candidates(jiangsu, reach_m=1000.0)
    gaps = jiangsu.gaps.runs.loc[~jiangsu.gaps.runs["covered"]]
    # each gap of length L needs ceil(L / 2 km) new sites; they close it entirely
    need = int(sum(-(-length // 2000.0) for length in gaps["length_m"]))
    assert len(found) == need
    assert found["closes_m"].sum() == pytest.approx(gaps["length_m"].sum(), rel=1e-9)
    assert set(found["kind"]) == {"new"} and found.crs.to_epsg() == 4326


def test_trend_counts_every_site_and_judges_the_plan_milestone(jiangsu):
    table = measure_trend(jiangsu)
    assert table["stations"].sum() == jiangsu.density.table["stations"].sum()
    assert "on_track_jiangsu-2024" in table.columns
    met = jiangsu.density.table["met"].astype(bool)
    # the milestone is past: on track is whether the city meets the target now
    assert (table["on_track_jiangsu-2024"].astype(bool) == met).all()


def test_the_ledger_workbook_holds_the_csv_numbers(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    res = CliRunner().invoke(cli, ["-q", "report", "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    csv = pd.read_csv(tmp_path / "r" / "ledger.csv", encoding="utf-8-sig")
    book = openpyxl.load_workbook(tmp_path / "r" / "ledger.xlsx", read_only=True)
    rows = list(book["ledger"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    sheet = pd.DataFrame(body, columns=header)
    assert len(sheet) == len(csv) == 13
    for column in ("stations", "per_10k", "gap_km", "candidates"):
        assert sheet[column].astype(float).tolist() == pytest.approx(csv[column].tolist())
    assert "ledger.xlsx" in (tmp_path / "r" / "index.html").read_text(encoding="utf-8")


def test_cli_trend_and_candidates(tmp_path):
    res = CliRunner().invoke(cli, ["trend", "--format", "csv"])
    assert res.exit_code == 0 and "on_track_jiangsu-2024" in res.stdout.splitlines()[0]
    res = CliRunner().invoke(cli, ["trend", "--series", "--periods", "Y", "--format", "csv"])
    assert res.exit_code == 0 and "2023-12-31" in res.stdout.splitlines()[0]
    out = tmp_path / "c.gpkg"
    res = CliRunner().invoke(cli, ["candidates", "--reach-m", "1000", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "new sites" in res.stderr and out.exists()


def test_cli_coverage_raster_and_popcover(tmp_path):
    import numpy as np
    import rasterio
    from affine import Affine

    sites = tmp_path / "s.csv"
    sites.write_text(
        "site_id,operator,band,lon,lat\n"
        "a,China Telecom,3.5GHz,118.78,32.05\nb,China Mobile,700MHz,120.30,31.57\n",
        encoding="utf-8",
    )
    out = tmp_path / "rsrp.tif"
    args = ["coverage-raster", "--sites", str(sites), "--resolution", "2000", "--out", str(out)]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    with rasterio.open(out) as src:
        assert src.count == 3 and src.crs.is_projected
        rsrp = src.read(1)
        served = src.read(3)
    assert np.nanmax(rsrp) >= -105 and np.isnan(rsrp).mean() > 0.9  # two sites: mostly nodata
    assert served.max() == 2  # the Telecom site also serves Unicom users

    pop = tmp_path / "pop.tif"
    # 500 m pixels around Nanjing: the Telecom site there covers some of them
    values = np.full((100, 100), 10.0, dtype="float32")
    grid = Affine(0.005, 0, 118.53, 0, -0.005, 32.3)
    profile = dict(driver="GTiff", width=100, height=100, count=1, dtype="float32",
                   crs="EPSG:4326", transform=grid)  # fmt: skip
    with rasterio.open(pop, "w", **profile) as dst:
        dst.write(values, 1)
    args = ["popcover", "--sites", str(sites), "--population", str(pop), "--format", "csv"]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    table = pd.read_csv(__import__("io").StringIO(res.stdout))
    assert (table["covered"] <= table["population"]).all() and table["covered"].sum() > 0


def test_the_report_shows_the_trend_chart_and_the_candidates(tmp_path):
    res = CliRunner().invoke(cli, ["-q", "report", "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    chart = page[page.index('class="geo5g-chart">') :]
    assert chart[len('class="geo5g-chart">') :].lstrip().startswith("<svg")
    assert "南京市</text>" in chart  # names stay text: the browser's CJK fonts draw them
    assert "Candidate sites closing the gaps" in page
    assert (tmp_path / "r" / "index.html").stat().st_size <= 5_000_000  # issue 16: ≤ 5 MB
    import geopandas as gpd

    found = gpd.read_file(tmp_path / "r" / "coverage.gpkg", layer="candidates")
    assert len(found) > 0 and found.crs.to_epsg() == 4326


def test_density_candidates_cover_residents_not_yet_covered(tmp_path):
    import numpy as np
    import rasterio
    from affine import Affine

    pop = tmp_path / "pop.tif"
    values = np.random.default_rng(5).gamma(0.5, 8, (450, 560)).astype("float32")
    profile = dict(driver="GTiff", width=560, height=450, count=1, dtype="float32",
                   crs="EPSG:4326", transform=Affine(0.01, 0, 116.3, 0, -0.01, 35.2))  # fmt: skip
    with rasterio.open(pop, "w", **profile) as dst:
        dst.write(values, 1)
    out = tmp_path / "d.gpkg"
    args = ["candidates", "--target", "density", "--population", str(pop), "--resolution", "2000"]
    res = CliRunner().invoke(cli, [*args, "--out", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    import geopandas as gpd

    found = gpd.read_file(out)
    done = run(Request(province="jiangsu"), "density")
    short = done.density.table["shortfall"]
    per_city = found.groupby("city_adcode").size()
    assert (per_city <= short.reindex(per_city.index)).all()  # never more than the shortfall
    assert (found["people"] > 0).all()
    for _, city in found.groupby("city_adcode"):  # each next pick adds no more than the last
        assert city.sort_values("rank")["people"].is_monotonic_decreasing
    res = CliRunner().invoke(cli, ["candidates", "--target", "density"])
    assert res.exit_code == 2 and "needs --population" in res.output


def test_the_report_can_show_the_signal_map(tmp_path):
    res = CliRunner().invoke(
        cli, ["-q", "report", "--signal", "2000", "--out", str(tmp_path / "r")],
        catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert "SS-RSRP, best server (outdoor, 2000 m)" in page
    assert '"url":"data:image/png;base64,' in page.replace(" ", "")
    assert "below -105 dBm: not covered" in page
