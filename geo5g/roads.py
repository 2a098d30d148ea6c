"""Readers for roads, ports and roadside units (RSU); the writer for their results.

Each reader reads one file, normalises its columns and validates the layer once,
collecting every problem and raising a single :class:`~geo5g.errors.DataError`
(or :class:`~geo5g.errors.CRSError`) whose message names the file. After that the
analyses trust the layer.

Layers (see ``docs/CONTRACTS.md``):

* roads — (Multi)LineStrings with CRS; ``ref`` (str), ``name`` (str), ``schematic``
  (bool), ``weight`` (float in (0, 1]: the share of the route a line stands for, 0.5
  for one carriageway of a dual carriageway mapped as two one-way lines in OSM).
* ports — Points or (Multi)Polygons with CRS; ``port_id`` (str), ``name`` (str),
  ``synthetic`` (bool).
* RSUs — Points with CRS; ``rsu_id`` (str), ``range_m`` (float, NaN = default
  range), ``synthetic`` (bool).

Formats: GeoJSON, GeoPackage, Shapefile, GeoParquet, and for roads OpenStreetMap
``.osm.pbf``/``.osm`` extracts (GDAL's OSM driver; ``highway`` = motorway, trunk and
their links). Points may also come as CSV with ``lon``/``lat`` columns (WGS-84, or
GCJ-02/BD-09 with ``coords=``).
"""

from __future__ import annotations

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
    read_csv_any,
    read_vector,
)
from .coords import COORDINATE_SYSTEMS, to_wgs84
from .errors import DataError, InputError
from .project import WGS84, require_crs

__all__ = [
    "OSM_HIGHWAYS",
    "read_demo_ports",
    "read_demo_roads",
    "read_demo_rsu",
    "read_ports",
    "read_roads",
    "read_rsu",
]

#: OSM ``highway`` values kept from ``.osm.pbf`` extracts (expressways and their ramps).
OSM_HIGHWAYS = ("motorway", "trunk", "motorway_link", "trunk_link")

_LINES = ("LineString", "MultiLineString")
_POLYGONS = ("Polygon", "MultiPolygon")
_LON = ("lon", "lng", "longitude", "x")
_LAT = ("lat", "latitude", "y")
_DEMO = {"jiangsu", "jiangxi"}


# ---------------------------------------------------------------------------- reading


def _check_path(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    return path


def _is_osm(path: Path) -> bool:
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


def _read_osm_roads(path: Path) -> gpd.GeoDataFrame:
    kept = ", ".join(f"'{h}'" for h in OSM_HIGHWAYS)
    raw = _read_vector(
        path,
        layer="lines",
        columns=["name", "highway", "other_tags"],
        where=f"highway IN ({kept})",
    )
    tags = raw["other_tags"].astype("string").fillna("")
    # other_tags is an hstore-like string: "ref"=>"G2;S19","oneway"=>"yes"
    refs = tags.str.extract(r'(?:^|,)"ref"=>"([^"]*)"', expand=False)
    oneway = tags.str.extract(r'(?:^|,)"oneway"=>"([^"]*)"', expand=False)
    # Expressways are mapped as one one-way line per carriageway: each stands for half the route.
    weight = np.where(oneway.isin(["yes", "1", "-1", "true"]).to_numpy(bool), 0.5, 1.0)
    return gpd.GeoDataFrame(
        {
            "ref": refs.str.split(";").str[0],
            "name": raw["name"],
            "highway": raw["highway"],
            "schematic": False,
            "weight": weight,
        },
        geometry=raw.geometry.values,
        crs=raw.crs,
    )


def read_roads(path, *, layer=None) -> gpd.GeoDataFrame:
    """Read a road layer: GeoJSON, GeoPackage, Shapefile, GeoParquet or OSM PBF.

    Parameters
    ----------
    path : str or pathlib.Path
        The file. ``*.osm.pbf`` / ``*.osm`` are read with GDAL's OSM driver (layer
        ``lines``), keeping ``highway`` in :data:`OSM_HIGHWAYS`; ``ref`` is taken from
        the ``other_tags`` (first of ``;``-separated refs).
    layer : str, optional
        Layer of a multi-layer file (GeoPackage).

    Returns
    -------
    geopandas.GeoDataFrame
        (Multi)LineStrings in the file's CRS with columns ``ref``, ``name`` (str;
        ``ref`` falls back to ``name``, then ``"(no ref)"``), ``schematic`` (bool) and
        ``weight`` (float), plus ``highway`` for OSM input. ``attrs["source"]`` names
        the file; ``attrs["schematic"]`` is True when any line is schematic.

    Raises
    ------
    InputError
        Missing or unreadable file.
    CRSError
        The layer has no CRS.
    DataError
        Empty layer, features without geometry, non-line geometries, bad ``weight``.
    """
    path = _check_path(path)
    name = path.name
    if _is_osm(path):
        gdf = _read_osm_roads(path)
    else:
        gdf = _read_vector(path, layer=layer)
        ref_col = _first_column(gdf, ("ref", "road_ref", "route"))
        name_col = _first_column(gdf, ("name", "name_zh", "name_en"))
        cols = {
            "ref": gdf[ref_col] if ref_col else pd.NA,
            "name": gdf[name_col] if name_col else pd.NA,
            "schematic": gdf["schematic"] if "schematic" in gdf.columns else False,
            "weight": gdf["weight"] if "weight" in gdf.columns else 1.0,
        }
        gdf = gpd.GeoDataFrame(
            cols, geometry=gdf.geometry.values, crs=gdf.crs, index=pd.RangeIndex(len(gdf))
        )
    require_crs(gdf, name)
    if gdf.empty:
        what = f"no highway={'/'.join(OSM_HIGHWAYS)} ways" if _is_osm(path) else "no line features"
        raise DataError(f"{name}: the road layer is empty ({what})")
    problems = _geometry_problems(
        gdf, _LINES, "lines", "roads must be lines; is this a point or polygon layer?"
    )
    weight = pd.to_numeric(gdf["weight"], errors="coerce").to_numpy("float64", na_value=np.nan)
    bad = ~((weight > 0) & (weight <= 1))
    if bad.any():
        problems.append(f"{bad.sum()} rows have weight outside (0, 1] (rows {_rows(bad)})")
    _finish(name, problems)

    label = _text(gdf["name"]).fillna("")
    ref = _text(gdf["ref"])
    ref = ref.mask(ref.isna() | (ref == ""), label).mask(lambda s: s == "", "(no ref)")
    gdf["ref"] = ref.astype(str)
    gdf["name"] = label.astype(str)
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
