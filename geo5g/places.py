"""Key places: the hubs, airports, hospitals, campuses, scenic spots … a plan asks to cover.

A places layer is a ports-like layer (:func:`geo5g.roads.read_ports`: points or
polygons, ``port_id``, ``name``) with a ``place_class`` per place, from a ``class``
column of the file or one class given for the whole file. The bundled layer is
China's civil airports from the ``airportsdata`` package (MIT), in
``data/places/airports_china.csv`` (see its README); other classes have no open
source that can be bundled, so a user passes them.

Examples
--------
>>> normalise_class(["Airport", "机场", "3A hospital", "scenic"]).tolist()
['airport', 'airport', 'hospital', 'scenic_spot']
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ._paths import data_dir
from .errors import DataError, InputError

__all__ = [
    "AIRPORTS_FILE",
    "PLACE_CLASSES",
    "build_airports",
    "bundled_airports",
    "normalise_class",
    "read_places",
]

#: Classes of key places the plans name (Jiangsu 领航 三（三）1, Jiangxi 扬帆, MIIT 信号升格),
#: with the spellings a file may use.
PLACE_CLASSES = {
    "airport": ("airport", "机场", "航站楼"),
    "rail_station": ("rail_station", "railway station", "station", "火车站", "高铁站", "车站"),
    "hub": ("hub", "transport hub", "交通枢纽", "枢纽"),
    "hospital": ("hospital", "医院", "三甲医院", "疾控中心", "cdc"),
    "campus": ("campus", "university", "school", "校园", "高校", "学校"),
    "scenic_spot": ("scenic_spot", "scenic", "5a", "景区", "旅游景区", "5a景区"),
    "industrial_park": ("industrial_park", "park", "工业园区", "园区", "开发区"),
    "commercial_district": ("commercial_district", "commercial", "商圈", "商业区"),
    "cultural_venue": ("cultural_venue", "venue", "文化场馆", "场馆", "体育场馆"),
    "port": ("port", "港口", "码头"),
    "other": ("other", "其他"),
}
AIRPORTS_FILE = "places/airports_china.csv"
_CLASS_COLUMNS = ("class", "place_class", "type", "category", "类别", "类型")
_KEYS = {re.sub(r"[\s_\-]", "", a.lower()): c for c, names in PLACE_CLASSES.items() for a in names}


def normalise_class(values) -> pd.Series:
    """Canonical place classes; a spelling containing a known word maps to it.

    Raises
    ------
    DataError
        For values no class matches, listing them and the classes.
    """
    raw = pd.Series(values, dtype="string").fillna("").str.strip()
    distinct = raw.unique()
    mapped = {}
    bad = []
    for v in distinct:
        key = re.sub(r"[\s_\-]", "", str(v).lower())
        found = _KEYS.get(key) or next((c for k, c in _KEYS.items() if k and k in key), None)
        if found is None:
            bad.append(str(v))
        mapped[v] = found
    if bad:
        raise DataError(
            f"unknown place class {', '.join(map(repr, bad[:5]))}; use one of "
            f"{', '.join(PLACE_CLASSES)} (or 机场, 医院, 景区, 园区 …)"
        )
    return raw.map(mapped).astype("string")


def read_places(path, place_class: str | None = None, *, coords: str = "wgs84") -> gpd.GeoDataFrame:
    """Read a places layer (any vector format, or CSV with lon/lat).

    Parameters
    ----------
    path : str or os.PathLike
        Points or polygons, with a name column (``name``, ``name_zh`` …) and, unless
        ``place_class`` is given, a class column (``class``, ``type``, ``类别`` …).
    place_class : str, optional
        One class for every place of the file.
    coords : {"wgs84", "gcj02", "bd09"}

    Returns
    -------
    geopandas.GeoDataFrame
        :func:`geo5g.roads.read_ports` columns plus ``place_class``.
    """
    from .roads import read_ports

    places = read_ports(path, coords=coords)
    name = Path(path).name
    if place_class is not None:
        places["place_class"] = normalise_class([place_class] * len(places)).to_numpy()
    else:
        column = next((c for c in places.columns if str(c).strip().lower() in _CLASS_COLUMNS), None)
        if column is None:
            raise DataError(
                f"{name}: no class column ({', '.join(_CLASS_COLUMNS[:4])} …); add one, or "
                "give the file's class (--places FILE:hospital)"
            )
        try:
            places["place_class"] = normalise_class(places[column]).to_numpy()
        except DataError as err:
            raise DataError(f"{name}: {err}") from None
    places.attrs["source"] = name
    return places


def bundled_airports() -> gpd.GeoDataFrame:
    """China's civil airports bundled from ``airportsdata`` (real data, MIT)."""
    path = data_dir(*AIRPORTS_FILE.split("/"))
    if not path.is_file():
        raise InputError(f"{AIRPORTS_FILE} is not bundled; rebuild it with build_airports()")
    return read_places(path, "airport")


def build_airports(out=None) -> pd.DataFrame:
    """The civil airports of China (those with an IATA code) from ``airportsdata``.

    Parameters
    ----------
    out : path-like, optional
        Write the table as CSV (the bundled file is made this way).

    Returns
    -------
    pandas.DataFrame
        ``port_id`` (ICAO), ``iata``, ``name``, ``city``, ``subd``, ``lon``, ``lat``.
    """
    try:
        import airportsdata
    except ImportError as err:
        raise InputError("building the airports needs: pip install airportsdata") from err
    rows = [a for a in airportsdata.load("ICAO").values() if a["country"] == "CN" and a["iata"]]
    table = pd.DataFrame(
        {
            "port_id": [a["icao"] for a in rows],
            "iata": [a["iata"] for a in rows],
            "name": [a["name"] for a in rows],
            "city": [a["city"] for a in rows],
            "subd": [a["subd"] for a in rows],
            "lon": np.round([float(a["lon"]) for a in rows], 5),
            "lat": np.round([float(a["lat"]) for a in rows], 5),
        }
    ).sort_values("port_id", ignore_index=True)
    if out is not None:
        from .outputs import write_text_atomic

        write_text_atomic(out, table.to_csv(index=False, lineterminator="\n"))
    return table
