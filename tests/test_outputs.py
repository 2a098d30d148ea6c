"""Tests of geo5g.outputs: atomic files, layers (GPKG/GeoJSON/CSV) and the report folder."""

from __future__ import annotations

import os

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely import LineString
from test_report import SCRIPT_CITY, report_parts

from geo5g import outputs as outputs_mod
from geo5g.errors import DataError, InputError
from geo5g.outputs import OUTPUT_FILES, write_layers, write_report
from geo5g.report import DENSITY_COLUMNS, build_report


def _outputs():
    gaps = gpd.GeoDataFrame(
        {"ref": ["G2"], "length_m": [1234.5]},
        geometry=[LineString([(500_000, 3_500_000), (501_234.5, 3_500_000)])],
        crs="+proj=tmerc +lat_0=0 +lon_0=118 +k=1 +x_0=500000 +y_0=0 +datum=WGS84 +units=m",
    )
    by_city = pd.DataFrame(
        {"length_km": [1.0], "gap_km": [0.5]}, index=pd.Index([320100], name="adcode")
    )
    return {"gaps": gaps, "by_city": by_city}


def test_write_gpkg_layers(tmp_path):
    out = tmp_path / "sub" / "gaps.gpkg"
    assert write_layers(out, _outputs()) == [out]
    layers = dict(pyogrio.list_layers(out))
    assert layers == {"gaps": "LineString", "by_city": None}
    table = pyogrio.read_dataframe(out, layer="by_city")
    assert table["adcode"].tolist() == [320100]
    back = gpd.read_file(out, layer="gaps")
    assert back.crs is not None and back["length_m"].tolist() == [1234.5]
    assert sorted(p.name for p in out.parent.iterdir()) == ["gaps.gpkg"]  # no temp files


def test_write_geojson_and_csv(tmp_path):
    one = write_layers(tmp_path / "gaps.geojson", {"gaps": _outputs()["gaps"]})
    back = gpd.read_file(one[0])
    assert back.crs.to_epsg() == 4326
    assert back.geometry.iloc[0].coords[0] == pytest.approx((118.0, 31.6), abs=0.05)
    many = write_layers(tmp_path / "out.csv", _outputs())
    assert [p.name for p in many] == ["out_gaps.csv", "out_by_city.csv"]
    gaps_csv = pd.read_csv(many[0])
    assert gaps_csv["wkt"].iloc[0].startswith("LINESTRING")
    assert pd.read_csv(many[1])["adcode"].tolist() == [320100]


def test_write_refuses_unknown_formats_and_nothing(tmp_path):
    with pytest.raises(InputError, match="unknown output format"):
        write_layers(tmp_path / "x.kml", _outputs())
    with pytest.raises(DataError, match="nothing to write"):
        write_layers(tmp_path / "x.gpkg", {})
    assert not any(tmp_path.iterdir())


# ------------------------------------------------------------------ write_report


@pytest.fixture(scope="module")
def tiny_report():
    return build_report(**report_parts())


def test_write_report_files_and_tables(tmp_path, tiny_report):
    stages = []
    paths = write_report(tiny_report, tmp_path / "out", progress=stages.append)
    # the tiny report has no road summary, RSU table, seats, places, urban areas or provinces
    detail = {"roads", "rsu", "seats", "places", "provinces", "lines", "operators", "ledger"}
    detail |= {"urban"}
    detail |= {"ledger_xlsx"}  # built by report_from, not by build_report alone
    expected = set(OUTPUT_FILES) - detail
    assert set(paths) == expected
    names = sorted(OUTPUT_FILES[k] for k in expected)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == names
    assert stages == [
        "rendering the map",
        "writing tables",
        "writing the GeoPackage",
        "moving the report into place",
    ]
    # only the output folder is left in the parent (no temporary folder)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]

    card = pd.read_csv(paths["scorecard"], encoding="utf-8-sig")
    assert card["target_id"].tolist() == tiny_report.scorecard["target_id"].tolist()
    np.testing.assert_allclose(card["measured"], tiny_report.scorecard["measured"])
    cities = pd.read_csv(paths["cities"], encoding="utf-8-sig", index_col="adcode")
    assert cities.index.tolist() == tiny_report.zones.index.tolist()
    assert list(cities.columns) == list(DENSITY_COLUMNS)
    assert cities.loc[320300, "name_zh"] == SCRIPT_CITY  # data files keep names as they are
    np.testing.assert_allclose(cities["per_10k"], tiny_report.zones["per_10k"])
    assert cities["shortfall"].tolist() == [0, 400, 0, 0]
    assert paths["cities"].read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8


def test_detail_tables_beside_the_page(tmp_path):
    from geo5g.pipeline import Request, report_from, run

    report = report_from(run(Request(province="jiangxi"), "report"))
    paths = write_report(report, tmp_path / "jx")
    for key in ("roads", "gaps", "ports", "seats"):
        table = pd.read_csv(paths[key], encoding="utf-8-sig")  # as Excel reads it
        assert paths[key].read_bytes().startswith(b"\xef\xbb\xbf")
        assert len(table) > 0, key
    gaps = pd.read_csv(paths["gaps"], encoding="utf-8-sig")
    assert gaps["length_km"].is_monotonic_decreasing  # longest first
    km = report.roads_gaps["length_m"].sum() / 1000
    assert gaps["length_km"].sum() == pytest.approx(km)
    roads = pd.read_csv(paths["roads"], encoding="utf-8-sig")
    assert (roads["covered_km"] + roads["gap_km"] - roads["length_km"]).abs().max() < 1e-6
    seats = pd.read_csv(paths["seats"], encoding="utf-8-sig")
    assert len(seats) == len(report.counties)
    rank = seats["status"].map({"not covered": 0, "partial": 1, "covered": 2})
    assert rank.is_monotonic_increasing  # not covered first
    html = paths["html"].read_text(encoding="utf-8")
    for key in ("roads", "gaps", "ports", "seats", "cities"):
        assert f'data-table="{key}"' in html


def test_write_report_geopackage_is_valid(tmp_path, tiny_report):
    paths = write_report(tiny_report, tmp_path / "out")
    layers = dict(pyogrio.list_layers(paths["gpkg"]))
    assert set(layers) == {
        "cities",
        "counties",
        "covered",
        "gaps",
        "rsu",
        "ports",
        "site_density",
    }
    cities = gpd.read_file(paths["gpkg"], layer="cities")
    assert cities.crs.to_epsg() == 4326
    assert cities["adcode"].tolist() == tiny_report.zones.index.tolist()
    np.testing.assert_allclose(cities["per_10k"], tiny_report.zones["per_10k"])
    gaps = gpd.read_file(paths["gpkg"], layer="gaps")
    assert gaps["length_m"].sum() == 5_000.0
    hexes = gpd.read_file(paths["gpkg"], layer="site_density")
    assert hexes["stations"].sum() == 40


def test_write_report_failure_leaves_previous_output(tmp_path, tiny_report, monkeypatch):
    out = tmp_path / "out"
    write_report(tiny_report, out)
    (out / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(report, path):
        path.write_bytes(b"half a GeoPackage")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs_mod, "_write_gpkg", broken)
    changed = build_report(**{**report_parts(), "title": "a newer title"})
    with pytest.raises(InputError, match="No space left on device"):
        write_report(changed, out)
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_write_report_failure_on_first_run_leaves_nothing(tmp_path, tiny_report, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr("geo5g.render.render_html", broken)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        write_report(tiny_report, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_write_report_replaces_and_removes_stale_outputs(tmp_path, tiny_report):
    out = tmp_path / "out"
    write_report(tiny_report, out)
    (out / "screenshot.png").write_bytes(b"png")
    parts = report_parts()
    no_counties = build_report(
        **{**parts, "counties": None, "county_density": None, "title": "second run"}
    )
    paths = write_report(no_counties, out)
    assert "counties" not in paths
    assert not (out / "counties.csv").exists()  # stale output of the first run
    assert (out / "screenshot.png").read_bytes() == b"png"  # not ours: kept
    assert "second run" in (out / "index.html").read_text(encoding="utf-8")


def test_write_report_refuses_a_file_as_folder(tmp_path, tiny_report):
    target = tmp_path / "out"
    target.write_text("a file")
    with pytest.raises(InputError, match="not a folder"):
        write_report(tiny_report, target)


def test_write_report_creates_parents(tmp_path, tiny_report):
    paths = write_report(tiny_report, tmp_path / "maps" / "jiangsu")
    assert paths["html"] == tmp_path / "maps" / "jiangsu" / "index.html"
    assert paths["html"].stat().st_size > 0
    umask = os.umask(0)
    os.umask(umask)
    mode = (tmp_path / "maps" / "jiangsu").stat().st_mode & 0o777
    assert mode == 0o777 & ~umask  # not the temporary folder's private 0700
