"""Real mouse moves over the report in headless Chromium (DevTools protocol).

The other browser tests fire Leaflet's events from script; these move the pointer the way
a person does (``Input.dispatchMouseEvent``), so a layer whose events another layer's
canvas swallows shows no tooltip here. Skipped without Debian's chromium. Screenshots at
1400 × 1000 and 390 × 844 and a PDF printed by Chromium are left in the test's folder
(and copied to ``GEO5G_SCREENSHOT_DIR`` when it is set) for a person to look at.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import shapely

from geo5g.outputs import write_report
from geo5g.pipeline import Request, report_from, run

CHROMIUM = Path("/usr/bin/chromium")
websocket = pytest.importorskip("websocket")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]
_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Page:
    """One Chromium tab driven over the DevTools protocol (localhost only)."""

    def __init__(self, ws):
        self.ws, self.next_id = ws, 0

    def send(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                assert "error" not in reply, reply
                return reply.get("result", {})

    def eval(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := self.eval(expression):
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")

    def move(self, x: float, y: float) -> None:
        # two steps, as a hand moves: Leaflet sees the pointer enter the shape
        for dx in (-3.0, 0.0):
            self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x + dx, y=y, buttons=0)
            time.sleep(0.05)


@contextlib.contextmanager
def _browser(tmp_path: Path, page: Path, size=(1400, 1000)):
    port = _free_port()
    proc = subprocess.Popen(
        [
            str(CHROMIUM),
            *_FLAGS,
            f"--remote-debugging-port={port}",
            f"--user-data-dir={tmp_path / 'cdp-profile'}",
            f"--window-size={size[0]},{size[1]}",
            page.as_uri(),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ws = None
    try:
        deadline = time.monotonic() + 60
        targets = []
        while time.monotonic() < deadline and not targets:
            url = f"http://127.0.0.1:{port}/json"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as r:
                targets = [t for t in json.load(r) if t.get("type") == "page"]
            time.sleep(0.2)
        assert targets, "Chromium's DevTools endpoint did not come up"
        ws = websocket.create_connection(
            targets[0]["webSocketDebuggerUrl"], timeout=60, suppress_origin=True
        )
        tab = _Page(ws)
        tab.wait_for("document.body && document.body.getAttribute('data-geo5g-ready') === '1'")
        yield tab
    finally:
        if ws is not None:
            ws.close()
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()


def _keep(path: Path) -> None:
    if keep := os.environ.get("GEO5G_SCREENSHOT_DIR"):
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(keep) / path.name)


def _screen_xy(tab: _Page, lon: float, lat: float) -> tuple[float, float]:
    return tuple(
        tab.eval(
            f"(function(){{var p = geo5g.map.latLngToContainerPoint([{lat}, {lon}]);"
            "var r = geo5g.map.getContainer().getBoundingClientRect();"
            "return [p.x + r.left, p.y + r.top];})()"
        )
    )


def _tooltip_at(tab: _Page, x: float, y: float) -> str:
    tab.move(x, y)
    time.sleep(0.2)
    return tab.eval(
        "Array.from(document.querySelectorAll('.leaflet-tooltip'))"
        ".map(function (e) { return e.innerText; }).join(' | ')"
    )


def _drawn_line_point(tab: _Page, key: str, side_px: float) -> tuple[float, float]:
    """Screen point on a line as the page drew it (simplified), moved sideways.

    The middle of the middle segment of the feature with the most vertices; the view
    is centred on it first.
    """
    return tuple(
        tab.eval(
            "(function(){var best = null, most = -1;"
            f"geo5g.layers[{json.dumps(key)}].geo5gFeatures.eachLayer(function (l) {{"
            " var p = l.getLatLngs(); while (Array.isArray(p[0])) { p = p[0]; }"
            " if (p.length > most) { most = p.length; best = p; } });"
            "var i = Math.floor((best.length - 1) / 2), a = best[i], b = best[i + 1];"
            "geo5g.map.setView([(a.lat + b.lat) / 2, (a.lng + b.lng) / 2], 13, {animate: false});"
            "var pa = geo5g.map.latLngToContainerPoint(a);"
            "var pb = geo5g.map.latLngToContainerPoint(b);"
            "var r = geo5g.map.getContainer().getBoundingClientRect();"
            "var nx = -(pb.y - pa.y), ny = pb.x - pa.x, len = Math.hypot(nx, ny) || 1;"
            f"return [(pa.x + pb.x) / 2 + {side_px} * nx / len + r.left,"
            f"        (pa.y + pb.y) / 2 + {side_px} * ny / len + r.top];}})()"
        )
    )


def _zoom_to(tab: _Page, geom, zoom: int) -> None:
    c = geom.representative_point()
    tab.eval(f"geo5g.map.setView([{c.y}, {c.x}], {zoom}, {{animate: false}}); true")
    time.sleep(0.3)


@pytest.fixture(scope="module")
def jiangsu(tmp_path_factory):
    out = tmp_path_factory.mktemp("jiangsu") / "report"
    results = run(Request(province="jiangsu"), "report")
    report = report_from(results)
    return report, write_report(report, out)


def test_a_real_mouse_reads_every_layer_of_the_jiangsu_page(tmp_path, jiangsu):
    report, paths = jiangsu
    layers = (report.roads_covered, report.roads_gaps, report.rsu_stretches)
    lines = shapely.union_all(
        np.concatenate([shapely.buffer(np.asarray(g.geometry.values), 0.03) for g in layers])
    )
    with _browser(tmp_path, paths["html"]) as tab:
        # a city, away from every line
        zones = report.zones
        nanjing = zones.loc[zones["name_zh"] == "南京市"].geometry.iloc[0]
        free = shapely.difference(nanjing, lines).representative_point()
        tip = _tooltip_at(tab, *_screen_xy(tab, free.x, free.y))
        assert "南京市" in tip and "per 10k" in tip.lower(), tip

        # a gap stretch, a covered stretch and an RSU stretch, each zoomed in so it is wide
        for key, expect, side in (
            ("gaps", "Gap length", 0.0),
            ("covered", "Covered length", 0.0),
            # the RSU band is 9 px wide under the 3–4 px road lines: hover its edge
            ("rsu", "RSU length", 3.5),
        ):
            tip = _tooltip_at(tab, *_drawn_line_point(tab, key, side))
            assert expect in tip, (expect, tip)

        # a port marker
        port = report.ports.iloc[0]
        where = port.geometry.representative_point()
        _zoom_to(tab, where, 11)
        tip = _tooltip_at(tab, *_screen_xy(tab, where.x, where.y))
        assert str(port["name"]) in tip, tip

        # the tables: a header click sorts, a row click zooms the map to it
        order = tab.eval(
            "(function(){var t = document.querySelector('table[data-table=gaps]');"
            "t.querySelectorAll('th')[4].click(); t.querySelectorAll('th')[4].click();"
            "return Array.from(t.tBodies[0].rows).map(function (r) {"
            "return parseFloat(r.cells[4].getAttribute('data-value')); });})()"
        )
        assert order == sorted(order, reverse=True) and len(order) > 1
        row = report.roads_gaps
        tab.eval("document.querySelector('table[data-table=gaps] tbody tr').click(); true")
        time.sleep(0.3)
        centre = tab.eval("(function(){var c = geo5g.map.getCenter(); return [c.lng, c.lat];})()")
        assert tab.eval("geo5g.map.getZoom()") >= 12
        assert (
            shapely.distance(shapely.Point(centre), shapely.union_all(row.geometry.values)) < 0.05
        )


def _chromium_file(tmp_path: Path, page: Path, *args: str) -> None:
    subprocess.run(
        [
            str(CHROMIUM),
            *_FLAGS,
            f"--user-data-dir={tmp_path / 'shot-profile'}",
            "--virtual-time-budget=5000",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        timeout=180,
        check=True,
    )


def test_screenshots_and_a_printed_pdf_for_a_person_to_look_at(tmp_path, jiangsu):
    _, paths = jiangsu
    for width, height in ((1400, 1000), (390, 844)):
        shot = tmp_path / f"report_jiangsu_{width}x{height}.png"
        _chromium_file(
            tmp_path, paths["html"], f"--window-size={width},{height}", f"--screenshot={shot}"
        )
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(data[16:20], "big") == width
        _keep(shot)
    pdf = tmp_path / "report_jiangsu.pdf"
    _chromium_file(tmp_path, paths["html"], "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    body = pdf.read_bytes()
    assert body.startswith(b"%PDF")
    # A4 landscape (842 × 595 pt): the map alone on the first page, the panel after it
    assert b"/MediaBox [0 0 841.91998 594.95996]" in body
    _keep(pdf)


def test_on_a_phone_the_map_comes_first(tmp_path, jiangsu):
    _, paths = jiangsu
    with _browser(tmp_path, paths["html"], size=(390, 844)) as tab:
        tab.send(
            "Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=1,
            mobile=True,
        )  # fmt: skip
        tab.send("Page.reload")
        time.sleep(0.5)
        tab.wait_for("!!document.body && document.body.getAttribute('data-geo5g-ready') === '1'")
        top = tab.eval(
            "(function(){var m = document.querySelector('.folium-map').getBoundingClientRect();"
            "var p = document.querySelector('.geo5g-panel').getBoundingClientRect();"
            "var c = document.querySelector('.leaflet-control-layers');"
            "return [m.top, p.top, m.height,"
            " c.classList.contains('leaflet-control-layers-expanded')];})()"
        )
        map_top, panel_top, map_height, expanded = top
        assert map_top < 10 and panel_top >= map_top + map_height - 1
        assert not expanded  # the layer list starts folded on a narrow screen


def test_a_real_mouse_reads_the_national_page(tmp_path, national_report):
    report, paths = national_report
    with _browser(tmp_path, paths["html"]) as tab:
        zones = report.zones
        marks = shapely.union_all(shapely.buffer(np.asarray(report.places.geometry.values), 0.15))
        for code in (320100, 650100):  # Nanjing, Urumqi: east and west, away from airports
            inner = shapely.difference(shapely.buffer(zones.loc[code].geometry, -0.05), marks)
            where = inner.representative_point()
            _zoom_to(tab, where, 8)
            tip = _tooltip_at(tab, *_screen_xy(tab, where.x, where.y))
            assert zones.loc[code, "name_zh"] in tip and "per 10k" in tip.lower(), tip
        taiwan = zones.loc[710000].geometry
        where = shapely.buffer(taiwan, -0.1).representative_point()
        _zoom_to(tab, where, 8)
        tip = _tooltip_at(tab, *_screen_xy(tab, where.x, where.y))
        assert "台湾省" in tip, tip
        # a province outline answers on its line: hover a vertex of Jiangsu's outline as drawn
        _zoom_to(tab, report.provinces.loc[320000].geometry, 7)
        lon, lat = tab.eval(
            "(function(){var found = null;"
            "geo5g.layers.provinces.geo5gFeatures.eachLayer(function (l) {"
            " if (l.feature.properties.t.indexOf('江苏省') === 0) { found = l; } });"
            "var ring = found.getLatLngs(); while (Array.isArray(ring[0])) { ring = ring[0]; }"
            "var b = geo5g.map.getBounds(), best = null;"
            "ring.forEach(function (p) { if (!best && b.pad(-0.1).contains(p)) { best = p; } });"
            "return [best.lng, best.lat];})()"
        )
        tip = _tooltip_at(tab, *_screen_xy(tab, lon, lat))
        # a vertex may be shared with a neighbour drawn above it: any province's totals
        neighbours = ("江苏省", "安徽省", "山东省", "浙江省", "上海市")
        assert "Cities meeting the target" in tip and any(n in tip for n in neighbours), tip
