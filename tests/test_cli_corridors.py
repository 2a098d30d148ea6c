"""gaps, rsu and report commands on the bundled data; their outputs open as GIS layers."""

import json
import re

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

from geo5g.cli import cli


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_gaps_json_totals_add_up():
    res = run("-q", "gaps", "--province", "jiangsu", "--format", "json")
    assert res.exit_code == 0
    payload = json.loads(res.stdout)
    total = payload["total"]
    assert total["length_km"] == pytest.approx(total["covered_km"] + total["gap_km"])
    per_ref = sum(r["length_km"] for r in payload["rows"])
    # refs sharing a carriageway count once per ref but once in the total
    assert per_ref >= total["length_km"] - 1e-6


def test_gaps_writes_valid_gpkg(tmp_path):
    out = tmp_path / "gaps.gpkg"
    res = run("gaps", "--province", "jiangsu", "--out", str(out))
    assert res.exit_code == 0
    layers = dict(pyogrio.list_layers(out))
    assert {"gaps", "covered", "ports"} <= set(layers)
    assert layers["gaps"] in ("LineString", "MultiLineString")
    info = pyogrio.read_info(out, layer="gaps")
    assert info["features"] > 0 and "EPSG" in info["crs"]
    assert "SCHEMATIC" in res.stderr


def test_rsu_reports_shortfall_against_300km():
    res = run("rsu", "--province", "jiangsu", "--format", "json")
    assert res.exit_code == 0
    total = json.loads(res.stdout)["total"]
    assert total["target_km"] == 300
    assert 0 < total["rsu_km"] < 300
    assert total["shortfall_km"] == pytest.approx(300 - total["rsu_km"])
    assert "short by" in res.stderr and "SYNTHETIC" in res.stderr


def test_rsu_without_layers_for_province_is_one_line_error():
    res = run("rsu", "--province", "zhejiang")
    assert res.exit_code == 1
    assert "no bundled" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_gaps_bad_roads_layer(tmp_path):
    path = tmp_path / "roads.geojson"
    path.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
        '"geometry":{"type":"Point","coordinates":[118.8,32.0]}}]}',
        encoding="utf-8",
    )
    res = run("gaps", "--roads", str(path))
    assert res.exit_code == 1
    assert "Point" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_report_jiangxi(tmp_path):
    out = tmp_path / "jx"
    res = run("-q", "report", "--province", "jiangxi", "--plan", "jiangxi-2023", "--out", str(out))
    assert res.exit_code == 0
    assert (out / "index.html").is_file() and (out / "coverage.gpkg").is_file()
    card = (out / "scorecard.csv").read_text(encoding="utf-8-sig")
    assert "county_seats_covered_pct" in card and "stations_per_10k" in card
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "九江" in html
    # nothing is loaded from the network (Leaflet's own attribution link is not a load)
    assert not re.search(
        r"""<(script|link|img|iframe)[^>]*(src|href)\s*=\s*["']?(https?:)?//""", html
    )
    assert not re.search(r"""url\(\s*["']?(https?:)?//""", html)


def test_report_with_population_raster(tmp_path):
    import numpy as np
    import rasterio
    from affine import Affine

    # a coarse uniform raster over Jiangsu: 100 residents per 0.05° pixel
    path = tmp_path / "pop.tif"
    width, height = 120, 90
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": Affine(0.05, 0, 116.3, 0, -0.05, 35.2),  # rasterio's from_origin warns
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.full((height, width), 100, dtype="float32"), 1)
    out = tmp_path / "js"
    res = run("-q", "report", "--population", str(path), "--out", str(out))
    assert res.exit_code == 0
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "Residents within reach of a site" in html
    cities = (out / "cities.csv").read_text(encoding="utf-8-sig")
    assert "南京市" in cities


@pytest.mark.parametrize("level", ["city", "county"])
def test_density_with_a_fractional_nodata_raster(tmp_path, level):
    """The README's WorldPop example: fractional float32 pixels, nodata -99999."""
    import numpy as np
    import rasterio
    from affine import Affine

    path = tmp_path / "worldpop.tif"
    rng = np.random.default_rng(7)
    values = rng.uniform(0, 40, size=(90, 120)).astype("float32")
    values[::7, ::5] = -99999.0
    profile = {
        "driver": "GTiff",
        "width": 120,
        "height": 90,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "nodata": -99999.0,
        "transform": Affine(0.05, 0, 116.3, 0, -0.05, 35.2),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
    out = tmp_path / "d.csv"
    args = ["-q", "density", "--province", "江苏", "--level", level]
    res = run(*args, "--population", str(path), "--format", "csv", "-o", str(out))
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert len(table) == (13 if level == "city" else 95)
    assert (table["population"] >= 0).all() and (table["population"] % 1 != 0).any()
