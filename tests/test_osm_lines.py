"""Lines other than expressways: railways, metro, main roads and tunnels (issue 13).

The extracts are written here, as OSM XML (GDAL's OSM driver reads it) and as PBF
(pyosmium's SimpleWriter), from ways given in metres on a transverse Mercator centred
on 118°E: the nodes are at known places, so every length is checked by hand. Ways run
north–south near the central meridian, where the projection's scale is 1 to within
10⁻⁶, and OSM keeps 7 decimals of a degree (≈ 1 cm).
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import CRS, Transformer
from shapely import LineString, box

from geo5g.errors import DataError
from geo5g.lines import cover_lines, prepare_roads
from geo5g.pipeline import line_rule
from geo5g.roads import KIND_SPELLINGS, LINE_KINDS, line_kind, read_roads

TM = CRS.from_proj4(
    "+proj=tmerc +lat_0=0 +lon_0=118 +k=1 +x_0=500000 +y_0=0 +datum=WGS84 +units=m +no_defs"
)
_TO_TM = Transformer.from_crs("EPSG:4326", TM, always_xy=True)
_FROM_TM = Transformer.from_crs(TM, "EPSG:4326", always_xy=True)
X0, Y0 = _TO_TM.transform(118.0, 32.0)  # the origin of the layouts: 118°E, 32°N

RAIL = {"railway": "rail"}


def _way(key: str, value: str, name: str, **tags) -> dict:
    """Tags of a way: ``key=value``, its name, and more tags (``__`` spells ``:``)."""
    return {key: value, "name": name, **{k.replace("__", ":"): v for k, v in tags.items()}}


def _road(value: str, name: str, **tags) -> dict:
    return _way("highway", value, name, **tags)


def _rail(value: str, name: str, **tags) -> dict:
    return _way("railway", value, name, **tags)


#: (way id, points in metres from (X0, Y0), tags): what each kind must keep or leave out.
WAYS = [
    # railways: a main line (2 km open, 1 km in a tunnel), a double track mapped as two
    # ways with a preferred direction each, and four ways that are not main lines
    (101, [(0, 0), (0, 2000)], _rail("rail", "京沪高铁", usage="main", highspeed="yes")),
    (102, [(0, 2000), (0, 3000)], _rail("rail", "京沪高铁", tunnel="yes", layer="-1")),
    (103, [(200, 0), (200, 500)], _rail("rail", "站线", service="siding")),
    (104, [(400, 0), (400, 500)], _rail("rail", "专用线", usage="industrial")),
    (105, [(600, 0), (600, 500)], _rail("rail", "停用线", disused="yes")),
    (106, [(800, 0), (800, 500)], _rail("abandoned", "废弃铁路")),
    (107, [(1000, 0), (1000, 1000)],
     _rail("rail", "沪宁城际", ref="HN", railway__preferred_direction="forward")),
    (108, [(1005, 1000), (1005, 0)],
     _rail("rail", "沪宁城际", ref="HN", railway__preferred_direction="backward")),
    # metro: subway (in a tunnel), light rail, monorail; a tram and a depot track are not
    (201, [(2000, 0), (2000, 1500)], _rail("subway", "地铁1号线", ref="1", tunnel="yes")),
    (202, [(2200, 0), (2200, 800)], _rail("light_rail", "轻轨2号线")),
    (203, [(2400, 0), (2400, 600)], _rail("monorail", "单轨3号线")),
    (204, [(2600, 0), (2600, 500)], _rail("tram", "有轨电车")),
    (205, [(2800, 0), (2800, 500)], _rail("subway", "车辆段", service="yard")),
    # roads: a dual-carriageway motorway, a one-way 1 km ramp, a two-way trunk road
    (301, [(4000, 0), (4000, 3000)], _road("motorway", "京沪高速", ref="G2", oneway="yes")),
    (302, [(4030, 3000), (4030, 0)], _road("motorway", "京沪高速", ref="G2", oneway="yes")),
    (303, [(4100, 0), (4100, 1000)], _road("motorway_link", "枢纽匝道", oneway="yes")),
    (304, [(4300, 0), (4300, 2000)], _road("trunk", "快速路", ref="S1", oneway="no")),
    # … a dual-carriageway primary road, its ramp, a roundabout (a 30-40-50 m triangle)
    (305, [(4500, 0), (4500, 1000)], _road("primary", "中山路", oneway="yes")),
    (306, [(4520, 1000), (4520, 0)], _road("primary", "中山路", oneway="yes")),
    (307, [(4700, 0), (4700, 400)], _road("primary_link", "中山路匝道", oneway="yes")),
    (308, [(4900, 0), (4930, 0), (4930, 40), (4900, 0)],
     _road("primary", "环岛", junction="roundabout", oneway="yes")),
    # … tunnels: of a primary road (kept), of a residential street; a building passage
    (309, [(5100, 0), (5100, 300)], _road("primary", "玄武湖隧道", tunnel="yes")),
    (310, [(5300, 0), (5300, 300)], _road("residential", "小区隧道", tunnel="yes")),
    (311, [(5500, 0), (5500, 100)], _road("primary", "门洞", tunnel="building_passage")),
    (312, [(5700, 0), (5700, 500)], _road("secondary", "次干路")),
]  # fmt: skip

#: The ways each kind keeps (by name; a name may be two ways).
KEPT = {
    "railway": {"京沪高铁", "沪宁城际"},
    "metro": {"地铁1号线", "轻轨2号线", "单轨3号线"},
    "expressway": {"京沪高速", "枢纽匝道", "快速路"},
    "main_road": {"快速路", "中山路", "中山路匝道", "环岛", "玄武湖隧道", "门洞"},
    "tunnel": {"京沪高铁", "玄武湖隧道"},
}


def _nodes_and_ways(ways):
    """Node ids and (lon, lat) of the points of ``ways`` (a shared point is one node)."""
    ids: dict = {}
    out = []
    for way_id, points, tags in ways:
        out.append((way_id, [ids.setdefault(p, len(ids) + 1) for p in points], tags))
    xy = np.array(list(ids), dtype=float)
    lon, lat = _FROM_TM.transform(X0 + xy[:, 0], Y0 + xy[:, 1])
    nodes = {
        i: (round(float(x), 7), round(float(y), 7))
        for i, x, y in zip(ids.values(), lon, lat, strict=True)
    }
    return nodes, out


def write_osm(path, ways=WAYS, nodes=None):
    """An OSM XML extract; ``nodes`` (id → lon, lat) with ways of node ids, or metres."""
    if nodes is None:
        nodes, ways = _nodes_and_ways(ways)
    text = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="geo5g">']
    text += [
        f'<node id="{i}" version="1" lat="{lat}" lon="{lon}"/>' for i, (lon, lat) in nodes.items()
    ]
    for way_id, refs, tags in ways:
        text.append(f'<way id="{way_id}" version="1">')
        text += [f'<nd ref="{n}"/>' for n in refs]
        text += [f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
        text.append("</way>")
    path.write_text("\n".join([*text, "</osm>"]), encoding="utf-8")
    return path


def write_pbf(path, ways=WAYS):
    """The same extract as PBF, with pyosmium (the writer of tests/data/roads)."""
    import importlib.util
    from pathlib import Path

    pytest.importorskip("osmium")
    maker = Path(__file__).parent / "data" / "roads" / "make_tiny_pbf.py"
    spec = importlib.util.spec_from_file_location("make_tiny_pbf", maker)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    nodes, ways = _nodes_and_ways(ways)
    return module.write_tiny_pbf(path, nodes=nodes, ways=ways)


@pytest.fixture(scope="module", params=["osm", "osm.pbf"])
def extract(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("osm") / f"lines.{request.param}"
    return write_osm(path) if request.param == "osm" else write_pbf(path)


def _route_km(lines) -> dict:
    """km counted per name by the line-cover engine (× weight), no sites."""
    runs = cover_lines(lines.to_crs(TM), [], [], [])
    return (runs.groupby("name")["route_m"].sum() / 1000).round(4).to_dict()


def _by_name(lines, column) -> dict:
    return lines.groupby("name")[column].agg(lambda s: sorted(set(s))).to_dict()


# ------------------------------------------------------------------ what each kind reads


@pytest.mark.parametrize("kind", LINE_KINDS)
def test_each_kind_keeps_its_ways(extract, kind):
    lines = read_roads(extract, kind=kind)
    assert set(lines["name"]) == KEPT[kind]
    assert (lines["kind"] == kind).all()
    assert not lines["schematic"].any()
    assert list(lines.columns[:7]) == [
        "ref", "name", "kind", "tunnel", "highway", "railway", "schematic",
    ]  # fmt: skip
    assert lines.index.equals(pd.RangeIndex(len(lines)))
    assert lines.crs.to_epsg() == 4326


def test_railway_main_lines(extract):
    rails = read_roads(extract, kind="railway")
    assert rails["railway"].tolist() == ["rail"] * 4 and (rails["highway"] == "").all()
    # the tunnel of the main line is part of the railway, flagged
    assert _by_name(rails, "tunnel") == {"京沪高铁": [False, True], "沪宁城际": [False]}
    # no ref: the name stands for it (the line rule groups by ref)
    assert _by_name(rails, "ref") == {"京沪高铁": ["京沪高铁"], "沪宁城际": ["HN"]}
    # a track with a preferred direction is one of two: the pair counts its route once
    assert _by_name(rails, "weight") == {"京沪高铁": [1.0], "沪宁城际": [0.5]}
    assert _route_km(rails) == {"京沪高铁": 3.0, "沪宁城际": 1.0}


def test_metro_lines(extract):
    metro = read_roads(extract, kind="metro")
    assert sorted(metro["railway"]) == ["light_rail", "monorail", "subway"]
    assert _route_km(metro) == {"地铁1号线": 1.5, "单轨3号线": 0.6, "轻轨2号线": 0.8}
    assert metro.set_index("name").loc["地铁1号线", "ref"] == "1"
    assert metro.set_index("name")["tunnel"].to_dict() == {
        "地铁1号线": True, "轻轨2号线": False, "单轨3号线": False,
    }  # fmt: skip


def test_tunnels_of_roads_and_railways(extract):
    tunnels = read_roads(extract, kind="tunnel")
    assert tunnels["tunnel"].all()
    assert _route_km(tunnels) == {"京沪高铁": 1.0, "玄武湖隧道": 0.3}
    assert dict(zip(tunnels["name"], tunnels["railway"] + tunnels["highway"], strict=True)) == {
        "京沪高铁": "rail", "玄武湖隧道": "primary",
    }  # fmt: skip


def test_ramps_count_in_full_and_carriageways_half(extract):
    roads = read_roads(extract)  # expressways, as before issue 13
    assert _route_km(roads) == {"京沪高速": 3.0, "枢纽匝道": 1.0, "快速路": 2.0}
    assert _by_name(roads, "weight") == {"京沪高速": [0.5], "枢纽匝道": [1.0], "快速路": [1.0]}
    assert sorted(set(roads["highway"])) == ["motorway", "motorway_link", "trunk"]
    main = read_roads(extract, kind="main_road")
    # the 1 km dual primary road counts 1 km; its 400 m ramp 400 m; the roundabout 120 m
    assert _route_km(main) == {
        "中山路": 1.0, "中山路匝道": 0.4, "环岛": 0.12, "快速路": 2.0, "玄武湖隧道": 0.3,
        "门洞": 0.1,
    }  # fmt: skip
    assert not main.set_index("name").loc["门洞", "tunnel"]  # a building passage


def test_trunk_roads_are_both_expressway_and_main_road(extract):
    both = set(read_roads(extract)["name"]) & set(read_roads(extract, kind="main_road")["name"])
    assert both == {"快速路"}


@pytest.mark.parametrize(
    ("spelling", "kind"),
    [("高速", "expressway"), ("高速公路", "expressway"), ("Motorway", "expressway"),
     ("主干道", "main_road"), ("城市主干路", "main_road"), ("main road", "main_road"),
     ("铁路", "railway"), ("高铁", "railway"), ("RAILWAY", "railway"),
     ("地铁", "metro"), ("轨道交通", "metro"), ("light-rail", "metro"),
     ("隧道", "tunnel"), ("Tunnels", "tunnel")],
)  # fmt: skip
def test_chinese_and_english_spellings(spelling, kind):
    assert line_kind(spelling) == kind
    assert line_kind(f" {spelling} ") == kind


def test_every_spelling_names_one_kind():
    assert set(KIND_SPELLINGS) == set(LINE_KINDS)
    for kind, spellings in KIND_SPELLINGS.items():
        assert {line_kind(s) for s in spellings} == {kind}


def test_a_chinese_kind_reads_the_same_ways(tmp_path):
    path = write_osm(tmp_path / "x.osm")
    for spelling, kind in [("铁路", "railway"), ("地铁", "metro"), ("隧道", "tunnel")]:
        a, b = read_roads(path, kind=spelling), read_roads(path, kind=kind)
        pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(read_roads(path), read_roads(path, kind="高速公路"))


def test_unknown_kind_and_missing_kind(tmp_path):
    path = write_osm(tmp_path / "x.osm")
    with pytest.raises(DataError, match="unknown kind of line 'canal'; expected one of exp"):
        read_roads(path, kind="canal")
    only_roads = write_osm(tmp_path / "roads.osm", [w for w in WAYS if w[0] >= 300])
    with pytest.raises(DataError) as err:
        read_roads(only_roads, kind="railway")
    assert str(err.value) == (
        "roads.osm: the line layer is empty (no railway=rail main-line ways "
        "(without service=*, usage main/branch or none))"
    )
    with pytest.raises(DataError, match=r"no tunnel=yes ways of highway=motorway/"):
        read_roads(
            write_osm(tmp_path / "m.osm", [w for w in WAYS if 200 <= w[0] < 300]), kind="tunnel"
        )  # metro only


# ------------------------------------------------------------------ vector files


def _file(tmp_path, **columns):
    n = len(next(iter(columns.values())))
    geoms = [LineString([(118, 32 + i / 100), (118.01, 32 + i / 100)]) for i in range(n)]
    path = tmp_path / "lines.geojson"
    gpd.GeoDataFrame(
        {"ref": [f"L{i}" for i in range(n)], **columns}, geometry=geoms, crs=4326
    ).to_file(path)
    return path


def test_vector_kind_column(tmp_path):
    path = _file(tmp_path, kind=["railway", "地铁", "隧道", None, "Main_Road"])
    lines = read_roads(path)
    assert lines["kind"].tolist() == ["railway", "metro", "tunnel", "expressway", "main_road"]
    assert lines["tunnel"].tolist() == [False, False, True, False, False]
    # the kind given fills the blank cells only
    assert read_roads(path, kind="railway")["kind"].tolist()[3] == "railway"


def test_vector_kind_argument_without_column(tmp_path):
    path = _file(tmp_path, name=["a", "b"])
    assert read_roads(path)["kind"].tolist() == ["expressway"] * 2  # as before issue 13
    assert read_roads(path, kind="高铁")["kind"].tolist() == ["railway"] * 2
    tunnels = read_roads(path, kind="tunnel")
    assert tunnels["tunnel"].all() and tunnels["weight"].tolist() == [1.0, 1.0]


def test_bad_kinds_are_reported_with_their_rows(tmp_path):
    path = _file(
        tmp_path,
        kind=["road", "railway", "canal", "road", "metro"],
        tunnel=["yes", "否", "maybe", "", "1"],
        weight=[1.0, 2.0, 1.0, 1.0, 1.0],
    )
    with pytest.raises(DataError) as err:
        read_roads(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("lines.geojson: 1 rows have weight outside (0, 1]")
    assert "3 rows have an unknown kind: 'road' (features 1, 4), 'canal' (features 3)" in message
    assert "expected one of expressway, main_road, railway, metro, tunnel" in message
    assert "1 rows have a tunnel that is not yes/no ('maybe'; features 3)" in message


# ------------------------------------------------------------------ measured, judged


def _across_two_cities(tmp_path, radius_m: float):
    """A 2 km railway north from 118°E 32°N across a city border 1,200 m up the line."""
    nodes = {1: (118.0, 32.0), 2: (118.0, 32.018)}
    ways = [(1, [1, 2], RAIL | {"name": "京沪高铁", "ref": "京沪高铁"})]
    rails = read_roads(write_osm(tmp_path / "r.osm", ways, nodes), kind="铁路")
    top = _TO_TM.transform(118.0, 32.018)[1] - Y0  # ≈ 1,996 m of meridian arc
    cities = gpd.GeoDataFrame(
        {"name_zh": ["南京市", "镇江市"]},
        geometry=[box(X0 - 500, Y0 - 500, X0 + 500, Y0 + 1200),
                  box(X0 - 500, Y0 + 1200, X0 + 500, Y0 + top + 500)],
        crs=TM,
        index=pd.Index([320100, 321100], name="adcode"),
    )  # fmt: skip
    net = prepare_roads(rails, cities, TM)
    # one site beside nobody's border: its disk covers 2 r of the line in 南京市
    runs = cover_lines(net, [X0], [Y0 + 600.0], [radius_m])
    return runs, top


def test_a_railway_across_a_city_border_and_the_line_rule(tmp_path):
    runs, top = _across_two_cities(tmp_path, 570.0)  # 1,140 of 1,200 m: 95.0 %
    assert top == pytest.approx(1996.0, abs=1.0)
    assert set(runs["kind"]) == {"railway"}
    km = runs.groupby("city_adcode")["route_m"].sum() / 1000
    assert km.to_dict() == pytest.approx({320100: 1.2, 321100: (top - 1200) / 1000})
    assert km.sum() == pytest.approx(top / 1000)  # the cities share the line, once
    rule = line_rule(runs)
    nanjing = rule.loc[("京沪高铁", 320100)]
    assert nanjing["kind"] == "railway"
    assert nanjing["coverage_pct"] == pytest.approx(95.0)
    assert bool(nanjing["continuous"])
    assert not bool(rule.loc[("京沪高铁", 321100), "continuous"])  # not covered at all

    runs, _ = _across_two_cities(tmp_path, 569.4)  # 1,138.8 of 1,200 m: 94.9 %
    nanjing = line_rule(runs).loc[("京沪高铁", 320100)]
    assert nanjing["coverage_pct"] == pytest.approx(94.9)
    assert not bool(nanjing["continuous"])


def test_several_kinds_in_one_pass_equal_one_read_per_kind(extract, monkeypatch):
    """``kind=(…)`` parses the extract once and gives each kind's ways, as separate reads do."""
    import geo5g.roads as roads_module

    reads = []
    real = roads_module._read_vector
    monkeypatch.setattr(
        roads_module, "_read_vector", lambda *a, **k: reads.append(a) or real(*a, **k)
    )
    both = read_roads(extract, kind=("railway", "隧道", "main_road"))
    assert len(reads) == 1
    for kind in ("railway", "tunnel", "main_road"):
        alone = read_roads(extract, kind=kind)
        mine = both[both["kind"] == kind].reset_index(drop=True)
        pd.testing.assert_frame_equal(
            pd.DataFrame(mine.drop(columns="geometry")),
            pd.DataFrame(alone.drop(columns="geometry")),
        )
        assert mine.geometry.geom_equals(alone.geometry).all()


def test_several_kinds_need_an_osm_extract(tmp_path):
    path = tmp_path / "l.geojson"
    gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 1)])], crs=4326).to_file(path)
    with pytest.raises(DataError, match="OSM extracts only"):
        read_roads(path, kind=("railway", "metro"))
