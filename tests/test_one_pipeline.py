"""One pipeline: the benchmark times what the CLI runs, and every input is read once."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from geo5g import boundaries
from geo5g.cli import cli
from geo5g.pipeline import Request, run
from geo5g.registry import bundled_layer

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _sides():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("geo5g_bench_sides", BENCH / "sides.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def _raster(path: Path) -> Path:
    # fractional residents on a coarse grid over Jiangsu, nodata holes
    values = np.random.default_rng(3).uniform(0, 50, size=(90, 120)).astype("float32")
    values[::9, ::7] = -99999.0
    profile = dict(
        driver="GTiff", width=120, height=90, count=1, dtype="float32", crs="EPSG:4326",
        nodata=-99999.0, transform=Affine(0.05, 0, 116.3, 0, -0.05, 35.2),
    )  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
    return path


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("layout")
    # the benchmark's workloads are GeoParquet: the bundled layers, converted
    from geo5g.roads import read_roads, read_rsu

    roads, rsu = tmp / "roads.parquet", tmp / "rsu.parquet"
    read_roads(bundled_layer("jiangsu", "roads")).to_parquet(roads)
    read_rsu(bundled_layer("jiangsu", "rsu")).to_parquet(rsu)
    return SimpleNamespace(
        scale=SimpleNamespace(province="jiangsu"),
        folder=tmp / "bench",
        sites=bundled_layer("jiangsu", "sites"),
        roads=roads,
        ports=bundled_layer("jiangsu", "ports"),
        rsu=rsu,
        population=_raster(tmp / "pop.tif"),
        tmp=tmp,
    )


def test_the_benchmark_times_the_cli_pipeline(layout):
    """The benchmark's geo5g side and ``python -m geo5g report`` write the same tables."""
    layout.folder.mkdir()
    args = SimpleNamespace(result=layout.tmp / "result.json", window=None)
    _sides().geo5g_side(args, layout)
    bench = layout.folder / "report"

    cli_out = layout.tmp / "cli"
    options = ["--sites", layout.sites, "--roads", layout.roads, "--ports", layout.ports]
    options += ["--rsu", layout.rsu, "--population", layout.population, "--service", "outdoor"]
    res = CliRunner().invoke(
        cli, ["-q", "report", *map(str, options), "--out", str(cli_out)], catch_exceptions=False
    )
    assert res.exit_code == 0, res.output
    for name in ("cities.csv", "counties.csv", "scorecard.csv"):
        assert (cli_out / name).read_bytes() == (bench / name).read_bytes(), name

    import json

    timed = json.loads(args.result.read_text(encoding="utf-8"))["stages"]
    assert {"read", "project", "reach", "density", "gaps", "ports", "rsu", "popcover"} <= set(timed)


def test_each_boundary_layer_is_read_once_per_run(monkeypatch):
    reads = []
    real = boundaries._read_file

    def counting(path, *args, **kwargs):
        reads.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(boundaries, "_read_file", counting)
    run(Request(province="jiangsu"), "report")
    assert sorted(reads) == ["jiangsu_cities.geojson", "jiangsu_counties.geojson"]


def test_density_alone_puts_no_site_into_metres():
    """Stations per 10k need the sites' zones only: the density command projects none."""
    density = run(Request(province="jiangsu"), "density")
    assert density.geometry.sites is None and density.reach is None
    gaps = run(Request(province="jiangsu"), "gaps")
    assert gaps.geometry.sites is None  # dropped once the reach extended them
    assert sum(len(z.index) for z in gaps.reach.sites) >= len(gaps.inputs.sites)
