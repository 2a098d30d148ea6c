"""The report in a real browser: Debian's headless Chromium, no network.

Skipped when /usr/bin/chromium is missing (CI installs it: .ci/run). Set
GEO5G_SCREENSHOT_DIR to keep the screenshots (e.g. maps/screenshots).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from test_report import IMG_PORT, SCRIPT_CITY, report_parts

from geo5g.outputs import write_report
from geo5g.render import layer_infos
from geo5g.report import DENSITY_COLUMNS, PlanSummary, build_report

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]
WINDOW = (1400, 900)


def _chromium(tmp_path: Path, page: Path, *args: str, timeout: float = 180) -> str:
    """Run headless Chromium on a local page with every network path closed."""
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        # No network: no name resolves, and anything else goes to a closed local port.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--virtual-time-budget=5000",
        *args,
        page.as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _dom(tmp_path: Path, page: Path) -> str:
    return _chromium(tmp_path, page, "--dump-dom")


def _screenshot(tmp_path: Path, page: Path, name: str) -> Path:
    shot = tmp_path / f"{name}.png"
    _chromium(tmp_path, page, f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == WINDOW
    if keep := os.environ.get("GEO5G_SCREENSHOT_DIR"):
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(keep) / shot.name)
    return shot


def _overlay_names(dom: str) -> list[str]:
    """Plain-text names in the layer control's overlay list (without their flags)."""
    block = re.search(r'class="leaflet-control-layers-overlays">(.*?)</div>', dom, re.S)
    assert block, "no layer control"
    labels = re.findall(r"<label>(.*?)</label>", block.group(1), re.S)
    names = [re.sub(r"<span class=\"geo5g-flag[^>]*>[A-Z]+</span>", "", x) for x in labels]
    return [re.sub(r"<[^>]+>", "", x).strip() for x in names]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "tiny"
    report = build_report(**report_parts())
    return report, write_report(report, out)


def test_leaflet_initialises_offline_with_every_layer(tmp_path, tiny):
    report, paths = tiny
    dom = _dom(tmp_path, paths["html"])
    assert 'data-geo5g-ready="1"' in dom  # our script ran to its end
    assert "leaflet-container" in dom
    for pane in ("map", "zones", "outlines", "lines", "points", "tooltip"):
        assert f"leaflet-{pane}-pane" in dom
    # cities, outlines, roads, points drawn as SVG (events pass through empty parts)
    for pane in ("zones", "outlines", "lines", "points"):
        assert re.search(rf'leaflet-{pane}-pane"[^>]*><svg', dom), pane
    assert dom.count('class="leaflet-interactive"') >= 10
    assert [name for name in _overlay_names(dom)] == [i.title for i in layer_infos(report)]
    assert "geo5g-legend" in dom
    assert dom.count(" geo5g-label ") == 4  # city names
    assert "南京市" in dom
    assert "<img" not in dom  # no tiles asked for, nothing injected


def test_screenshot(tmp_path, tiny):
    _, paths = tiny
    shot = _screenshot(tmp_path, paths["html"], "report_tiny")
    assert shot.stat().st_size > 20_000  # a drawn map and panel, not a blank page


_PROBE = """
<script>
// Open every feature's tooltip (as hovering would) and keep what it shows.
(function () {
  var out = document.createElement("div");
  out.id = "probe";
  Object.keys(geo5g.layers).forEach(function (key) {
    var group = geo5g.layers[key], features = group.geo5gFeatures;
    geo5g.map.addLayer(group);
    if (!features.getTooltip()) { return; }
    features.eachLayer(function (layer) {
      var at = layer.getCenter ? layer.getCenter() : layer.getLatLng();
      layer.fire("mouseover", { latlng: at }, true); // as the mouse does
      layer.fire("mouseout", { latlng: at }, true);
      var item = document.createElement("div");
      item.className = "probe-" + key;
      item.innerHTML = features.getTooltip().getElement().innerHTML;
      out.appendChild(item);
    });
  });
  document.body.appendChild(out);
})();
</script>
"""


def test_tooltips_show_the_metrics_and_escape_names(tmp_path, tiny):
    _, paths = tiny
    probe = tmp_path / "probe.html"
    probe.write_text(
        paths["html"].read_text(encoding="utf-8").replace("</html>", _PROBE + "</html>"),
        encoding="utf-8",
    )
    dom = _dom(tmp_path, probe)
    assert 'id="probe"' in dom
    tips = dict.fromkeys(re.findall(r'class="probe-(\w+)"', dom))
    assert set(tips) == {
        "cities",
        "counties",
        "site_density",
        "rsu",
        "covered",
        "gaps",
        "sites",
        "ports",
    }  # boundaries are not interactive
    # the injected names are shown as text, never run as markup
    assert "<img" not in dom
    assert "alert(1)</script>" not in dom.replace("&lt;/script&gt;", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in dom or (
        '"&gt;&lt;img src=x onerror=alert(1)&gt;' in dom
    )
    assert SCRIPT_CITY not in dom and IMG_PORT not in dom
    # the numbers a planner reads
    nanjing = re.search(r'class="probe-cities">(.*?)</div></div>', dom, re.S).group(1)
    assert "南京市 · Nanjing" in nanjing
    for text in ("100,000", "300", "30.0", "25.0", "✔ met"):
        assert text in nanjing
    assert "✘ not met" in dom and "Stations short" in dom and "400" in dom
    assert re.search(r"Gap length</th><td>3\.0 km", dom)
    assert "5,400 m" in dom  # port's nearest site
    assert re.search(r"<b>\d+</b> sites in this 0.5 km hexagon", dom)


def _png_tile() -> bytes:
    """A 256 × 256 grey PNG made here (no imaging library needed)."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xc8" * 256 for _ in range(256))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 256, 256, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_intranet_tiles(tmp_path):
    """A tile server given by URL template is used (here a folder, file://)."""
    tiles = tmp_path / "tiles"
    tile = _png_tile()
    for z in range(7, 12):  # every tile the page may ask for around the test cities
        n = 2**z
        for x in range(int(n * (118.0 + 180) / 360), int(n * (119.5 + 180) / 360) + 1):
            for y in range(int(n * 0.40), int(n * 0.42) + 1):
                path = tiles / str(z) / str(x) / f"{y}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(tile)
    template = tiles.as_uri() + "/{z}/{x}/{y}.png"
    report = build_report(**report_parts())
    paths = write_report(report, tmp_path / "out", tiles=template, tiles_attribution="Intranet")
    dom = _dom(tmp_path, paths["html"])
    assert "leaflet-tile-pane" in dom
    assert re.search(r'<img[^>]+class="leaflet-tile leaflet-tile-loaded', dom)
    assert "Intranet" in dom


# ------------------------------------------------------------------ Jiangsu scale


def _jiangsu_scale_parts(n_sites: int = 250_000) -> dict:
    """The bundled Jiangsu cities with 250,000 fabricated sites inside them."""
    from geo5g._paths import data_dir

    cities = gpd.read_file(data_dir("boundaries", "jiangsu_cities.geojson")).set_index("adcode")
    cities.index = cities.index.astype("int64")
    rng = np.random.default_rng(1)
    minx, miny, maxx, maxy = cities.total_bounds
    union = shapely.union_all(cities.geometry.array)
    shapely.prepare(union)
    x = rng.uniform(minx, maxx, 3 * n_sites)
    y = rng.uniform(miny, maxy, 3 * n_sites)
    keep = shapely.contains_xy(union, x, y)
    x, y = x[keep][:n_sites], y[keep][:n_sites]
    assert len(x) == n_sites
    sites = gpd.GeoDataFrame(
        {"site_id": np.arange(n_sites).astype(str)},
        geometry=gpd.points_from_xy(x, y),
        crs=4326,
    )
    sites.attrs["synthetic"] = True
    population = pd.array(np.full(len(cities), 6_500_000), dtype="Int64")
    stations = np.full(len(cities), n_sites // len(cities))
    per_10k = stations / 650.0
    density = pd.DataFrame(
        {
            "name_zh": cities["name_zh"],
            "name_en": cities["name_en"],
            "population": population,
            "stations": stations,
            "per_10k": per_10k,
            "target": 26.0,
            "met": pd.array(per_10k > 26.0),
            "shortfall": np.zeros(len(cities), dtype=int),
        },
        index=cities.index,
    )[list(DENSITY_COLUMNS)]
    parts = report_parts()
    return {
        **parts,
        "plan": PlanSummary("jiangsu-2024", "江苏省5G应用“领航”行动计划", per_10k=26.0),
        "cities": cities,
        "city_density": density,
        "counties": None,
        "county_density": None,
        "sites": sites,
    }


@pytest.mark.slow
def test_jiangsu_scale_report_is_small_and_opens_fast(tmp_path):
    parts = _jiangsu_scale_parts()
    started = time.perf_counter()
    report = build_report(**parts)
    paths = write_report(report, tmp_path / "jiangsu")
    written = time.perf_counter() - started
    size_mb = paths["html"].stat().st_size / 1e6
    assert size_mb < 10, f"page is {size_mb:.1f} MB"
    assert report.sites_few is None  # 250k sites are never drawn one by one
    assert int(report.site_hex["stations"].sum()) == 250_000

    started = time.perf_counter()
    dom = _dom(tmp_path, paths["html"])
    opened = time.perf_counter() - started
    assert 'data-geo5g-ready="1"' in dom
    assert opened < 30, f"Chromium took {opened:.1f} s"
    _screenshot(tmp_path, paths["html"], "report_jiangsu_scale")
    print(f"Jiangsu scale: {size_mb:.2f} MB, written in {written:.1f} s, opened in {opened:.1f} s")
