"""Read 5G base-station (site) layers into the Sites contract, and write them.

Accepted inputs (auto-detected from the extension and, for CSV, the header):

* a plain CSV/TSV with longitude/latitude columns under any common spelling
  (``lon``/``lng``/``x``/``经度`` …), optionally ``site_id``, ``operator``,
  ``band``, ``radius_m`` and ``commissioned`` columns; UTF-8 (with or without
  BOM) or GBK (Chinese Excel exports); ``.gz`` compressed files too;
* an OpenCelliD export (``radio,mcc,net,area,cell,…``, header or not): cells
  of the chosen radios in China (MCC 460) are grouped into base stations;
* GeoJSON, GeoPackage, Shapefile and GeoParquet point layers with a CRS.

Every reader validates its layer once, collects every problem and raises one
:class:`~geo5g.errors.DataError` naming the file; the result is trusted
afterwards. Row numbers in messages are 1-based file lines (header = line 1)
for CSV and 1-based feature numbers for vector layers.

The result follows the Sites contract of ``docs/CONTRACTS.md``: a
GeoDataFrame in EPSG:4326 with a RangeIndex and the columns ``site_id``,
``operator``, ``band``, ``radius_m``, ``commissioned``, ``lon``, ``lat`` and
``geometry``; ``attrs["source"]`` names the file and ``attrs["synthetic"]``
says whether the sites are geo5g's synthetic demo sites.

With ``points=False`` the same columns come back as a plain DataFrame without
the ``geometry`` column (a *site table*, ``attrs["crs"] = "EPSG:4326"``): one
shapely Point per site costs about 1 s and 200 MB per million sites, and no
analysis needs them — every geo5g function that takes sites accepts a site
table and works from ``lon``/``lat``. :func:`site_points` adds the points when
a map or a GIS export needs them.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
from pyproj import CRS

from .coords import COORDINATE_SYSTEMS, to_wgs84
from .errors import CRSError, DataError, InputError
from .project import is_site_table, table_crs

__all__ = [
    "DEFAULT_GNB_ID_BITS",
    "FORMATS",
    "SITE_COLUMNS",
    "base_station_ids",
    "normalise_band",
    "normalise_operator",
    "read_sites",
    "site_points",
    "sites_from_arrays",
    "write_sites",
]

#: Columns of the Sites contract, in order (plus ``geometry``).
SITE_COLUMNS = ("site_id", "operator", "band", "radius_m", "commissioned", "lon", "lat")

#: Values accepted by ``read_sites(fmt=...)``.
FORMATS = ("csv", "opencellid", "geojson", "gpkg", "shp", "parquet")

_TABLE_CRS = "EPSG:4326"  # attrs["crs"] of a site table: lon/lat are WGS-84 degrees

#: gNB-ID length (bits of the 36-bit NR cell identity) used when an operator
#: has none given. 3GPP allows 22..32 bits per network; the operators publish
#: no table for China, and 24 bits (≤ 4,096 cells per gNB) is the split used
#: in 3GPP's and the vendors' worked examples and the one most often quoted
#: for Chinese networks. Pass ``gnb_id_bits`` when an operator is known to use
#: another length: a too-short length merges neighbouring gNBs, a too-long one
#: splits one gNB into its cell groups.
DEFAULT_GNB_ID_BITS = 24

_EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".shp": "shp",
    ".parquet": "parquet",
    ".geoparquet": "parquet",
}

# Column spellings, compared after _norm(): lower case, no spaces/_/-/.
_SPELLINGS = {
    "lon": ("lon", "lng", "long", "longitude", "x", "经度"),
    "lat": ("lat", "latitude", "y", "纬度"),
    "site_id": (
        "site_id", "siteid", "id", "site", "station_id", "bs_id", "gnb_id", "enb_id",
        "站号", "基站编号", "基站id", "基站号", "站点编号", "站点id", "站址编号",
    ),
    "operator": ("operator", "carrier", "mno", "operator_name", "运营商", "所属运营商"),
    "band": ("band", "freq_band", "frequency_band", "频段", "频带", "工作频段"),
    "radius_m": ("radius_m", "radius", "range_m", "reach_m", "覆盖半径", "半径"),
    "commissioned": (
        "commissioned", "date", "commission_date", "commissioning_date", "on_air_date",
        "开通日期", "开通时间", "入网日期",
    ),
}  # fmt: skip

_OPERATORS = {
    "China Mobile": ("中国移动", "移动", "cmcc", "chinamobile", "cm", "mobile"),
    "China Unicom": ("中国联通", "联通", "cucc", "chinaunicom", "cu", "unicom"),
    "China Telecom": ("中国电信", "电信", "ctcc", "chinatelecom", "ct", "telecom"),
    "China Broadnet": (
        "中国广电", "广电", "cbn", "chinabroadnet", "broadnet", "chinabroadcastnetwork",
    ),
}  # fmt: skip

# NR operating band → canonical label; frequencies (MHz) snap to the nearest
# centre within _BAND_TOLERANCE_MHZ.
_NR_BANDS = {28: "700MHz", 1: "2.1GHz", 41: "2.6GHz", 78: "3.5GHz", 79: "4.9GHz"}
_BAND_CENTRES_MHZ = {700: "700MHz", 2100: "2.1GHz", 2600: "2.6GHz", 3500: "3.5GHz", 4900: "4.9GHz"}
_BAND_TOLERANCE_MHZ = 100

_OCID_COLUMNS = (
    "radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples",
    "changeable", "created", "updated", "averageSignal",
)  # fmt: skip
_OCID_RADIOS = ("GSM", "UMTS", "CDMA", "LTE", "NR")
_CHINA_MCC = 460
_MNC_OPERATORS = {
    0: "China Mobile", 2: "China Mobile", 4: "China Mobile", 7: "China Mobile", 8: "China Mobile",
    1: "China Unicom", 6: "China Unicom", 9: "China Unicom",
    3: "China Telecom", 5: "China Telecom", 11: "China Telecom",
    15: "China Broadnet",
}  # fmt: skip

_META_KEY = b"geo5g"
_MAX_LISTED = 5


# --------------------------------------------------------------------------- helpers


def _norm(name) -> str:
    return re.sub(r"[\s_\-.]", "", str(name)).lower()


def _find_columns(columns) -> dict:
    """Map each contract role to the first matching input column (or None)."""
    by_norm = {}
    for col in columns:
        by_norm.setdefault(_norm(col), col)
    return {
        role: next((by_norm[_norm(s)] for s in spellings if _norm(s) in by_norm), None)
        for role, spellings in _SPELLINGS.items()
    }


def _rows(mask, numbers) -> str:
    """'lines 3, 7, 9, …' for the first few True entries of ``mask``."""
    picked = np.asarray(numbers)[np.asarray(mask, dtype=bool)]
    listed = ", ".join(str(int(v)) for v in picked[:_MAX_LISTED])
    return listed + (", …" if picked.size > _MAX_LISTED else "")


def _numeric(values) -> tuple[np.ndarray, np.ndarray]:
    """Float array and a mask of entries that are missing or not numbers."""
    series = pd.Series(values)
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series):
        series = pd.to_numeric(series.astype("str").str.strip(), errors="coerce")
    out = series.to_numpy(dtype="float64", na_value=np.nan)
    return out, ~np.isfinite(out)


def _blank(series: pd.Series) -> np.ndarray:
    series = pd.Series(series)
    if not (pd.api.types.is_string_dtype(series.dtype) or series.dtype == object):
        return series.isna().to_numpy()
    text = series.astype("str")  # a no-op for str columns (Arrow-backed: vectorised)
    return (text.isna() | (text.str.strip() == "")).to_numpy(dtype=bool)


def _map_distinct(values, label) -> pd.Series:
    """``label(v)`` for each stripped value, computed once per distinct value (Arrow).

    Blank values become missing. Millions of rows with a handful of distinct
    operator or band names cost one dictionary encoding, not a Python call each.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    series = pd.Series(values, dtype="str")
    arrow = pa.array(series)
    if isinstance(arrow, pa.ChunkedArray):  # columns read from Parquet come in chunks
        arrow = arrow.combine_chunks()
    encoded = pc.dictionary_encode(pc.utf8_trim_whitespace(arrow))
    labels = [label(v) if v else None for v in encoded.dictionary.to_pylist()]
    mapped = pa.array(labels, pa.large_string()).take(encoded.indices)
    return pd.Series(mapped, dtype="str", index=series.index)


def normalise_operator(values) -> pd.Series:
    """Canonical operator names (``"China Mobile"`` …); unknown names kept as given.

    Parameters
    ----------
    values : array_like of str
        Operator names as found in a file: 中国移动, CMCC, China Mobile, 联通 ….

    Returns
    -------
    pandas.Series
        Same length, dtype ``str``; blanks become missing.

    Examples
    --------
    >>> normalise_operator(["中国移动", "CUCC", "China telecom", "广电", "Acme"]).tolist()
    ['China Mobile', 'China Unicom', 'China Telecom', 'China Broadnet', 'Acme']
    """
    aliases = {_norm(a): name for name, names in _OPERATORS.items() for a in (*names, name)}
    return _map_distinct(values, lambda v: aliases.get(_norm(v), v))


def _band_label(value: str) -> str:
    key = re.sub(r"\s", "", value).lower()
    if m := re.fullmatch(r"n(\d+)", key):
        return _NR_BANDS.get(int(m.group(1)), value)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(g|ghz|m|mhz)?", key)
    if not m:
        return value
    number = float(m.group(1))
    unit = m.group(2) or ("g" if number < 10 else "m")
    mhz = number * (1000.0 if unit.startswith("g") else 1.0)
    centre = min(_BAND_CENTRES_MHZ, key=lambda c: abs(c - mhz))
    return _BAND_CENTRES_MHZ[centre] if abs(centre - mhz) <= _BAND_TOLERANCE_MHZ else value


def normalise_band(values) -> pd.Series:
    """Canonical band labels (``"700MHz"``, ``"2.1GHz"``, ``"2.6GHz"``, ``"3.5GHz"``, ``"4.9GHz"``).

    NR band numbers (n28, n1, n41, n78, n79) and frequencies with or without a
    unit ("2.6G", "3500", "700MHz") within 100 MHz of a band centre are mapped;
    anything else is kept as given.

    Examples
    --------
    >>> normalise_band(["n78", "700M", "2.6G", "4900", "n1", "3.3GHz", None]).tolist()
    ['3.5GHz', '700MHz', '2.6GHz', '4.9GHz', '2.1GHz', '3.3GHz', nan]
    """
    return _map_distinct(values, _band_label)


def _parse_dates(values) -> tuple[pd.Series, np.ndarray]:
    """datetime64[ns] (naive, UTC for zoned input) and a mask of unparseable entries."""
    series = pd.Series(values).reset_index(drop=True)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.astype("datetime64[ns]"), np.zeros(len(series), dtype=bool)
    text = series.astype("str").str.strip()
    blank = _blank(series)
    uniques = pd.Series(text[~blank].unique(), dtype="str")
    cleaned = (
        uniques.str.replace(r"[年月/.]", "-", regex=True)
        .str.replace("日", "", regex=False)
        .str.strip("-")
    )
    parsed = pd.to_datetime(cleaned, errors="coerce", format="mixed", utc=True)
    lookup = pd.Series(
        parsed.dt.tz_localize(None).astype("datetime64[ns]").to_numpy(), index=uniques
    )
    out = pd.Series(lookup.reindex(text.where(~blank)).to_numpy(), dtype="datetime64[ns]")
    return out, (out.isna().to_numpy() & ~blank)


# --------------------------------------------------------------------------- detection


def _open_head(path: Path, size: int = 65536) -> bytes:
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            return fh.read(size)
    except OSError as exc:
        raise InputError(f"{path.name}: cannot read ({exc})") from None


def _first_line(path: Path) -> str:
    head = _open_head(path)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = head.decode(encoding)
            break
        except UnicodeDecodeError as exc:
            if exc.start > len(head) - 4:  # a character cut by the read size
                text = head[: exc.start].decode(encoding)
                break
    else:
        raise InputError(f"{path.name}: neither UTF-8 nor GBK text; save it as UTF-8 CSV")
    return text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""


def _separator(line: str) -> str:
    counts = {sep: line.count(sep) for sep in (",", "\t", ";")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _opencellid_header(line: str) -> bool | None:
    """True: OpenCelliD header; False: OpenCelliD row without header; None: not OpenCelliD."""
    fields = [f.strip().lower() for f in line.split(",")]
    if fields[:5] == ["radio", "mcc", "net", "area", "cell"]:
        return True
    if len(fields) == len(_OCID_COLUMNS) and fields[0].upper() in _OCID_RADIOS:
        return False
    return None


def _detect_format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        key = str(fmt).lower().lstrip(".")
        key = {"geoparquet": "parquet", "shapefile": "shp", "json": "geojson"}.get(key, key)
        if key not in FORMATS:
            raise InputError(
                f"{path.name}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}"
            )
        return key
    suffixes = [s.lower() for s in path.suffixes]
    ext = suffixes[-2] if suffixes and suffixes[-1] == ".gz" and len(suffixes) > 1 else None
    ext = ext or (suffixes[-1] if suffixes else "")
    kind = _EXTENSIONS.get(ext)
    if kind is None:
        raise InputError(
            f"{path.name}: unknown sites format {ext or '(no extension)'!r}; supported: "
            f"{', '.join(sorted(_EXTENSIONS))} (CSV also .gz), or pass fmt= one of "
            f"{', '.join(FORMATS)}"
        )
    if kind == "csv" and _opencellid_header(_first_line(path)) is not None:
        return "opencellid"
    return kind


# --------------------------------------------------------------------------- readers


def _read_csv_text(path: Path, **kwargs) -> pd.DataFrame:
    """pandas.read_csv trying UTF-8 (BOM or not), then GBK (GB 18030, its superset)."""
    last = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(path, encoding=encoding, **kwargs)
        except UnicodeDecodeError as exc:
            last = exc
        except (pd.errors.ParserError, ValueError) as exc:
            raise InputError(f"{path.name}: not a readable CSV table ({exc})") from None
    raise InputError(f"{path.name}: neither UTF-8 nor GBK text ({last}); save it as UTF-8 CSV")


def _read_table_csv(path: Path):
    sep = _separator(_first_line(path))
    header = _read_csv_text(path, sep=sep, nrows=0)
    found = _find_columns(header.columns)
    _require_lonlat(found, header.columns, path.name)
    text_roles = ("site_id", "operator", "band", "commissioned")
    dtype = {found[r]: "str" for r in text_roles if found[r] is not None}
    usecols = [c for c in found.values() if c is not None]
    frame = _read_csv_text(
        path, sep=sep, usecols=usecols, dtype=dtype, keep_default_na=False, na_values=[""]
    )
    return frame, found, np.arange(len(frame)) + 2, "lines"


def _require_lonlat(found: dict, columns, source: str) -> None:
    if found["lon"] is None or found["lat"] is None:
        missing = " and ".join(r for r in ("lon", "lat") if found[r] is None)
        raise DataError(
            f"{source}: no {missing} column; columns found: "
            f"{', '.join(map(str, columns)) or '(none)'}; accepted spellings: "
            f"{'/'.join(_SPELLINGS['lon'])} and {'/'.join(_SPELLINGS['lat'])} (any case)"
        )


def _is_geoparquet(path: Path) -> bool:
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise InputError(f"{path.name}: not a readable Parquet file ({exc})") from None
    return b"geo" in meta


def _parquet_meta(path: Path) -> dict:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    try:
        return json.loads(meta.get(_META_KEY, b"{}"))
    except ValueError:
        return {}


def _pick_layer(path: Path, layer):
    if layer is not None:
        return layer
    layers = pyogrio.list_layers(path)
    if len(layers) <= 1:
        return None
    points = [name for name, gtype in layers if gtype and "point" in str(gtype).lower()]
    if len(points) == 1:
        return points[0]
    listed = ", ".join(f"{name} ({gtype})" for name, gtype in layers)
    raise InputError(f"{path.name}: {len(layers)} layers ({listed}); pass layer= to choose one")


def _read_geoarrow_points(path: Path):
    """GeoParquet with GeoArrow points in WGS-84, read as plain arrays (or None).

    The common case for large site files (geo5g writes them so): longitude and
    latitude come straight out of the Arrow struct, without building millions of
    Point objects twice. Anything else (other encodings, CRSs, missing or empty
    geometries) returns None and takes the general path with its messages.
    """
    import pyarrow.parquet as pq

    meta = json.loads((pq.read_schema(path).metadata or {}).get(b"geo", b"{}"))
    name = meta.get("primary_column", "geometry")
    column = meta.get("columns", {}).get(name, {})
    if str(column.get("encoding", "")).lower() != "point":
        return None
    # GeoParquet: no "crs" key means OGC:CRS84 (lon/lat); an explicit null means unknown
    crs = column.get("crs", "OGC:CRS84")
    if crs is None or not CRS.from_user_input(crs).equals(
        CRS.from_epsg(4326), ignore_axis_order=True
    ):
        return None
    table = pq.read_table(path)
    points = table.column(name).combine_chunks()
    if points.null_count:
        return None
    lon = points.field("x").to_numpy(zero_copy_only=False)
    lat = points.field("y").to_numpy(zero_copy_only=False)
    if np.isnan(lon).any() or np.isnan(lat).any():  # empty points
        return None
    frame = table.drop_columns([name]).to_pandas()
    frame = (
        frame.reset_index(drop=True) if len(frame.columns) else pd.DataFrame(index=range(len(lon)))
    )
    found = _find_columns(frame.columns)
    frame["__lon"], frame["__lat"] = lon, lat
    found = found | {"lon": "__lon", "lat": "__lat"}
    return frame, found, np.arange(len(frame)) + 1, "features", _parquet_meta(path)


def _read_vector(path: Path, fmt: str, layer, source: str):
    """Vector layer → (frame with lon/lat/attributes, roles, feature numbers, meta)."""
    meta = {}
    try:
        if fmt == "parquet":
            if not _is_geoparquet(path):
                frame = pd.read_parquet(path).reset_index(drop=True)
                found = _find_columns(frame.columns)
                _require_lonlat(found, frame.columns, source)
                return frame, found, np.arange(len(frame)) + 1, "rows", _parquet_meta(path)
            fast = _read_geoarrow_points(path)
            if fast is not None:
                return fast
            gdf = gpd.read_parquet(path)
            meta = _parquet_meta(path)
        else:
            chosen = _pick_layer(path, layer)
            gdf = gpd.read_file(path, layer=chosen, engine="pyogrio")
            info = pyogrio.read_info(path, layer=chosen)
            meta = {k: v for k, v in (info.get("layer_metadata") or {}).items()}
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InputError(f"{source}: cannot read as {fmt} ({exc})") from None
    numbers = np.arange(len(gdf)) + 1
    if gdf.crs is None:
        raise CRSError(
            f"{source}: layer has no CRS; geo5g never guesses one. Set it in the file "
            "(e.g. ogr2ogr -a_srs EPSG:4326) or use a CSV with lon/lat columns"
        )
    geoms = gdf.geometry
    missing = (geoms.isna() | geoms.is_empty).to_numpy()
    types = geoms[~missing].geom_type.value_counts()
    problems = []
    if (types.index != "Point").any():
        listed = ", ".join(f"{t} ({n})" for t, n in types.items())
        problems.append(
            f"geometries must be points; found {listed}. Convert them to points first "
            "(e.g. their centroids)"
        )
    if missing.any():
        problems.append(
            f"{int(missing.sum())} features have no geometry (features {_rows(missing, numbers)})"
        )
    if problems:
        raise DataError(f"{source}: " + "; ".join(problems))
    if not CRS.from_user_input(gdf.crs).equals(CRS.from_epsg(4326)):
        gdf = gdf.to_crs(4326)
    found = _find_columns([c for c in gdf.columns if c != gdf.geometry.name])
    frame = pd.DataFrame(
        {c: gdf[c].reset_index(drop=True) for c in found.values() if c is not None}
        | {"__lon": gdf.geometry.x.to_numpy(), "__lat": gdf.geometry.y.to_numpy()}
    )
    found = found | {"lon": "__lon", "lat": "__lat"}
    # Kept so that WGS-84 layers need not build their points a second time.
    meta = meta | {"__geometry": gdf.geometry.reset_index(drop=True)}
    return frame, found, numbers, "features", meta


def _validate_positions(lon_raw, lat_raw, numbers, where) -> tuple:
    """Coordinates as floats plus the list of problems (missing, range, swapped)."""
    problems = []
    lon, bad_lon = _numeric(lon_raw)
    lat, bad_lat = _numeric(lat_raw)
    bad = bad_lon | bad_lat
    if bad.any():
        problems.append(
            f"{int(bad.sum())} rows have missing or non-numeric coordinates "
            f"({where} {_rows(bad, numbers)})"
        )
    ok = ~bad
    lat_out = ok & ((lat < -90) | (lat > 90))
    lon_out = ok & ((lon < -180) | (lon > 180))
    swapped = bool(
        ok.any()
        and np.mean((lat[ok] >= 73) & (lat[ok] <= 135)) > 0.5
        and np.mean((lon[ok] >= 18) & (lon[ok] <= 54)) > 0.5
    )
    hint = "; are lon/lat swapped?" if swapped else ""
    if lat_out.any():
        problems.append(
            f"{int(lat_out.sum())} rows have latitude outside [-90, 90] "
            f"({where} {_rows(lat_out, numbers)}){hint}"
        )
    if lon_out.any():
        problems.append(
            f"{int(lon_out.sum())} rows have longitude outside [-180, 180] "
            f"({where} {_rows(lon_out, numbers)})"
        )
    if swapped and not lat_out.any():
        problems.append(
            "most latitudes are in 73–135 and most longitudes in 18–54 (China's longitudes "
            "and latitudes): are lon/lat swapped?"
        )
    return lon, lat, problems


def _all_distinct(values: pd.Series) -> bool:
    """True when no two values are equal (no missing values expected).

    Ids of one length (generated ids usually are) are hashed straight from the
    Arrow buffer: a 64-bit polynomial hash per id and one sort, several times
    faster than hashing millions of Python strings. Equal hashes (duplicates, or
    a collision) and ids of varying length take the exact path.
    """
    import pyarrow as pa

    arrow = pa.array(values)
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    arrow = arrow.cast(pa.large_string())
    n = len(arrow)
    if n > 1 and arrow.null_count == 0:
        _, offsets, data = arrow.buffers()
        start = np.frombuffer(offsets, dtype=np.int64)[arrow.offset : arrow.offset + n + 1]
        width = int(start[1] - start[0])
        if width > 0 and (np.diff(start) == width).all():
            raw = np.frombuffer(data, dtype=np.uint8)[start[0] : start[-1]]
            if 8 <= width <= 16:
                # the first and the last 8 bytes of each id, read in place (they overlap
                # for ids shorter than 16 bytes): together they are the whole id
                head, tail = (
                    np.ndarray((n,), dtype="<u8", buffer=raw, offset=at, strides=(width,))
                    for at in (0, width - 8)
                )
                h = head * np.uint64(0x9E3779B97F4A7C15) + tail
            else:
                words = -(-width // 8)
                padded = np.zeros((n, 8 * words), dtype=np.uint8)
                padded[:, :width] = raw.reshape(n, width)
                packed = padded.view(np.uint64)  # (n, words): ids of <= 8 bytes are exact
                h = packed[:, 0].copy()
                for k in range(1, words):  # 8-byte words of one id, not ids
                    h = h * np.uint64(0x9E3779B97F4A7C15) + packed[:, k]
            h.sort()
            if not (h[1:] == h[:-1]).any():
                return True
    # A hash of Python strings measured several times faster here than Arrow's unique().
    return pd.Index(values.to_numpy(dtype=object)).is_unique


def _release_arrow_memory() -> None:
    """Hand Arrow's freed buffers back to the system.

    Arrow's allocator keeps freed memory for reuse; after parsing millions of
    sites that is hundreds of MB, which would otherwise stay resident while the
    Point objects are made and through every later stage of an analysis.
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _table_to_sites(frame, found, numbers, where, source: str) -> dict:
    """Validate a table with contract roles; return the contract columns (or raise)."""
    n = len(frame)
    if n == 0:
        raise DataError(f"{source}: empty layer (no sites)")
    lon, lat, problems = _validate_positions(
        frame[found["lon"]], frame[found["lat"]], numbers, where
    )

    blank = np.ones(n, dtype=bool)
    if found["site_id"] is not None:
        site_id = frame[found["site_id"]].astype("str").str.strip()
        blank = _blank(frame[found["site_id"]])
    if blank.any():  # "<source-stem>-<row>" where the file gives no id
        stem = Path(source).stem
        generated = pd.Series([f"{stem}-{i}" for i in range(1, n + 1)], dtype="str")
        site_id = generated if blank.all() else site_id.where(~blank, generated)
    # Duplicates are located only when there are any.
    unique = _all_distinct(site_id)
    dup = np.zeros(n, dtype=bool) if unique else site_id.duplicated(keep=False).to_numpy()
    if dup.any():
        examples = ", ".join(repr(v) for v in site_id[dup].drop_duplicates()[:_MAX_LISTED])
        problems.append(
            f"{int(site_id[dup].nunique())} site_ids are not unique (e.g. {examples}; "
            f"{where} {_rows(dup, numbers)})"
        )

    if found["radius_m"] is not None:
        radius, bad_radius = _numeric(frame[found["radius_m"]])
        bad_radius &= ~_blank(frame[found["radius_m"]])
        bad_radius |= np.isfinite(radius) & (radius <= 0)
        if bad_radius.any():
            problems.append(
                f"{int(bad_radius.sum())} rows have a radius_m that is not a positive number "
                f"({where} {_rows(bad_radius, numbers)})"
            )
    else:
        radius = np.full(n, np.nan)

    if found["commissioned"] is not None:
        raw = frame[found["commissioned"]]
        commissioned, bad_date = _parse_dates(raw)
        if bad_date.any():
            example = raw[bad_date].iloc[0]
            problems.append(
                f"{int(bad_date.sum())} rows have unparseable commissioned dates "
                f"(e.g. {example!r}; {where} {_rows(bad_date, numbers)}); use YYYY-MM-DD"
            )
    else:
        commissioned = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")

    if problems:
        raise DataError(f"{source}: " + "; ".join(problems))

    def _text(role, normaliser):
        if found[role] is None:
            return pd.Series(pd.NA, index=range(n), dtype="str")
        return normaliser(frame[found[role]])

    return {
        "site_id": site_id,
        "operator": _text("operator", normalise_operator),
        "band": _text("band", normalise_band),
        "radius_m": radius,
        "commissioned": commissioned,
        "lon": lon,
        "lat": lat,
    }


def base_station_ids(radio, cell, operator=None, gnb_id_bits=None) -> np.ndarray:
    """Base-station number of each cell: LTE eNB = ECI >> 8, NR gNB = NCI >> (36 − L).

    Parameters
    ----------
    radio : array_like of str
        ``"LTE"`` or ``"NR"`` per cell.
    cell : array_like of int
        The 28-bit E-UTRAN cell identity (LTE) or 36-bit NR cell identity.
    operator : array_like of str, optional
        Canonical operator per cell, used to look up ``gnb_id_bits``.
    gnb_id_bits : int or mapping, optional
        gNB-ID length L in bits (22..32), one for all or per operator name;
        default :data:`DEFAULT_GNB_ID_BITS`.

    Returns
    -------
    numpy.ndarray of int64

    Examples
    --------
    >>> base_station_ids(["NR", "LTE"], [0x123456789, 0x1234567]).tolist() == [0x123456, 0x12345]
    True
    >>> base_station_ids(["NR"], [0x123456789], gnb_id_bits=28).tolist() == [0x1234567]
    True
    """
    radio = np.asarray(radio, dtype="str")
    cell = np.asarray(cell, dtype="int64")
    bits = _bits_per_cell(operator, gnb_id_bits, cell.shape[0])
    shift = np.where(radio == "LTE", 8, 36 - bits)
    return np.right_shift(cell, shift)


def _bits_table(gnb_id_bits) -> tuple[int, dict]:
    if gnb_id_bits is None:
        return DEFAULT_GNB_ID_BITS, {}
    if isinstance(gnb_id_bits, Mapping):
        table = dict(zip(normalise_operator(list(gnb_id_bits)), gnb_id_bits.values(), strict=True))
        default = DEFAULT_GNB_ID_BITS
    else:
        table, default = {}, gnb_id_bits
    values = [default, *table.values()]
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int | np.integer)]
    bad += [v for v in values if v not in bad and not 22 <= int(v) <= 32]
    if bad:
        raise DataError(
            f"gnb_id_bits: {bad!r} not a gNB-ID length; 3GPP allows whole numbers 22..32"
        )
    return int(default), {k: int(v) for k, v in table.items()}


def _bits_per_cell(operator, gnb_id_bits, n: int) -> np.ndarray:
    default, table = _bits_table(gnb_id_bits)
    if operator is None or not table:
        return np.full(n, default, dtype="int64")
    mapped = pd.Series(operator, dtype="str").map(table)
    return mapped.fillna(default).to_numpy(dtype="int64")


def _read_opencellid(path: Path, radios, gnb_id_bits, source: str):
    """OpenCelliD cells → one row per base station (eNB/gNB), with the skip counts."""
    wanted = tuple(dict.fromkeys(str(r).upper() for r in radios))
    unsupported = [r for r in wanted if r not in ("NR", "LTE")]
    if unsupported or not wanted:
        raise DataError(
            f"radios={radios!r}: geo5g counts base stations only for 'NR' (gNB) and 'LTE' (eNB)"
        )
    header = _opencellid_header(_first_line(path))
    usecols = ["radio", "mcc", "net", "cell", "lon", "lat", "samples", "created"]
    frame = _read_csv_text(
        path,
        header=0 if header else None,
        names=list(_OCID_COLUMNS),
        usecols=usecols,
        dtype={"radio": "str"},
        keep_default_na=False,
        na_values=[""],
    )
    first = 2 if header else 1
    if len(frame) == 0:
        raise DataError(f"{source}: empty layer (no cells)")
    numbers = np.arange(len(frame)) + first
    mcc, bad_mcc = _numeric(frame["mcc"])
    radio = frame["radio"].astype("str").str.strip().str.upper().to_numpy()
    china = ~bad_mcc & (mcc == _CHINA_MCC)
    keep = china & np.isin(radio, wanted)
    skipped = {"mcc": int((~china).sum()), "radio": int((china & ~keep).sum())}
    cells = frame.loc[keep].reset_index(drop=True)
    numbers, radio = numbers[keep], radio[keep]
    if len(cells) == 0:
        raise DataError(
            f"{source}: empty layer: no {'/'.join(wanted)} cells with MCC {_CHINA_MCC} "
            f"({skipped['mcc']} rows of other MCCs and {skipped['radio']} rows of other "
            "radios skipped); pass radios=('NR', 'LTE') to include LTE"
        )

    lon, lat, problems = _validate_positions(cells["lon"], cells["lat"], numbers, "lines")
    net, bad_net = _numeric(cells["net"])
    cell, bad_cell = _numeric(cells["cell"])
    limit = np.where(radio == "LTE", 2.0**28, 2.0**36)
    bad_cell |= ~bad_cell & ((cell < 0) | (cell >= limit) | (cell != np.floor(cell)))
    for name, bad, fix in (
        ("net (MNC)", bad_net, "a whole number"),
        ("cell", bad_cell, "an ECI in [0, 2^28) for LTE or an NCI in [0, 2^36) for NR"),
    ):
        if bad.any():
            problems.append(
                f"{int(bad.sum())} rows have a {name} that is not {fix} "
                f"(lines {_rows(bad, numbers)})"
            )
    samples, _ = _numeric(cells["samples"])
    created, bad_created = _numeric(cells["created"])
    bad_created &= ~_blank(cells["created"])
    if bad_created.any():
        problems.append(
            f"{int(bad_created.sum())} rows have an unparseable created time (unix seconds) "
            f"(lines {_rows(bad_created, numbers)})"
        )
    if problems:
        raise DataError(f"{source}: " + "; ".join(problems))

    net = net.astype("int64")
    operator = pd.Series(net).map(_MNC_OPERATORS)
    operator = operator.fillna("MNC " + pd.Series(net).astype("str")).astype("str")
    bs = base_station_ids(radio, cell.astype("int64"), operator, gnb_id_bits)
    # samples ≤ 0 (or missing) still place the cell: weight 1.
    weight = np.where(np.isfinite(samples) & (samples > 0), samples, 1.0)
    grouped = (
        pd.DataFrame(
            {
                "net": net,
                "radio": radio,
                "bs": bs,
                "operator": operator,
                "w": weight,
                "wx": weight * lon,
                "wy": weight * lat,
                "created": created,
            }
        )
        .groupby(["net", "radio", "bs"], sort=True)
        .agg(
            operator=("operator", "first"),
            w=("w", "sum"),
            wx=("wx", "sum"),
            wy=("wy", "sum"),
            created=("created", "min"),
            cells=("w", "size"),
        )
        .reset_index()
    )
    site_id = (
        f"{_CHINA_MCC}-"
        + grouped["net"].astype("str")
        + "-"
        + grouped["radio"].astype("str")
        + "-"
        + grouped["bs"].astype("str")
    )
    columns = {
        "site_id": site_id.astype("str"),
        "operator": grouped["operator"].astype("str"),
        "band": pd.Series(pd.NA, index=grouped.index, dtype="str"),
        # OpenCelliD's `range` is the spread of the crowd-sourced measurements
        # used to position the cell (a positioning uncertainty), not how far
        # the cell reaches, so it must not be used as a coverage radius.
        "radius_m": np.full(len(grouped), np.nan),
        "commissioned": pd.to_datetime(grouped["created"], unit="s").astype("datetime64[ns]"),
        "lon": (grouped["wx"] / grouped["w"]).to_numpy(),
        "lat": (grouped["wy"] / grouped["w"]).to_numpy(),
    }
    extra = {"skipped": skipped, "cells": int(grouped["cells"].sum())}
    return columns, extra


# --------------------------------------------------------------------------- public API


def read_sites(
    path,
    *,
    coords: str = "wgs84",
    fmt: str | None = None,
    radios=("NR",),
    gnb_id_bits=None,
    layer: str | None = None,
    points: bool = True,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read a sites layer (CSV, OpenCelliD, GeoJSON, GPKG, Shapefile, GeoParquet).

    Parameters
    ----------
    path : str or os.PathLike
        The file. CSV may be ``.gz`` compressed.
    coords : {"wgs84", "gcj02", "bd09"}
        Coordinate system of the positions (after reprojecting vector layers
        to EPSG:4326): AMap/Tencent exports are GCJ-02, Baidu's BD-09.
    fmt : {"csv", "opencellid", "geojson", "gpkg", "shp", "parquet"}, optional
        Override the format detected from the extension and CSV header.
    radios : sequence of {"NR", "LTE"}
        OpenCelliD only: which radios to keep (default 5G NR only).
    gnb_id_bits : int or mapping of operator → int, optional
        OpenCelliD only: gNB-ID length in bits (22..32), for all operators or
        per operator; default :data:`DEFAULT_GNB_ID_BITS` (24).
    layer : str, optional
        Layer of a multi-layer GeoPackage (default: its only point layer).
    points : bool, default True
        Build a point geometry per site. False returns a site table (the same
        columns without ``geometry``, ``attrs["crs"] = "EPSG:4326"``), which
        every analysis accepts: faster and far smaller for millions of sites.

    Returns
    -------
    geopandas.GeoDataFrame or pandas.DataFrame
        The Sites contract (``docs/CONTRACTS.md``): RangeIndex, columns
        ``site_id, operator, band, radius_m, commissioned, lon, lat,
        geometry`` in EPSG:4326 (no ``geometry`` with ``points=False``).
        ``attrs``: ``source`` (file name),
        ``synthetic`` (bool), ``coords`` (the input system); OpenCelliD adds
        ``skipped`` (``{"mcc": rows of other MCCs, "radio": rows of other
        radios}``) and ``cells`` (cells grouped into the base stations).

    Raises
    ------
    InputError
        Missing or unreadable file, unknown format, ambiguous GeoPackage layer.
    CRSError
        A vector layer without a CRS.
    DataError
        Every problem of the layer at once: no lon/lat columns, non-numeric or
        out-of-range coordinates, lon/lat apparently swapped, empty layer,
        non-point geometries, duplicate site_ids, unparseable dates.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> _ = p.write_text("站号,经度,纬度,运营商,频段\\nA1,118.79,32.06,中国移动,n41\\n", "utf-8")
    >>> s = read_sites(p)
    >>> s.loc[0, ["site_id", "operator", "band"]].tolist()
    ['A1', 'China Mobile', '2.6GHz']
    """
    path = Path(path)
    source = path.name
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; pass a sites file")
    if str(coords).lower().replace("-", "").replace("_", "") not in COORDINATE_SYSTEMS:
        raise DataError(
            f"unknown coordinate system {coords!r}; use one of {', '.join(COORDINATE_SYSTEMS)}"
        )
    kind = _detect_format(path, fmt)
    attrs = {"source": source, "synthetic": False, "coords": str(coords)}
    if kind == "opencellid":
        columns, extra = _read_opencellid(path, radios, gnb_id_bits, source)
        attrs |= extra
    else:
        if kind == "csv":
            frame, found, numbers, where = _read_table_csv(path)
            meta = {}
        else:
            frame, found, numbers, where, meta = _read_vector(path, kind, layer, source)
        columns = _table_to_sites(frame, found, numbers, where, source)
        del frame  # the raw columns: millions of sites' worth, no longer needed
        _release_arrow_memory()
        flag = meta.get("synthetic", meta.get("geo5g_synthetic"))
        attrs["synthetic"] = str(flag).lower() == "true" or bool(
            columns["site_id"].str.startswith("SYN-").all()
        )
    geometry = None if kind in ("csv", "opencellid") else meta.get("__geometry")
    if _norm(coords) != "wgs84":
        columns["lon"], columns["lat"] = to_wgs84(columns["lon"], columns["lat"], coords)
        geometry = None
    out = sites_from_arrays(
        **columns, source=source, synthetic=attrs["synthetic"], geometry=geometry, points=points
    )
    del columns
    _release_arrow_memory()  # the parsing's leftovers: ≈ 200 MB for millions of sites
    out.attrs.update(attrs)
    return out


def _category(values) -> pd.Series:
    """Strings as a categorical column (categories of dtype ``str``, missing kept)."""
    return pd.Series(values, dtype="str").reset_index(drop=True).astype("category")


def sites_from_arrays(
    site_id,
    operator,
    band,
    radius_m,
    commissioned,
    lon,
    lat,
    *,
    source: str,
    synthetic: bool,
    geometry=None,
    points: bool = True,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Build a Sites layer (the contract) from validated column arrays.

    Parameters
    ----------
    site_id, operator, band : array_like of str
        Unique ids; operator and band (missing allowed).
    radius_m : array_like of float
        Reach in metres or NaN.
    commissioned : array_like of datetime64
        Commissioning dates (NaT allowed).
    lon, lat : array_like of float
        WGS-84 degrees.
    source : str
        Stored in ``attrs["source"]``.
    synthetic : bool
        Stored in ``attrs["synthetic"]``.
    geometry : geopandas.GeoSeries, optional
        The same points as ``lon``/``lat`` in EPSG:4326, when already built
        (saves building millions of points twice); default built from them.
    points : bool, default True
        False: return the site table (no ``geometry``; see :func:`read_sites`).

    Returns
    -------
    geopandas.GeoDataFrame or pandas.DataFrame
        RangeIndex, columns :data:`SITE_COLUMNS` + ``geometry``, EPSG:4326
        (a site table without ``geometry`` when ``points`` is False).
    """
    frame = pd.DataFrame(
        {
            "site_id": pd.Series(site_id, dtype="str").reset_index(drop=True),
            # a few distinct names over millions of sites: categories, not a string each
            "operator": _category(operator),
            "band": _category(band),
            "radius_m": np.asarray(radius_m, dtype="float64"),
            "commissioned": pd.Series(commissioned).to_numpy(dtype="datetime64[ns]"),
            "lon": np.asarray(lon, dtype="float64"),
            "lat": np.asarray(lat, dtype="float64"),
        },
        copy=False,  # millions of national sites: no consolidated copy of the columns
    )
    if not points:
        frame.attrs.update({"source": source, "synthetic": bool(synthetic), "crs": _TABLE_CRS})
        return frame
    if geometry is None:
        geometry = gpd.points_from_xy(frame["lon"], frame["lat"], crs="EPSG:4326")
    else:
        geometry = gpd.GeoSeries(geometry).set_crs("EPSG:4326", allow_override=True).values
    out = gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326", copy=False)
    out.attrs.update({"source": source, "synthetic": bool(synthetic)})
    return out


def site_points(sites) -> gpd.GeoDataFrame:
    """The sites as a GeoDataFrame of points in EPSG:4326 (for maps and GIS exports).

    Parameters
    ----------
    sites : pandas.DataFrame or geopandas.GeoDataFrame
        A site table (``read_sites(..., points=False)``) or a Sites layer, which
        is returned as it is.

    Returns
    -------
    geopandas.GeoDataFrame
        The same rows and columns plus ``geometry`` built from ``lon``/``lat``;
        ``attrs`` kept (without ``crs``, which the GeoDataFrame carries).

    Raises
    ------
    CRSError
        A table whose ``attrs["crs"]`` is missing or not EPSG:4326.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"site_id": ["A"], "lon": [118.8], "lat": [32.1]})
    >>> table.attrs["crs"] = "EPSG:4326"
    >>> site_points(table).geometry.iloc[0].wkt
    'POINT (118.8 32.1)'
    """
    if isinstance(sites, gpd.GeoDataFrame):
        return sites
    if not is_site_table(sites):
        raise DataError("sites: expected a Sites layer or a table with lon and lat columns")
    table_crs(sites, sites.attrs.get("source", "sites"))
    attrs = {k: v for k, v in sites.attrs.items() if k != "crs"}
    geometry = gpd.points_from_xy(sites["lon"], sites["lat"], crs="EPSG:4326")
    out = gpd.GeoDataFrame(sites, geometry=geometry, crs="EPSG:4326")
    out.attrs = attrs
    return out


def write_sites(sites: gpd.GeoDataFrame, path, *, compression_level: int | None = None) -> Path:
    """Write a Sites layer as GeoParquet, GeoPackage or CSV (chosen by the extension).

    GeoParquet (zstd, GeoArrow point encoding) and GeoPackage keep the
    position in the geometry only (``lon``/``lat`` are rebuilt by
    :func:`read_sites`); CSV keeps ``lon``/``lat`` and no geometry. Whether
    the sites are synthetic is stored in the file's metadata (Parquet, GPKG)
    and survives a round trip through :func:`read_sites`.

    Parameters
    ----------
    sites : geopandas.GeoDataFrame or pandas.DataFrame
        A Sites layer or site table (as :func:`read_sites` returns).
    path : str or os.PathLike
        ``.parquet``/``.geoparquet``, ``.gpkg`` or ``.csv``.
    compression_level : int, optional
        Parquet only: zstd level (default 3, fast; 19 saves ~10 % for files
        committed to git at ~20× the time).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    ext = path.suffix.lower()
    if ext not in (".parquet", ".geoparquet", ".gpkg", ".csv"):
        raise InputError(f"{path.name}: write sites as .parquet, .gpkg or .csv, not {ext!r}")
    missing = [c for c in SITE_COLUMNS if c not in sites.columns]
    if missing:
        raise DataError(f"sites: missing contract columns {', '.join(missing)}")
    synthetic = bool(sites.attrs.get("synthetic", False))
    path.parent.mkdir(parents=True, exist_ok=True)
    if ext == ".csv":
        table = pd.DataFrame(sites[list(SITE_COLUMNS)])
        table["commissioned"] = table["commissioned"].dt.strftime("%Y-%m-%d")
        table.to_csv(path, index=False, encoding="utf-8")
        return path
    sites = site_points(sites)
    body = gpd.GeoDataFrame(
        sites[[c for c in SITE_COLUMNS if c not in ("lon", "lat")]],
        geometry=sites.geometry,
        crs=sites.crs,
    ).reset_index(drop=True)
    if ext == ".gpkg":
        body.to_file(
            path,
            layer="sites",
            driver="GPKG",
            engine="pyogrio",
            layer_metadata={"geo5g_synthetic": str(synthetic).lower()},
        )
        return path
    sink = pa.BufferOutputStream()
    body.to_parquet(sink, geometry_encoding="geoarrow", compression="zstd")
    table = pq.read_table(pa.BufferReader(sink.getvalue()))
    meta = dict(table.schema.metadata or {})
    meta[_META_KEY] = json.dumps({"synthetic": synthetic}).encode()
    pq.write_table(
        table.replace_schema_metadata(meta),
        path,
        compression="zstd",
        compression_level=compression_level,
    )
    return path
