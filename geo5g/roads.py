"""Readers for lines (roads, railways, metro, tunnels), ports and roadside units (RSU).

Each reader reads one file, normalises its columns and validates the layer once,
collecting every problem and raising a single :class:`~geo5g.errors.DataError`
(or :class:`~geo5g.errors.CRSError`) whose message names the file. After that the
analyses trust the layer.

Layers (see ``docs/CONTRACTS.md``):

* lines (:func:`read_roads`) — (Multi)LineStrings with CRS; ``ref`` (str), ``name``
  (str), ``kind`` (str, one of :data:`LINE_KINDS`), ``tunnel`` (bool), ``schematic``
  (bool), ``weight`` (float in (0, 1]: the share of the route a line stands for);
  from OpenStreetMap also ``highway`` and ``railway`` (the OSM class, ``""`` if none).
* ports — Points or (Multi)Polygons with CRS; ``port_id`` (str), ``name`` (str),
  ``synthetic`` (bool).
* RSUs — Points with CRS; ``rsu_id`` (str), ``range_m`` (float, NaN = default
  range), ``synthetic`` (bool).

Formats: GeoJSON, GeoPackage, Shapefile, GeoParquet, and for lines OpenStreetMap
``.osm.pbf``/``.osm`` extracts (GDAL's OSM driver, layer ``lines``). Points may also
come as CSV with ``lon``/``lat`` columns (WGS-84, or GCJ-02/BD-09 with ``coords=``).

Kinds of line
-------------
The provincial plans judge five kinds of line by the same ≥ 95 % line rule:
``expressway`` (高速公路), ``main_road`` (城市主干道/快速路), ``railway`` (铁路, 高铁),
``metro`` (地铁, 轨道交通) and ``tunnel`` (隧道); :data:`KIND_SPELLINGS` lists the
spellings accepted (any case, spaces, ``_``, ``-`` ignored). From an OSM extract the
kind chooses what is read (:data:`OSM_LINES`):

* ``expressway`` — ``highway`` = motorway, trunk and their links (the default).
* ``main_road`` — ``highway`` = trunk, primary and their links. ``trunk`` belongs to
  both road kinds: in China it is used for expressway-standard national roads and for
  urban expressways (城市快速路), the top of the main urban road network; each kind is
  judged on its own, so a trunk road is counted once in each.
* ``railway`` — ``railway=rail`` main lines: ways with a ``service`` tag (yard,
  siding, spur, crossover), with ``usage`` other than main/branch (industrial,
  military, tourism, test), or tagged ``disused``/``abandoned`` are left out (the
  lifecycle values ``railway=disused/abandoned/construction/proposed`` are not
  ``rail`` and never read).
* ``metro`` — ``railway`` = subway, light_rail and monorail (Chongqing's lines 2 and
  3 are monorails); trams are not metro. Depot tracks (``service``) and
  disused/abandoned ways are left out.
* ``tunnel`` — the road classes of both road kinds (motorway, trunk, primary and
  their links) and main-line ``railway=rail`` with ``tunnel`` = yes/true/1
  (``building_passage``, ``culvert``, ``covered`` are not tunnels). Metro lines are
  not tunnels here: they are mostly underground and judged as ``metro``.

Weights (OSM)
-------------
A dual carriageway is mapped as one one-way line per carriageway, so each stands for
half the route: ``weight`` is 0.5 for a one-way (``oneway`` yes/true/1/-1) motorway,
trunk or primary way that is not a roundabout. Ramps and links (``*_link``) are
single lines even when one-way and count in full (1.0), as does every two-way way.
Railway tracks: OSM today maps each track of a multi-track line as its own way; a
track with ``railway:preferred_direction`` forward/backward is one of a pair (like a
carriageway) and counts 0.5. Other tracks count 1.0, so an untagged double track
mapped as two ways counts its route twice in km (its covered share, and so the line
rule, are the same: the tracks lie metres apart), and a way with ``tracks=2`` once.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._paths import data_dir
from ._validate import (
    LAT_SPELLINGS,
    LON_SPELLINGS,
    MAX_REACH_M,
    check_geometries,
    find_columns,
    listed_rows,
    lonlat_problems,
    norm,
    read_csv_any,
    read_vector,
)
from .coords import COORDINATE_SYSTEMS, to_wgs84
from .errors import DataError, InputError
from .project import WGS84, require_crs

__all__ = [
    "KIND_SPELLINGS",
    "LINE_KINDS",
    "OSM_HIGHWAYS",
    "OSM_LINES",
    "is_osm",
    "line_kind",
    "read_demo_ports",
    "read_demo_roads",
    "read_demo_rsu",
    "read_ports",
    "read_roads",
    "read_rsu",
]

#: The kinds of line the plans judge, in the order of the scorecard.
LINE_KINDS = ("expressway", "main_road", "railway", "metro", "tunnel")

#: Spellings accepted for each kind, besides the kind itself (compared case-, space-,
#: ``_``- and ``-``-insensitively).
KIND_SPELLINGS = {
    "expressway": (
        "expressways", "motorway", "motorways", "freeway", "高速", "高速公路", "高速路",
    ),
    "main_road": (
        "main_roads", "main road", "arterial", "arterial_road", "urban_expressway",
        "主干道", "主干路", "城市主干道", "城市主干路", "快速路", "城市快速路",
    ),
    "railway": (
        "railways", "rail", "railroad", "铁路", "高铁", "高速铁路", "普铁", "普速铁路",
        "城际铁路",
    ),
    "metro": (
        "metros", "subway", "underground", "light_rail", "urban_rail", "地铁", "轻轨",
        "轨道交通", "城市轨道交通", "城轨",
    ),
    "tunnel": ("tunnels", "隧道", "公路隧道", "铁路隧道"),
}  # fmt: skip

_KIND_OF = {norm(s): kind for kind in LINE_KINDS for s in (kind, *KIND_SPELLINGS[kind])}
_KIND_HINT = (
    f"expected one of {', '.join(LINE_KINDS)} (or 高速公路, 主干道, 铁路, 高铁, 地铁, "
    "轨道交通, 隧道)"
)

#: OSM ``highway`` values kept from ``.osm.pbf`` extracts (expressways and their ramps).
OSM_HIGHWAYS = ("motorway", "trunk", "motorway_link", "trunk_link")
_MAIN_ROADS = ("trunk", "primary", "trunk_link", "primary_link")
_TUNNEL_ROADS = ("motorway", "trunk", "primary", "motorway_link", "trunk_link", "primary_link")

#: The OSM ways read for each kind of line: tag → values (see the module docstring for
#: the ways then left out, and for ``tunnel`` the ``tunnel=yes`` condition).
OSM_LINES = {
    "expressway": {"highway": OSM_HIGHWAYS},
    "main_road": {"highway": _MAIN_ROADS},
    "railway": {"railway": ("rail",)},
    "metro": {"railway": ("subway", "light_rail", "monorail")},
    "tunnel": {"highway": _TUNNEL_ROADS, "railway": ("rail",)},
}

#: Main carriageways: a one-way way of these classes is one carriageway of a dual road.
_CARRIAGEWAYS = ("motorway", "trunk", "primary")
_YES = ("yes", "true", "1")
_ONEWAY = (*_YES, "-1")
_RAIL_USAGE = ("main", "branch")  # kept, as are rails without usage
_PAIRED_TRACK = ("forward", "backward")  # railway:preferred_direction of one of two tracks
#: Keys of ``other_tags`` read for ways selected by ``highway`` and by ``railway``.
_OSM_KEYS = {
    "highway": ("ref", "tunnel", "oneway", "junction"),
    "railway": (
        "ref", "tunnel", "service", "usage", "disused", "abandoned",
        "railway:preferred_direction",
    ),
}  # fmt: skip
_ALL_KEYS = frozenset(_OSM_KEYS["highway"] + _OSM_KEYS["railway"])

_LINES = ("LineString", "MultiLineString")
_POLYGONS = ("Polygon", "MultiPolygon")
_LON = ("lon", "lng", "longitude", "x")
_LAT = ("lat", "latitude", "y")
_DEMO = {"jiangsu", "jiangxi"}
_TRUE_WORDS = frozenset({"yes", "true", "1", "1.0", "y", "t", "是"})
_FALSE_WORDS = frozenset({"no", "false", "0", "0.0", "n", "f", "否", ""})


# ---------------------------------------------------------------------------- reading


def _check_path(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    return path


def is_osm(path: Path) -> bool:
    """Whether ``path`` names an OpenStreetMap extract (``.osm.pbf``, ``.pbf``, ``.osm``)."""
    name = path.name.lower()
    return name.endswith((".osm.pbf", ".pbf", ".osm"))


def _read_vector(path: Path, layer=None, **kwargs) -> gpd.GeoDataFrame:
    return read_vector(path, layer=layer, **kwargs)


def _rows(mask: np.ndarray) -> str:
    return listed_rows(mask, np.arange(len(mask)) + 1, "features")


def _geometry_problems(gdf: gpd.GeoDataFrame, allowed: tuple[str, ...], what: str, hint: str):
    """Problems with the geometries of a layer: missing, empty, wrong type, zero length."""
    return check_geometries(gdf, allowed, what, hint)


def _finish(name: str, problems: list[str]) -> None:
    if problems:
        raise DataError(f"{name}: " + "; ".join(problems))


def _text(series: pd.Series) -> pd.Series:
    return series.astype("string").str.strip()


def _first_column(df: pd.DataFrame, names) -> str | None:
    lower = {str(c).lower(): c for c in df.columns}
    return next((lower[n] for n in names if n in lower), None)


def line_kind(value) -> str:
    """The kind of line (one of :data:`LINE_KINDS`) a spelling names.

    Parameters
    ----------
    value : str
        A kind in English or Chinese (:data:`KIND_SPELLINGS`), any case.

    Returns
    -------
    str

    Raises
    ------
    DataError
        The spelling names no kind of line.

    Examples
    --------
    >>> line_kind("高铁"), line_kind("Main Road"), line_kind("地铁")
    ('railway', 'main_road', 'metro')
    >>> try:
    ...     line_kind("canal")
    ... except DataError as err:
    ...     print(str(err)[:33])
    unknown kind of line 'canal'; exp
    """
    found = _KIND_OF.get(norm(value)) if isinstance(value, str) else None
    if found is None:
        raise DataError(f"unknown kind of line {value!r}; {_KIND_HINT}")
    return found


def _kinds(values: pd.Series, default: str, problems: list[str]) -> np.ndarray:
    """Canonical kinds of a column (blank → ``default``), once per distinct value."""
    codes, distinct = pd.factorize(_text(values).fillna(""))
    mapped = [_KIND_OF.get(norm(v)) if v else default for v in distinct]
    bad = [i for i, kind in enumerate(mapped) if kind is None]
    if bad:
        rows = sum(int((codes == i).sum()) for i in bad)
        listed = ", ".join(f"{distinct[i]!r} ({_rows(codes == i)})" for i in bad[:5])
        more = ", …" if len(bad) > 5 else ""
        problems.append(f"{rows} rows have an unknown kind: {listed}{more}; {_KIND_HINT}")
    return np.asarray([k or "" for k in mapped] + [default], dtype=object)[codes]


def _flags(values: pd.Series, column: str, problems: list[str]) -> np.ndarray:
    """A yes/no column as bool (yes/true/1/是, no/false/0/否, blank = False)."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=bool)
    codes, distinct = pd.factorize(_text(values).str.lower().fillna(""))
    truth = np.asarray([v in _TRUE_WORDS for v in distinct] + [False])
    unknown = [i for i, v in enumerate(distinct) if v not in _TRUE_WORDS | _FALSE_WORDS]
    if unknown:
        mask = np.isin(codes, unknown)
        problems.append(
            f"{int(mask.sum())} rows have a {column} that is not yes/no "
            f"({', '.join(repr(distinct[i]) for i in unknown[:5])}; {_rows(mask)})"
        )
    return truth[codes]


def _osm_tags(other_tags: pd.Series, keys) -> dict[str, pd.Series]:
    """Keys of GDAL's ``other_tags`` (hstore text ``"ref"=>"G2","oneway"=>"yes"``).

    One RE2 pass of Arrow per key (≈ 0.2 s per million ways); ``""`` where absent.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(other_tags.astype("string").fillna(""), type=pa.string())
    out = {}
    for key in keys:
        pattern = rf'(?:^|,)"{re.escape(key)}"=>"(?P<v>(?:[^"\\]|\\.)*)"'
        value = pc.struct_field(pc.extract_regex(text, pattern=pattern), [0])
        value = pc.utf8_trim_whitespace(
            pc.replace_substring_regex(value, pattern=r"\\(.)", replacement=r"\1")
        )
        out[key] = pd.Series(value, dtype="string", index=other_tags.index).fillna("")
    return out


def _osm_what(kind: str) -> str:
    """What an extract lacks when it has no line of ``kind``."""
    rule = OSM_LINES[kind]
    said = " or ".join(f"{tag}={'/'.join(values)}" for tag, values in rule.items())
    if kind == "tunnel":
        return f"no tunnel=yes ways of {said}"
    if kind == "railway":
        return f"no {said} main-line ways (without service=*, usage main/branch or none)"
    return f"no {said} ways"


def _read_osm_lines(path: Path, kinds: tuple[str, ...]) -> gpd.GeoDataFrame:
    """The ways of each kind of line from an OSM extract, weighted (module docstring).

    The extract is parsed once for all ``kinds`` (GDAL's OSM driver reads the whole file
    whatever the filter); a way of several kinds (a trunk road, a tunnel) is a row of each.
    """
    rules = [OSM_LINES[k] for k in kinds]
    tags = {t: sorted({v for r in rules for v in r.get(t, ())}) for t in ("highway", "railway")}
    where = " OR ".join(
        f"{tag} IN ({', '.join(repr(v) for v in values)})" for tag, values in tags.items() if values
    )
    raw = _read_vector(
        path, layer="lines", columns=["name", "highway", "railway", "other_tags"], where=where
    )
    highway = _text(raw["highway"]).fillna("")
    railway = _text(raw["railway"]).fillna("")
    keys = dict.fromkeys(k for r in rules for selector in r for k in _OSM_KEYS[selector])
    tag = _osm_tags(raw["other_tags"], keys)
    tag |= {k: pd.Series("", index=raw.index, dtype="string") for k in _ALL_KEYS - set(keys)}
    # a rail way in a yard, out of use, or not a line for passengers and freight
    dead = (tag["disused"].isin(_YES) | tag["abandoned"].isin(_YES)).to_numpy(bool)
    other_use = (railway == "rail") & ~tag["usage"].isin(("", *_RAIL_USAGE))
    side = (tag["service"] != "").to_numpy(bool) | dead | other_use.to_numpy(bool)
    tunnel = tag["tunnel"].str.lower().isin(_YES).to_numpy(bool)
    oneway = tag["oneway"].str.lower().isin(_ONEWAY).to_numpy(bool)
    ring = tag["junction"].isin(("roundabout", "circular")).to_numpy(bool)
    paired_track = tag["railway:preferred_direction"].isin(_PAIRED_TRACK).to_numpy(bool)
    ref = tag["ref"].str.split(";").str[0].str.strip().to_numpy(dtype=object)
    parts = []
    for kind, rule in zip(kinds, rules, strict=True):  # a few kinds, each one array pass
        road = highway.isin(rule.get("highway", ())).to_numpy(bool)
        rail = ~road & railway.isin(rule.get("railway", ())).to_numpy(bool)
        keep = road | (rail & ~side)
        if kind == "tunnel":
            keep &= tunnel
        carriageway = road & highway.isin(_CARRIAGEWAYS).to_numpy(bool) & oneway & ~ring
        weight = np.where(carriageway | (rail & paired_track), 0.5, 1.0)
        parts.append(
            gpd.GeoDataFrame(
                {
                    "ref": ref,
                    "name": raw["name"].to_numpy(dtype=object),
                    "kind": kind,
                    "tunnel": tunnel,
                    "highway": np.where(road, highway.to_numpy(dtype=object), ""),
                    "railway": np.where(road, "", railway.to_numpy(dtype=object)),
                    "schematic": False,
                    "weight": weight,
                },
                geometry=raw.geometry.values,
                crs=raw.crs,
            )[keep]
        )
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return gpd.GeoDataFrame(out, geometry="geometry", crs=raw.crs).reset_index(drop=True)


def read_roads(path, *, layer=None, kind=None) -> gpd.GeoDataFrame:
    """Read a line layer: GeoJSON, GeoPackage, Shapefile, GeoParquet or OSM extract.

    Expressways, main roads, railways, metro lines or tunnels (:data:`LINE_KINDS`);
    the rules of OSM extracts (what is read, and the weights) are in the module
    docstring of :mod:`geo5g.roads`.

    Parameters
    ----------
    path : str or pathlib.Path
        The file. ``*.osm.pbf`` / ``*.osm`` are read with GDAL's OSM driver (layer
        ``lines``), keeping the ways of :data:`OSM_LINES` for ``kind``; ``ref`` is the
        first of the way's ``;``-separated refs.
    layer : str, optional
        Layer of a multi-layer file (GeoPackage); ignored for OSM extracts.
    kind : str or sequence of str, optional
        The kind of line (for an OSM extract, also several kinds, read in one pass),
        in any spelling of :data:`KIND_SPELLINGS` (``"railway"``,
        ``"铁路"``, ``"地铁"`` …). For an OSM extract, which ways are read (default
        ``"expressway"``). For other files, the kind of every row whose ``kind``
        column is blank, or of every row if the file has no ``kind`` column (default
        ``"expressway"``).

    Returns
    -------
    geopandas.GeoDataFrame
        (Multi)LineStrings in the file's CRS, RangeIndex, with columns ``ref``,
        ``name`` (str; ``ref`` falls back to ``name``, then ``"(no ref)"``), ``kind``
        (str, one of :data:`LINE_KINDS`), ``tunnel`` (bool: the OSM ``tunnel`` tag,
        or the file's ``tunnel`` column; True for every line of kind ``tunnel``),
        ``schematic`` (bool) and ``weight`` (float in (0, 1]), plus ``highway`` and
        ``railway`` (str, ``""`` where none) for OSM input. ``attrs["source"]`` names
        the file; ``attrs["schematic"]`` is True when any line is schematic.

    Raises
    ------
    InputError
        Missing or unreadable file.
    CRSError
        The layer has no CRS.
    DataError
        Unknown ``kind``; empty layer (for OSM: no way of the kind), features without
        geometry, non-line geometries, bad ``weight``, unknown values of a ``kind``
        column or non-yes/no values of a ``tunnel`` column (all reported together).
    """
    path = _check_path(path)
    several = kind is not None and not isinstance(kind, str)
    kinds = tuple(dict.fromkeys(line_kind(k) for k in kind)) if several else ()
    default = "expressway" if kind is None else kinds[0] if several else line_kind(kind)
    name = path.name
    if several and not is_osm(path):
        raise DataError(f"{name}: several kinds are read from OSM extracts only; pass one kind")
    if is_osm(path):
        gdf = _read_osm_lines(path, kinds or (default,))
    else:
        gdf = _read_vector(path, layer=layer)
        ref_col = _first_column(gdf, ("ref", "road_ref", "route"))
        name_col = _first_column(gdf, ("name", "name_zh", "name_en"))
        kind_col = _first_column(gdf, ("kind", "line_kind"))
        cols = {
            "ref": gdf[ref_col] if ref_col else pd.NA,
            "name": gdf[name_col] if name_col else pd.NA,
            "kind": gdf[kind_col] if kind_col else default,
            "tunnel": gdf["tunnel"] if "tunnel" in gdf.columns else False,
            "schematic": gdf["schematic"] if "schematic" in gdf.columns else False,
            "weight": gdf["weight"] if "weight" in gdf.columns else 1.0,
        }
        gdf = gpd.GeoDataFrame(
            cols, geometry=gdf.geometry.values, crs=gdf.crs, index=pd.RangeIndex(len(gdf))
        )
    require_crs(gdf, name)
    if gdf.empty:
        what = (
            "; ".join(_osm_what(k) for k in (kinds or (default,)))
            if is_osm(path)
            else "no line features"
        )
        raise DataError(f"{name}: the line layer is empty ({what})")
    problems = _geometry_problems(
        gdf, _LINES, "lines", "roads must be lines; is this a point or polygon layer?"
    )
    weight = pd.to_numeric(gdf["weight"], errors="coerce").to_numpy("float64", na_value=np.nan)
    bad = ~((weight > 0) & (weight <= 1))
    if bad.any():
        problems.append(f"{bad.sum()} rows have weight outside (0, 1] (rows {_rows(bad)})")
    kinds = _kinds(gdf["kind"], default, problems)
    tunnel = _flags(gdf["tunnel"], "tunnel", problems)
    _finish(name, problems)

    label = _text(gdf["name"]).fillna("")
    ref = _text(gdf["ref"])
    ref = ref.mask(ref.isna() | (ref == ""), label).mask(lambda s: s == "", "(no ref)")
    gdf["ref"] = ref.astype(str)
    gdf["name"] = label.astype(str)
    gdf["kind"] = kinds
    gdf["tunnel"] = tunnel | (kinds == "tunnel")
    gdf["schematic"] = gdf["schematic"].fillna(False).astype(bool)
    gdf["weight"] = weight
    gdf.attrs["source"] = name
    gdf.attrs["schematic"] = bool(gdf["schematic"].any())
    return gdf


def _read_points_csv(path: Path, coords: str) -> gpd.GeoDataFrame:
    """Points from a CSV with lon/lat columns (the same spellings as sites, 经度/纬度 too)."""
    df = read_csv_any(path)
    found = find_columns(df.columns, {"lon": LON_SPELLINGS, "lat": LAT_SPELLINGS}, path.name)
    if found["lon"] is None or found["lat"] is None:
        raise DataError(
            f"{path.name}: no longitude/latitude columns (expected one of "
            f"{'/'.join(LON_SPELLINGS)} and one of {'/'.join(LAT_SPELLINGS)}, any case)"
        )
    numbers = np.arange(len(df)) + 2
    lon, lat, problems = lonlat_problems(df[found["lon"]], df[found["lat"]], numbers, "lines")
    _finish(path.name, problems)
    lon, lat = to_wgs84(lon, lat, coords)
    rest = df.drop(columns=[found["lon"], found["lat"]])
    return gpd.GeoDataFrame(rest, geometry=gpd.points_from_xy(lon, lat), crs=WGS84)


def _read_points(path, coords: str, layer) -> gpd.GeoDataFrame:
    if coords not in COORDINATE_SYSTEMS:
        raise DataError(f"coords={coords!r}: expected one of {', '.join(COORDINATE_SYSTEMS)}")
    path = _check_path(path)
    if path.suffix.lower() in (".csv", ".txt"):
        return _read_points_csv(path, coords)
    gdf = _read_vector(path, layer=layer)
    if coords != "wgs84" and gdf.crs is not None and len(gdf):
        xy = shapely.get_coordinates(gdf.geometry.values)
        if len(xy) == len(gdf):  # points only; polygons in GCJ-02 are not supported
            lon, lat = to_wgs84(xy[:, 0], xy[:, 1], coords)
            gdf = gdf.set_geometry(gpd.points_from_xy(lon, lat), crs=WGS84)
    return gdf


def _ids(df: pd.DataFrame, column: str, stem: str, problems: list[str]) -> pd.Series:
    if column in df.columns:
        ids = _text(df[column])
        if (missing := ids.isna() | (ids == "")).any():
            problems.append(f"{missing.sum()} rows have no {column} (rows {_rows(missing)})")
        if (dup := ids.duplicated(keep=False) & ~missing).any():
            problems.append(f"{dup.sum()} rows share a {column} (rows {_rows(dup)})")
        return ids
    return pd.Series([f"{stem}-{i + 1}" for i in range(len(df))], index=df.index, dtype="string")


def read_ports(path, *, coords: str = "wgs84", layer=None) -> gpd.GeoDataFrame:
    """Read ports (or other points of interest): points or polygons.

    Parameters
    ----------
    path : str or pathlib.Path
        GeoJSON, GeoPackage, Shapefile, GeoParquet, or CSV with lon/lat columns.
    coords : {"wgs84", "gcj02", "bd09"}
        Datum of CSV (or point) coordinates.
    layer : str, optional
        Layer of a multi-layer file.

    Returns
    -------
    geopandas.GeoDataFrame
        Points or (Multi)Polygons with ``port_id`` (str; ``"<stem>-<row>"`` when
        absent), ``name`` (str), ``synthetic`` (bool) and the file's other columns.
    """
    path = Path(path)
    gdf = _read_points(path, coords, layer)
    name = path.name
    require_crs(gdf, name)
    if gdf.empty:
        raise DataError(f"{name}: the port layer is empty")
    problems = _geometry_problems(
        gdf, ("Point", *_POLYGONS), "points or polygons", "ports must be points or areas"
    )
    ids = _ids(gdf, "port_id", path.name.split(".")[0], problems)
    _finish(name, problems)
    gdf = gdf.reset_index(drop=True)
    name_col = _first_column(gdf, ("name", "name_en", "main port name", "name_zh"))
    gdf["port_id"] = ids.to_numpy(dtype=object)
    gdf["port_id"] = gdf["port_id"].astype(str)
    gdf["name"] = _text(gdf[name_col]).fillna("").astype(str) if name_col else ""
    gdf["synthetic"] = gdf["synthetic"].fillna(False).astype(bool) if "synthetic" in gdf else False
    gdf.attrs["source"] = name
    return gdf


def read_rsu(path, *, coords: str = "wgs84", layer=None) -> gpd.GeoDataFrame:
    """Read roadside units (C-V2X RSU) as points with an optional ``range_m``.

    Returns
    -------
    geopandas.GeoDataFrame
        Points with ``rsu_id`` (str), ``range_m`` (float; NaN → the default range of
        the coverage settings), ``synthetic`` (bool) and the file's other columns.
    """
    path = Path(path)
    gdf = _read_points(path, coords, layer)
    name = path.name
    require_crs(gdf, name)
    if gdf.empty:
        raise DataError(f"{name}: the RSU layer is empty")
    problems = _geometry_problems(gdf, ("Point",), "points", "RSUs must be points")
    ids = _ids(gdf, "rsu_id", path.name.split(".")[0], problems)
    if "range_m" in gdf.columns:
        rng = pd.to_numeric(gdf["range_m"], errors="coerce").to_numpy("float64", na_value=np.nan)
        bad = ~np.isnan(rng) & ~((rng > 0) & (rng <= MAX_REACH_M))
        if bad.any():
            problems.append(
                f"{bad.sum()} rows have a range_m outside (0, {MAX_REACH_M:,.0f}] m "
                f"({_rows(bad)}); give metres, or leave it empty for the default"
            )
    else:
        rng = np.full(len(gdf), np.nan)
    _finish(name, problems)
    gdf = gdf.reset_index(drop=True)
    gdf["rsu_id"] = ids.to_numpy(dtype=object)
    gdf["rsu_id"] = gdf["rsu_id"].astype(str)
    gdf["range_m"] = rng
    gdf["synthetic"] = gdf["synthetic"].fillna(False).astype(bool) if "synthetic" in gdf else False
    gdf.attrs["source"] = name
    return gdf


def _demo(province: str, folder: str, pattern: str) -> Path:
    key = str(province).lower()
    path = data_dir(folder, pattern.format(key))
    if key not in _DEMO or not path.exists():
        raise InputError(
            f"no bundled {folder} layer for province {province!r} (have: "
            f"{', '.join(sorted(p.name for p in data_dir(folder).glob('*.*json')))}); "
            f"pass your own layer"
        )
    return path


def read_demo_roads(province: str) -> gpd.GeoDataFrame:
    """The bundled schematic expressways of ``"jiangsu"`` or ``"jiangxi"`` (``schematic`` True)."""
    return read_roads(_demo(province, "roads", "expressways_schematic_{}.geojson"))


def read_demo_ports(province: str) -> gpd.GeoDataFrame:
    """The bundled ports of ``"jiangsu"`` (World Port Index) or ``"jiangxi"`` (Jiujiang)."""
    return read_ports(_demo(province, "ports", "ports_{}.geojson"))


def read_demo_rsu(province: str) -> gpd.GeoDataFrame:
    """The bundled synthetic RSU deployment of ``"jiangsu"`` (``synthetic`` True)."""
    return read_rsu(_demo(province, "rsu", "{}_rsu_SYNTHETIC.geojson"))
