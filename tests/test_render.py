"""Tests of geo5g.render: an offline, self-contained, escaped page whose numbers are the metrics."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_report import IMG_PORT, SCRIPT_CITY, report_parts

from geo5g.errors import DataError
from geo5g.render import (
    COUNT_COLOURS,
    RATIO_BREAKS,
    RATIO_COLOURS,
    build_map,
    count_breaks,
    escape,
    escape_series,
    layer_infos,
    leaflet_assets,
    ratio_classes,
    render_html,
)
from geo5g.report import Provenance, build_report

TILES = "https://tiles.intranet.example/{z}/{x}/{y}.png"


@pytest.fixture(scope="module")
def report():
    return build_report(**report_parts())


@pytest.fixture(scope="module")
def page(report):
    return render_html(report)


def _without_leaflet(text: str) -> str:
    """The page minus the verbatim Leaflet library (whose comments name its website)."""
    _, js, css = leaflet_assets()
    assert js in text and css in text
    return text.replace(js, "").replace(css, "")


def _layer_data(page: str, key: str) -> tuple[dict, dict]:
    """The (data, spec) JSON passed to geo5g.layer for layer ``key``."""
    match = re.search(r"geo5g\.layer\([\w]+,\s*" + re.escape(json.dumps(key)) + r",\s*", page)
    assert match, f"no layer {key}"
    decoder = json.JSONDecoder()
    data, end = decoder.raw_decode(page, match.end())
    rest = re.match(r",\s*", page[end:])
    spec, _ = decoder.raw_decode(page, end + rest.end())
    return data, spec


class _Targets(HTMLParser):
    """Collects the data-* attributes of the scorecard's items."""

    def __init__(self):
        super().__init__()
        self.items = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "li" and "data-target-id" in attrs:
            self.items.append(attrs)


# ------------------------------------------------------------------ offline


def test_page_needs_no_network(page):
    rest = _without_leaflet(page)
    assert not re.search(r"https?://", rest), re.findall(r"https?://\S{0,60}", rest)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", rest)
    assert not re.search(r"<script[^>]+src=", page)  # everything is inline
    assert not re.search(r"<link\b", page)
    assert not re.search(r"url\((?!data:|#default#VML)", page)  # css images are data URIs
    for cdn_lib in ("jquery", "bootstrap", "awesome-markers", "fontawesome"):
        assert cdn_lib not in rest.lower()


def test_page_is_utf8_with_chinese_names(page):
    assert 'charset=UTF-8"' in page
    assert "南京市" in page and "常州市" in page  # not \u-escaped: readable and smaller


def test_tiles_are_optional_and_the_only_url(report):
    with_tiles = _without_leaflet(render_html(report, tiles=TILES, tiles_attribution="© Intranet"))
    assert set(re.findall(r"https?://[^\"'\s]+", with_tiles)) == {TILES}
    assert json.dumps("© Intranet") in with_tiles  # attribution (JSON in the script)
    assert "L.tileLayer" in with_tiles
    assert "L.tileLayer" not in render_html(report)


@pytest.mark.parametrize("bad", ["https://tiles.example/osm.png", "{z}/{x}", ""])
def test_tiles_must_be_a_template(report, bad):
    with pytest.raises(DataError, match="not an XYZ tile URL template"):
        render_html(report, tiles=bad)


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("javascript:alert(1)//{z}/{x}/{y}", "scheme 'javascript' is not allowed"),
        ("data:image/png;base64,{z}{x}{y}", "scheme 'data' is not allowed"),
        ("ftp://srv/{z}/{x}/{y}.png", "scheme 'ftp' is not allowed"),
        ('https://t/{z}/{x}/{y}.png"onerror="x', "quotes, backslashes or markup"),
        ("https://t/{z}/{x}/{y}.png<script>", "quotes, backslashes or markup"),
        ("https://t/{z}/{x}/{y} .png", "quotes, backslashes or markup"),
    ],
)
def test_tiles_only_http_or_local_templates(report, bad, why):
    with pytest.raises(DataError, match=re.escape(why)):
        render_html(report, tiles=bad)


@pytest.mark.parametrize(
    "good",
    [
        "http://10.0.0.5:8080/{z}/{x}/{y}.png",
        "tiles/{z}/{x}/{-y}.png",
        "/srv/{z}/{x}/{y}",
        "file:///srv/{z}/{x}/{y}.png",
    ],
)
def test_tiles_local_paths_and_http_are_accepted(report, good):
    assert json.dumps(good)[1:-1] in render_html(report, tiles=good)


def test_folium_defaults_are_left_alone(report):
    """The CDN links are dropped on our map only, not for every folium map."""
    import folium
    import folium.folium

    build_map(report)
    assert folium.folium._default_js and folium.Map.default_js
    assert any("jquery" in url for _, url in folium.Map().default_js)


# ------------------------------------------------------------------ escaping


def test_names_from_inputs_are_escaped(page):
    assert SCRIPT_CITY not in page
    assert IMG_PORT not in page
    assert "<img" not in page
    assert "<b>only</b>" not in page  # notes are text, not markup
    # the panel shows them as text
    assert html.escape(SCRIPT_CITY) in page
    assert "Test data &lt;b&gt;only&lt;/b&gt;" in page
    # the map data carries them escaped (and JSON-escaped for the <script>)
    data, _ = _layer_data(page, "cities")
    titles = [f["properties"]["t"] for f in data["geojson"]["features"]]
    assert html.escape(SCRIPT_CITY) in titles
    data, _ = _layer_data(page, "ports")
    assert html.escape(IMG_PORT) in [f["properties"]["name"] for f in data["geojson"]["features"]]
    data, _ = _layer_data(page, "boundaries")
    assert html.escape(SCRIPT_CITY) in [row[2] for row in data["labels"]]


def test_everything_else_from_inputs_is_escaped():
    parts = report_parts()
    evil = "</script><script>alert(2)</script>"
    parts["title"] = evil
    parts["roads_gaps"] = parts["roads_gaps"].assign(ref=evil, name=evil)
    parts["scorecard"] = parts["scorecard"].assign(description=evil, note=evil, unit=evil)
    parts["provenance"] = [Provenance(evil, evil, "real", evil)]
    parts["plan"] = {"id": evil, "name": evil}
    page = render_html(build_report(**parts))
    assert "alert(2)</script>" not in page
    assert page.count("<script>") == page.count("</script>")


@given(st.lists(st.one_of(st.none(), st.text(max_size=20)), max_size=20))
def test_escape_series_equals_html_escape(values):
    got = escape_series(pd.Series(values, dtype=object)).tolist()
    assert got == [escape(v) for v in values]
    assert got == ["" if v is None else html.escape(v, quote=True) for v in values]


@pytest.mark.parametrize(("value", "text"), [(None, ""), (np.nan, ""), (pd.NA, ""), (3, "3")])
def test_escape_missing_values(value, text):
    assert escape(value) == text


# ------------------------------------------------------------------ content equals the metrics


def test_scorecard_panel_equals_the_scorecard(page, report):
    parser = _Targets()
    parser.feed(page)
    card = report.scorecard
    assert [i["data-target-id"] for i in parser.items] == card["target_id"].tolist()
    measured = [float(i["data-measured"]) for i in parser.items]
    np.testing.assert_array_equal(measured, card["measured"].to_numpy(dtype=float))
    expected_state = ["met", "not-met", "not-met", "na", "not-met"]
    assert [i["data-met"] for i in parser.items] == expected_state
    assert [i["class"].split()[-1] for i in parser.items] == expected_state
    assert "<b>26</b> stations / 10k residents" in page  # measured with its unit
    assert "Plan: &gt; 25 stations / 10k residents" in page
    assert "Plan: ≥ 300 km" in page and "<b>2</b> km" in page
    assert "not measurable from the inputs" in page


def test_city_layer_equals_the_density_table(page, report):
    data, spec = _layer_data(page, "cities")
    props = pd.DataFrame([f["properties"] for f in data["geojson"]["features"]])
    zones = report.zones
    assert props["stations"].tolist() == zones["stations"].tolist()
    assert props["shortfall"].tolist() == zones["shortfall"].tolist()
    np.testing.assert_allclose(props["per_10k"].astype(float), zones["per_10k"], equal_nan=True)
    features = data["geojson"]["features"]
    assert [f["properties"]["population"] for f in features] == [100_000, 200_000, None, 50_000]
    assert [f["properties"]["met"] for f in features] == [True, False, None, True]
    # colour classes: blue for met, red for not met, grey without population
    assert props["k"].tolist() == [5, 0, -1, 4]
    assert spec["palette"] == list(RATIO_COLOURS)
    assert [f[0] for f in spec["fields"]] == [
        "population",
        "stations",
        "per_10k",
        "target",
        "shortfall",
        "met",
    ]


def test_cities_table_in_panel(page):
    assert "Cities against the density target (2 of 3 meet it)" in page
    # sorted: cities not meeting the target first, largest shortfall first
    order = [page.index(f"<td>{name}<div") for name in ("无锡市", "常州市", "南京市")]
    assert order == sorted(order)


def test_road_ports_and_hex_layers(page, report):
    gaps, spec = _layer_data(page, "gaps")
    props = [f["properties"] for f in gaps["geojson"]["features"]]
    assert [p["length_m"] for p in props] == [3000.0, 2000.0]
    assert [p["city"] for p in props] == ["南京市", "无锡市"]  # adcode → city name
    assert spec["fields"][-1] == ["length_m", "Gap length", "km"]
    ports, _ = _layer_data(page, "ports")
    props = [f["properties"] for f in ports["geojson"]["features"]]
    assert [p["status"] for p in props] == ["covered", "not covered", "covered"]
    assert [p["k"] for p in props] == [0, 2, 0]
    assert props[1]["site_id"] == ""  # NA → empty, shown as "—"
    hexes, spec = _layer_data(page, "site_density")
    counts = [f["properties"]["n"] for f in hexes["geojson"]["features"]]
    assert sum(counts) == 40
    assert spec["count"]["label"] == "sites in this 0.5 km hexagon"


def test_coordinates_are_rounded(page):
    data, _ = _layer_data(page, "site_density")
    coords = np.array(data["geojson"]["features"][0]["geometry"]["coordinates"][0])
    assert np.array_equal(coords, np.round(coords, 5))


# ------------------------------------------------------------------ layers, flags, legend


def test_layer_infos_and_flags(report):
    infos = {i.key: i for i in layer_infos(report)}
    assert list(infos) == [
        "cities",
        "counties",
        "site_density",
        "boundaries",
        "rsu",
        "covered",
        "gaps",
        "sites",
        "ports",
    ]
    assert infos["cities"].flags == ("SYNTHETIC",)  # built on synthetic sites
    assert infos["gaps"].flags == ("SYNTHETIC", "SCHEMATIC")
    assert infos["boundaries"].flags == ()
    assert not infos["counties"].show and not infos["site_density"].show
    assert 'class="geo5g-flag synthetic">SYNTHETIC' in infos["cities"].label_html


def test_absent_layers_are_not_drawn():
    parts = report_parts()
    bare = {k: parts[k] for k in ("title", "plan", "cities", "city_density", "scorecard")}
    report = build_report(**bare)
    assert [i.key for i in layer_infos(report)] == ["cities", "boundaries"]
    page = render_html(report)
    assert page.count("geo5g.layer(") == 2
    assert "SYNTHETIC" not in page
    empty_gaps = parts["roads_gaps"].iloc[:0]
    report = build_report(**{**bare, "roads_gaps": empty_gaps})
    assert "gaps" not in [i.key for i in layer_infos(report)]


def test_every_layer_in_control_and_legend(page, report):
    for info in layer_infos(report):
        assert json.dumps(info.label_html).replace("<", "\\u003c").replace(">", "\\u003e") in page
        assert f'data-layer=\\"{info.key}\\"' in page  # legend section (inside JSON)
    assert "SCHEMATIC" in page and "⚠" in page


# ------------------------------------------------------------------ classes


@pytest.mark.parametrize(
    ("per_10k", "target", "met", "k"),
    [
        (0.0, 25.0, False, 0),
        (12.5, 25.0, False, 1),  # exactly 50 %
        (24.9, 25.0, False, 3),
        (25.0, 25.0, True, 4),  # exactly at target and met (">=")
        (25.0, 25.0, False, 3),  # at target but the plan says ">": not met, red
        (40.0, 25.0, True, 7),
        (30.0, 0.0, True, 7),  # a zero target is met by anything
        (np.nan, 25.0, None, -1),  # no population
        (30.0, 25.0, None, -1),
    ],
)
def test_ratio_classes(per_10k, target, met, k):
    assert ratio_classes([per_10k], [target], [met]).tolist() == [k]


@given(
    st.lists(
        st.tuples(
            st.one_of(st.floats(0, 1e3), st.just(np.nan)),
            st.floats(0.1, 100),
            st.sampled_from([True, False, None]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_ratio_classes_never_contradict_met(rows):
    per_10k, target, met = zip(*rows, strict=True)
    k = ratio_classes(list(per_10k), list(target), list(met))
    first_blue = RATIO_BREAKS.index(1.0) + 1
    for ki, mi, pi in zip(k, met, per_10k, strict=True):
        if mi is None or np.isnan(pi):
            assert ki == -1
        elif mi:
            assert first_blue <= ki < len(RATIO_COLOURS)
        else:
            assert 0 <= ki < first_blue


@given(st.lists(st.integers(1, 10_000), max_size=200))
def test_count_breaks_are_nice_and_increasing(counts):
    edges = count_breaks(counts)
    assert len(edges) <= len(COUNT_COLOURS) - 1
    assert (np.diff(edges) > 0).all()
    assert (edges > 1).all()
    mantissa = edges / 10 ** np.floor(np.log10(edges))
    assert set(np.round(mantissa, 6)) <= {1.0, 2.0, 5.0}


def test_trend_chart_is_plain_svg_with_coordinates_checkable_by_hand():
    """Two quarters, 10 000 residents: 0 then 25 stations = 0 → 25 per 10k, axis top 50."""
    import types
    import xml.etree.ElementTree as ET

    from geo5g.render import _CHART_H, _CHART_PAD, _CHART_W, _trend_svg

    trend = pd.DataFrame({"2020-01-01": [0], "2021-01-01": [25]}, index=[320100])
    zones = pd.DataFrame(
        {"population": [10_000], "target": [50.0], "name_zh": ["<b>南京</b>{{7*7}}"]},
        index=[320100],
    )
    svg = _trend_svg(types.SimpleNamespace(trend=trend, zones=zones))
    root = ET.fromstring(svg)  # well-formed: the name's markup was escaped
    ns = {"s": "http://www.w3.org/2000/svg"}
    first = next(root.iter("{http://www.w3.org/2000/svg}text"))
    assert first.text == "<b>南京</b>{{7*7}}"
    pt, pl, pb, pr = _CHART_PAD
    ih, iw = _CHART_H - pt - pb, _CHART_W - pl - pr
    points = root.find(".//s:polyline", ns).get("points").split()
    # 25 per 10k on an axis of 0..50 (the target is 50): half way up
    assert points == [f"{pl:.1f},{pt + ih:.1f}", f"{pl + iw:.1f},{pt + ih / 2:.1f}"]
    target = root.find(".//s:line[@class='target']", ns)
    assert float(target.get("y1")) == pytest.approx(pt)  # the target is the axis top


@pytest.mark.parametrize("with_fields", [True, False])
def test_feature_collection_equals_geopandas_geojson(with_fields):
    """The column-wise writer says what geopandas' to_json says (nulls, booleans, markup)."""
    import geopandas as gpd
    import shapely

    from geo5g.render import _feature_collection, _rounded

    geoms = np.array(
        [shapely.Point(118.123456789, 32.5), shapely.LineString([(0, 0), (1, 1)]), None]
    )
    props = pd.DataFrame(
        {
            "n": [1, 2, None],
            "t": ["a\nb", "</script><b>", None],
            "met": pd.array([True, None, False], dtype="boolean"),
            "x": [1.5, np.nan, 2.25],
        },
        index=[7, 8, 9],
    )
    if not with_fields:
        props = props[[]]
    layer = gpd.GeoDataFrame(geometry=geoms, crs=4326)
    ours = json.loads(_feature_collection(layer, props))
    theirs = gpd.GeoDataFrame(
        props.reset_index(drop=True), geometry=_rounded(geoms), crs=4326
    ).to_json(drop_id=True, na="null")
    assert ours == json.loads(theirs)
