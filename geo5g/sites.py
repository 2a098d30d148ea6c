"""Read 5G base-station (site) layers into the Sites contract, and write them.

Accepted inputs (auto-detected from the extension and, for CSV, the header):

* a plain CSV/TSV with longitude/latitude columns under any common spelling
  (``lon``/``lng``/``x``/``经度`` …), optionally ``site_id``, ``operator``,
  ``band``, ``radius_m`` and ``commissioned`` columns; UTF-8 (with or without
  BOM) or GBK (Chinese Excel exports); ``.gz`` compressed files too;
* an OpenCelliD export (``radio,mcc,net,area,cell,…``, header or not): cells
  of the chosen radios in China (MCC 460) are grouped into base stations;
* GeoJSON, GeoPackage, Shapefile and GeoParquet point layers with a CRS;
* an Excel workbook (``.xlsx``/``.xlsm``, the usual exchange format of bureaus and
  operators) with the same columns as a CSV: the header in the first row of a sheet,
  numbers or numbers stored as text, empty rows ignored; ``sheet=`` picks the sheet;
* a table or query of a PostgreSQL/PostGIS database (a site inventory), named by a
  connection string instead of a path (see :func:`read_sites`; needs ``psycopg``,
  ``pip install 'geo5g[postgis]'``).

Every reader validates its layer once, collects every problem and raises one
:class:`~geo5g.errors.DataError` naming the file; the result is trusted
afterwards. Row numbers in messages are 1-based file lines (header = line 1)
for CSV, the sheet's own row numbers for Excel (header = row 1), 1-based feature
numbers for vector layers and 1-based rows of the result for a database.

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

import io
import json
import re
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
from pyproj import CRS

from ._memory import release_arrow_memory
from ._validate import LAT_SPELLINGS, LON_SPELLINGS, MAX_REACH_M, first_line, listed_rows
from ._validate import blank as _blank
from ._validate import find_columns as _find_roles
from ._validate import lonlat_problems as _validate_positions
from ._validate import numeric as _numeric
from ._validate import read_csv_any as _read_csv_text
from .coords import COORDINATE_SYSTEMS, to_wgs84
from .errors import CRSError, DataError, InputError
from .opencellid import DEFAULT_GNB_ID_BITS, base_station_ids, is_opencellid, read_opencellid
from .project import is_site_table, table_crs, transform_xy
from .project import to_wgs84 as _layer_to_wgs84
from .vocabulary import normalise_band, normalise_operator

__all__ = [
    "DATABASE_PREFIXES",
    "DEFAULT_GNB_ID_BITS",
    "FORMATS",
    "SITE_COLUMNS",
    "base_station_ids",
    "is_database",
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
FORMATS = ("csv", "opencellid", "geojson", "gpkg", "shp", "parquet", "xlsx")

#: Beginnings of a ``read_sites`` source that name a PostgreSQL database, not a file.
DATABASE_PREFIXES = ("postgresql://", "postgres://", "postgresql+psycopg://", "PG:")

_TABLE_CRS = "EPSG:4326"  # attrs["crs"] of a site table: lon/lat are WGS-84 degrees

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
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
}

# Column spellings, compared after geo5g._validate.norm: lower case, no spaces/_/-/.
_SPELLINGS = {
    "lon": LON_SPELLINGS,
    "lat": LAT_SPELLINGS,
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
    # optional inputs of the link-budget coverage model (kept only when the file has them)
    "height_m": (
        "height_m", "height", "antenna_height", "antenna_height_m", "挂高", "天线挂高", "站高",
    ),
    "eirp_dbm": ("eirp_dbm", "eirp"),
    "tx_power_dbm": ("tx_power_dbm", "tx_power", "power_dbm", "发射功率"),
    "antenna_gain_dbi": ("antenna_gain_dbi", "antenna_gain", "gain_dbi", "天线增益"),
    "scenario": ("scenario", "场景"),
}  # fmt: skip

#: Optional numeric columns of the Sites contract: name → (lowest, highest) accepted value.
#: Heights from TR 38.901 Table 7.4.1-1 (UMi 10 m, UMa 25 m, RMa 10–150 m); powers in dBm
#: of real macro and small cells (a 200 W AAU is 53 dBm; EIRP with beamforming ≤ 90 dBm).
OPTIONAL_NUMERIC = {
    "height_m": (1.0, 300.0),
    "eirp_dbm": (-30.0, 100.0),
    "tx_power_dbm": (-30.0, 70.0),
    "antenna_gain_dbi": (-10.0, 40.0),
}
#: Longest reach accepted in a ``radius_m`` column (metres).
MAX_RADIUS_M = MAX_REACH_M

_META_KEY = b"geo5g"
_MAX_LISTED = 5


# --------------------------------------------------------------------------- helpers


_YEARS = (1678, 2261)  # the years datetime64[ns] holds whole


def _parse_dates(values) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """datetime64[ns] (naive, UTC for zoned input) and masks of bad entries.

    Returns the dates, a mask of unparseable entries and a mask of dates outside the
    years datetime64[ns] can hold (:data:`_YEARS`), each distinct value parsed once.
    """
    series = pd.Series(values).reset_index(drop=True)
    none = np.zeros(len(series), dtype=bool)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        year = series.dt.year
        outside = (year < _YEARS[0]) | (year > _YEARS[1])
        if outside.any():
            series = series.where(~outside)
        return series.astype("datetime64[ns]"), none, outside.fillna(False).to_numpy(bool)
    text = series.astype("str").str.strip()
    blank = _blank(series)
    uniques = pd.Series(text[~blank].unique(), dtype="str")
    cleaned = (
        uniques.str.replace(r"[年月/.]", "-", regex=True)
        .str.replace("日", "", regex=False)
        .str.strip("-")
    )
    year = pd.to_numeric(cleaned.str.extract(r"^(\d{4})(?:\D|$)", expand=False), errors="coerce")
    outside_u = ((year < _YEARS[0]) | (year > _YEARS[1])).fillna(False).to_numpy(bool)
    parsed = pd.to_datetime(cleaned.where(~outside_u), errors="coerce", format="mixed", utc=True)
    lookup = pd.Series(
        parsed.dt.tz_localize(None).astype("datetime64[ns]").to_numpy(), index=uniques
    )
    out = pd.Series(lookup.reindex(text.where(~blank)).to_numpy(), dtype="datetime64[ns]")
    outside = pd.Series(outside_u, index=uniques).reindex(text.where(~blank)).to_numpy()
    outside = pd.array(outside, dtype="boolean").fillna(False).to_numpy(bool)
    return out, (out.isna().to_numpy() & ~blank & ~outside), outside


# --------------------------------------------------------------------------- detection


def _separator(line: str) -> str:
    counts = {sep: line.count(sep) for sep in (",", "\t", ";")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


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
    if ext == ".xls":
        raise InputError(
            f"{path.name}: an Excel 97–2003 workbook (.xls), which geo5g does not read",
            fix=(
                "save it as .xlsx (Excel: File › Save As › Excel Workbook) or as CSV UTF-8",
                "save it as .xlsx (Excel: File › Save As › Excel Workbook) or as CSV UTF-8",
            ),
        )
    if kind is None:
        raise InputError(
            f"{path.name}: unknown sites format {ext or '(no extension)'!r}; supported: "
            f"{', '.join(sorted(_EXTENSIONS))} (CSV also .gz)",
            fix=(
                f"or pass fmt= one of {', '.join(FORMATS)}",
                "rename the file with one of these extensions",
            ),
        )
    if kind == "csv" and is_opencellid(first_line(path)) is not None:
        return "opencellid"
    return kind


# --------------------------------------------------------------------------- readers


def _read_table_csv(path: Path):
    sep = _separator(first_line(path))
    header = _read_csv_text(path, sep=sep, nrows=0)
    found = _find_roles(header.columns, _SPELLINGS, path.name)
    _require_lonlat(found, header.columns, path.name)
    text_roles = ("site_id", "operator", "band", "commissioned", "scenario")
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
    raise InputError(
        f"{path.name}: {len(layers)} layers ({listed})",
        fix=(
            "pass layer= to choose one",
            "keep the sites' layer alone (ogr2ogr sites.gpkg in.gpkg LAYER)",
        ),
    )


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
    attributes = table.drop_columns([name])
    found = _find_roles(pd.Index(attributes.column_names), _SPELLINGS, path.name)
    # lon/lat join the table in Arrow: one conversion, each column its own block
    # (assigning them to the DataFrame afterwards copied 77 MB, 0.3 s for 4.8 M sites)
    attributes = attributes.append_column("__lon", points.field("x"))
    attributes = attributes.append_column("__lat", points.field("y"))
    frame = attributes.to_pandas(split_blocks=True).reset_index(drop=True)
    found = found | {"lon": "__lon", "lat": "__lat"}
    return frame, found, np.arange(len(frame)) + 1, "features", _parquet_meta(path)


def _read_vector(path: Path, fmt: str, layer, source: str):
    """Vector layer → (frame with lon/lat/attributes, roles, feature numbers, meta)."""
    meta = {}
    try:
        if fmt == "parquet":
            if not _is_geoparquet(path):
                frame = pd.read_parquet(path).reset_index(drop=True)
                found = _find_roles(frame.columns, _SPELLINGS, source)
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
            f"{int(missing.sum())} features have no geometry "
            f"({listed_rows(missing, numbers, 'features')})"
        )
    if problems:
        raise DataError(f"{source}: " + "; ".join(problems))
    gdf = _layer_to_wgs84(gdf, source)
    found = _find_roles([c for c in gdf.columns if c != gdf.geometry.name], _SPELLINGS, source)
    frame = pd.DataFrame(
        {c: gdf[c].reset_index(drop=True) for c in found.values() if c is not None}
        | {"__lon": gdf.geometry.x.to_numpy(), "__lat": gdf.geometry.y.to_numpy()}
    )
    found = found | {"lon": "__lon", "lat": "__lat"}
    # Kept so that WGS-84 layers need not build their points a second time.
    meta = meta | {"__geometry": gdf.geometry.reset_index(drop=True)}
    return frame, found, numbers, "features", meta


# --------------------------------------------------------------------------- Excel


_TEXT_ROLES = ("site_id", "operator", "band", "scenario")


def _empty_cell(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _header(row) -> list[str]:
    return ["" if v is None else str(v).strip() for v in (row or ())]


def _sheet_list(names) -> str:
    return ", ".join(f"{name!r} ({i})" for i, name in enumerate(names))


def _has_lonlat(header) -> bool:
    try:
        found = _find_roles(header, {"lon": LON_SPELLINGS, "lat": LAT_SPELLINGS}, "")
    except DataError:  # the same name twice: reported when that sheet is read
        return True
    return found["lon"] is not None and found["lat"] is not None


def _pick_sheet(book, sheet, source: str) -> str:
    """The name of the sheet to read: asked for by name or 0-based index, or found."""
    names = list(book.sheetnames)
    if sheet is not None:
        if isinstance(sheet, str) and sheet in names:
            return sheet
        text = str(sheet).strip()
        if not isinstance(sheet, bool) and re.fullmatch(r"\d+", text) and int(text) < len(names):
            return names[int(text)]
        raise InputError(
            f"{source}: no sheet {sheet!r}; the workbook has {len(names)} sheets: "
            f"{_sheet_list(names)}",
            fix=(
                "pass sheet= a sheet's name or its 0-based index",
                "use --sheet with a sheet's name or its 0-based index",
            ),
        )
    if len(names) == 1:
        return names[0]
    with_lonlat = [
        name
        for name in names
        if hasattr(book[name], "iter_rows")
        and _has_lonlat(_header(next(book[name].iter_rows(max_row=1, values_only=True), ())))
    ]
    if len(with_lonlat) == 1:
        return with_lonlat[0]
    if not with_lonlat:
        raise DataError(
            f"{source}: no sheet has longitude and latitude columns (sheets: "
            f"{_sheet_list(names)}); the header must be the first row, with columns spelled "
            f"{'/'.join(LON_SPELLINGS)} and {'/'.join(LAT_SPELLINGS)} (any case)"
        )
    raise InputError(
        f"{source}: {len(with_lonlat)} sheets have longitude and latitude columns "
        f"({', '.join(map(repr, with_lonlat))}; all sheets: {_sheet_list(names)})",
        fix=(
            "pass sheet= the name or 0-based index of the sites' sheet",
            "use --sheet with the name or 0-based index of the sites' sheet",
        ),
    )


def _read_table_xlsx(path: Path, sheet):
    """An Excel sheet → (frame of the role columns, roles, row numbers, source, sheet name)."""
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        handle = open(path, "rb")  # noqa: SIM115 (read lazily until the sheet is read)
    except OSError as exc:
        raise InputError(f"{path.name}: cannot read ({exc.strerror or exc})") from None
    # openpyxl's own notices (styles, data validation, …) are about formatting, not values
    with handle, warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\.|$)")
        try:
            # a file object: openpyxl would refuse a workbook by its name (fmt="xlsx")
            book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(
                f"{path.name}: not a readable Excel workbook ({first}); save it again from "
                "Excel as .xlsx, or as CSV UTF-8"
            ) from None
        try:
            name = _pick_sheet(book, sheet, path.name)
            source = f"{path.name}, sheet {name!r}"
            if not hasattr(book[name], "iter_rows"):
                raise InputError(f"{source}: a chart sheet, not a table; pass sheet= a table")
            rows = book[name].iter_rows(values_only=True)
            header = _header(next(rows, None))
            found = _find_roles(header, _SPELLINGS, source)
            _require_lonlat(found, [h for h in header if h], source)
            body = list(rows)
        finally:
            book.close()
    # rows left empty (often thousands of formatted rows after the data) are skipped;
    # the others keep their row numbers in the sheet
    keep = np.fromiter(
        (any(not _empty_cell(v) for v in row) for row in body), dtype=bool, count=len(body)
    )
    numbers = np.flatnonzero(keep) + 2
    kept = [body[i] for i in np.flatnonzero(keep)]
    del body
    frame = pd.DataFrame(index=range(len(kept)))
    for role, column in found.items():
        if column is None:
            continue
        at = header.index(column)
        values = pd.Series([row[at] if at < len(row) else None for row in kept], dtype=object)
        if role in _TEXT_ROLES:
            # ids typed as numbers (10001) are the text "10001"
            values = values.astype("str")
        elif role != "commissioned":
            values = values.infer_objects()
        frame[column] = values
    return frame, found, numbers, source, name


# --------------------------------------------------------------------------- PostGIS


_PG_KEYS = ("table", "tables", "query")  # geo5g's own keys, removed before connecting


def is_database(source) -> bool:
    """Whether ``source`` names a PostgreSQL database rather than a file.

    Examples
    --------
    >>> is_database("postgresql://me@db.example/sites?table=gnb")
    True
    >>> is_database("PG:dbname=inventory tables=sites")
    True
    >>> is_database("sites.csv")
    False
    """
    if not isinstance(source, str):
        return False
    text = source.strip()
    return text.startswith(DATABASE_PREFIXES[:-1]) or text[:3].upper() == "PG:"


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise InputError(
            "reading sites from PostgreSQL needs the psycopg package",
            fix=("pip install 'geo5g[postgis]'", "pip install 'geo5g[postgis]'"),
        ) from None
    return psycopg


def _split_database(spec: str) -> tuple[str, dict]:
    """libpq connection string without geo5g's keys, and those keys' values."""
    text = spec.strip()
    ours = {}
    if text[:3].upper() == "PG:":  # GDAL's form: PG:"dbname=… host=… tables=…"
        body = text[3:].strip()
        if len(body) > 1 and body[0] == body[-1] == '"':
            body = body[1:-1]
        pair = re.compile(r"\s*([A-Za-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']+)\s*")
        kept, at = [], 0
        while at < len(body):
            match = pair.match(body, at)
            if match is None:
                raise InputError(
                    f"PostgreSQL connection string: cannot read {body[at:][:30]!r}; write "
                    "key=value pairs (PG:dbname=NAME host=HOST tables=TABLE), quoting values "
                    "with spaces in single quotes"
                )
            key, value = match.group(1), match.group(2)
            if value.startswith("'"):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            if key.lower() in _PG_KEYS:
                ours[key.lower()] = value
            else:
                kept.append(match.group(0).strip())
            at = match.end()
        return " ".join(kept), ours
    from urllib.parse import parse_qsl, urlencode, urlsplit

    parts = urlsplit(re.sub(r"^postgresql\+psycopg(2)?://", "postgresql://", text))
    params = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() in _PG_KEYS:
            ours[key.lower()] = value
        else:
            params.append((key, value))
    if parts.fragment:  # postgresql://…/db#sites
        ours.setdefault("table", parts.fragment)
    query = f"?{urlencode(params)}" if params else ""
    return f"{parts.scheme}://{parts.netloc}{parts.path}{query}", ours


def _database_label(params: dict) -> str:
    """``"database 'x' on host:port"`` (never the password)."""
    host = params.get("host") or params.get("hostaddr") or "the default host"
    port = f":{params['port']}" if params.get("port") else ""
    return f"database {params.get('dbname') or params.get('user') or '(default)'!r} on {host}{port}"


def _scrub(message: str, params: dict) -> str:
    first = (message.strip().splitlines() or [""])[0]
    if params.get("password"):
        first = first.replace(params["password"], "***")
    return first


def _read_database(spec: str, table, query):
    """A PostGIS table or query → (frame, roles, row numbers, source, id stem)."""
    psycopg = _psycopg()
    from psycopg import sql

    conninfo, ours = _split_database(spec)
    table = table if table is not None else ours.get("table", ours.get("tables"))
    query = query if query is not None else ours.get("query")
    try:
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.Error as exc:
        raise InputError(
            f"PostgreSQL connection string not understood ({_scrub(str(exc), {})}); write "
            "postgresql://USER@HOST:PORT/DBNAME?table=TABLE or PG:dbname=DBNAME host=HOST "
            "tables=TABLE"
        ) from None
    where = _database_label(params)
    if table is not None and query is not None:
        raise InputError(f"{where}: give a table or a query, not both")
    if table is not None and "," in str(table):
        raise InputError(f"{where}: one table of sites, not several ({table!r})")
    options = {} if "connect_timeout" in params else {"connect_timeout": 10}
    try:
        conn = psycopg.connect(conninfo, autocommit=False, **options)
    except psycopg.Error as exc:
        raise InputError(f"{where}: cannot connect ({_scrub(str(exc), params)})") from None
    try:
        conn.read_only = True  # a user's query can read, never change, the inventory
        with conn.cursor() as cur:
            return _query_sites(cur, sql, where, table, query)
    except psycopg.Error as exc:
        what = ", query" if query is not None else f", table {table}" if table else ""
        raise InputError(f"{where}{what}: {_scrub(str(exc), params)}") from None
    finally:
        conn.close()


def _relation(table: str):
    from psycopg import sql

    schema, _, name = str(table).rpartition(".")
    return sql.Identifier(schema, name) if schema else sql.Identifier(name)


def _only_point_table(cur, where: str) -> str:
    """The database's one table with a point geometry column (or an error listing them)."""
    cur.execute("SELECT count(*) FROM pg_class WHERE relname = 'geometry_columns'")
    tables = []
    if cur.fetchone()[0]:
        cur.execute(
            "SELECT f_table_schema, f_table_name, type FROM geometry_columns "
            "WHERE f_table_schema NOT IN ('pg_catalog', 'information_schema', 'topology') "
            "ORDER BY 1, 2"
        )
        tables = cur.fetchall()
    points = [(s, t) for s, t, kind in tables if "POINT" in str(kind).upper()]
    if len(points) == 1:
        schema, name = points[0]
        return name if schema == "public" else f"{schema}.{name}"
    listed = ", ".join(f"{s}.{t} ({kind})" for s, t, kind in tables[:10]) or "none"
    raise InputError(
        f"{where}: name the sites' table; tables with geometries: {listed}",
        fix=(
            "pass layer='TABLE' or query='SELECT …', or add ?table=TABLE to the URL",
            "add ?table=TABLE to the URL (tables=TABLE in a PG: string)",
        ),
    )


def _query_sites(cur, sql, where: str, table, query):
    if query is not None:
        body = sql.SQL(str(query).strip().rstrip(";"))
        base = sql.SQL("SELECT * FROM ({}) AS geo5g_query").format(body)
        source, stem = f"{where}, query", "query"
    else:
        table = table or _only_point_table(cur, where)
        base = sql.SQL("SELECT * FROM {}").format(_relation(table))
        source, stem = f"{where}, table {table}", str(table).rpartition(".")[2]
    cur.execute("SELECT oid::int FROM pg_type WHERE typname IN ('geometry', 'geography')")
    spatial = {row[0] for row in cur.fetchall()}
    cur.execute(sql.SQL("SELECT * FROM ({}) AS t LIMIT 0").format(base))
    names = [d.name for d in cur.description]
    geometry = [d.name for d in cur.description if d.type_code in spatial]
    if len(geometry) > 1:
        raise InputError(
            f"{source}: {len(geometry)} geometry columns ({', '.join(geometry)})",
            fix=(
                "pass query= selecting one of them",
                "add ?query=… selecting one of them to the URL",
            ),
        )
    found = _find_roles([n for n in names if n not in geometry], _SPELLINGS, source)
    if not geometry:
        _require_lonlat(found, names, source)
    picked = [
        sql.SQL("{} AS {}").format(sql.Identifier("t", column), sql.Identifier(f"__{role}"))
        for role, column in found.items()
        if column is not None and not (geometry and role in ("lon", "lat"))
    ]
    if geometry:
        g = sql.SQL("{}::geometry").format(sql.Identifier("t", geometry[0]))
        picked += [
            sql.SQL(expression).format(g=g)
            for expression in (
                "CASE WHEN GeometryType({g}) LIKE 'POINT%' THEN ST_X({g}) END AS __lon",
                "CASE WHEN GeometryType({g}) LIKE 'POINT%' THEN ST_Y({g}) END AS __lat",
                "ST_SRID({g}) AS __srid",
                "CASE WHEN NOT ST_IsEmpty({g}) THEN GeometryType({g}) END AS __gtype",
            )
        ]
    select = sql.SQL("SELECT {} FROM ({}) AS t").format(sql.SQL(", ").join(picked), base)
    # COPY as CSV: the values parsed by pandas' C reader, as a CSV file's would be
    buffer = io.BytesIO()
    copy = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')")
    with cur.copy(copy.format(select)) as stream:
        for chunk in stream:
            buffer.write(chunk)
    buffer.seek(0)
    frame = pd.read_csv(
        buffer,
        dtype={f"__{r}": "str" for r in (*_TEXT_ROLES, "commissioned", "gtype")},
        keep_default_na=False,
        na_values=[""],
        encoding="utf-8",
    )
    del buffer
    roles = {role: (f"__{role}" if column is not None else None) for role, column in found.items()}
    if geometry:
        roles |= {"lon": "__lon", "lat": "__lat"}
        frame = _database_points(cur, frame, source, geometry[0])
    return frame, roles, np.arange(len(frame)) + 1, source, stem


def _database_points(cur, frame: pd.DataFrame, source: str, column: str) -> pd.DataFrame:
    """Check the geometry column (points, one SRID known to the database) → WGS-84."""
    numbers = np.arange(len(frame)) + 1
    kind = frame.pop("__gtype")
    srid = frame.pop("__srid")
    missing = kind.isna().to_numpy()
    srids = sorted(int(v) for v in pd.unique(srid[~missing]))
    if srids == [0] or (0 in srids and len(srids) > 1):
        zero = (srid == 0).to_numpy() & ~missing
        raise CRSError(
            f"{source}: geometry column {column!r} has SRID 0 (no CRS) in "
            f"{int(zero.sum())} rows; geo5g never guesses one. Set it in the database, e.g. "
            f"SELECT UpdateGeometrySRID('TABLE', '{column}', 4326) for WGS-84 lon/lat "
            "(ST_SetSRID in a query)"
        )
    if len(srids) > 1:
        raise CRSError(
            f"{source}: geometry column {column!r} mixes SRIDs {', '.join(map(str, srids))}; "
            "transform them to one (ST_Transform) first"
        )
    problems = []
    wrong = ~missing & ~kind.str.startswith("POINT").fillna(False).to_numpy(bool)
    if wrong.any():
        counts = kind[wrong].value_counts()
        listed = ", ".join(f"{t} ({n})" for t, n in counts.items())
        problems.append(
            f"geometries must be points; found {listed} "
            f"({listed_rows(wrong, numbers, 'rows')}). Convert them to points first "
            "(e.g. ST_PointOnSurface in a query)"
        )
    if missing.any():
        problems.append(
            f"{int(missing.sum())} rows have no geometry ({listed_rows(missing, numbers, 'rows')})"
        )
    if problems:
        raise DataError(f"{source}: " + "; ".join(problems))
    if srids:
        crs = _srid_crs(cur, srids[0], source)
        if not crs.equals(CRS.from_epsg(4326), ignore_axis_order=True):
            x, y = transform_xy(frame["__lon"], frame["__lat"], crs, "EPSG:4326")
            frame["__lon"], frame["__lat"] = x, y
    return frame


def _srid_crs(cur, srid: int, source: str) -> CRS:
    cur.execute("SELECT auth_name, auth_srid, srtext FROM spatial_ref_sys WHERE srid = %s", (srid,))
    row = cur.fetchone()
    if row is None:
        raise CRSError(
            f"{source}: SRID {srid} is not in the database's spatial_ref_sys; use an EPSG SRID "
            "(4326 for WGS-84 lon/lat)"
        )
    auth, code, wkt = row
    try:
        if auth and code:
            return CRS.from_authority(auth, code)
        return CRS.from_wkt(wkt)
    except Exception as exc:  # pyproj.exceptions.CRSError, or a malformed WKT
        raise CRSError(f"{source}: SRID {srid} is not a CRS geo5g knows ({exc})") from None


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


def _table_to_sites(frame, found, numbers, where, source: str, stem: str | None = None) -> dict:
    """Validate a table with contract roles; return the contract columns (or raise).

    Generated ids are ``"<stem>-<row>"``; ``stem`` defaults to the stem of ``source``.
    """
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
        stem = stem or Path(source).stem
        generated = pd.Series([f"{stem}-{i}" for i in range(1, n + 1)], dtype="str")
        site_id = generated if blank.all() else site_id.where(~blank, generated)
    # Duplicates are located only when there are any.
    unique = _all_distinct(site_id)
    dup = np.zeros(n, dtype=bool) if unique else site_id.duplicated(keep=False).to_numpy()
    if dup.any():
        examples = ", ".join(repr(v) for v in site_id[dup].drop_duplicates()[:_MAX_LISTED])
        problems.append(
            f"{int(site_id[dup].nunique())} site_ids are not unique (e.g. {examples}; "
            f"{listed_rows(dup, numbers, where)})"
        )

    if found["radius_m"] is not None:
        radius, bad_radius = _numeric(frame[found["radius_m"]])
        bad_radius &= ~_blank(frame[found["radius_m"]])
        bad_radius |= np.isfinite(radius) & ((radius <= 0) | (radius > MAX_RADIUS_M))
        if bad_radius.any():
            problems.append(
                f"{int(bad_radius.sum())} rows have a radius_m that is not a number of metres "
                f"in (0, {MAX_RADIUS_M:,.0f}] ({listed_rows(bad_radius, numbers, where)}); "
                "leave it empty to use the coverage model"
            )
    else:
        radius = np.full(n, np.nan)

    extra = {}
    for role, (lo, hi) in OPTIONAL_NUMERIC.items():
        if found.get(role) is None:
            continue
        values, bad = _numeric(frame[found[role]])
        bad &= ~_blank(frame[found[role]])
        bad |= np.isfinite(values) & ((values < lo) | (values > hi))
        if bad.any():
            problems.append(
                f"{int(bad.sum())} rows have a {role} outside [{lo:g}, {hi:g}] or not a number "
                f"({listed_rows(bad, numbers, where)})"
            )
        extra[role] = values
    if found.get("scenario") is not None:
        scenario = frame[found["scenario"]].astype("str").str.strip().str.upper()
        scenario = scenario.where(~_blank(frame[found["scenario"]]))
        known = {"UMA", "UMI", "RMA"}
        bad = scenario.notna().to_numpy() & ~scenario.isin(known).to_numpy()
        if bad.any():
            problems.append(
                f"{int(bad.sum())} rows have a scenario that is not UMa, UMi or RMa "
                f"({listed_rows(bad, numbers, where)})"
            )
        extra["scenario"] = scenario.map({"UMA": "UMa", "UMI": "UMi", "RMA": "RMa"})

    if found["commissioned"] is not None:
        raw = frame[found["commissioned"]]
        commissioned, bad_date, out_of_range = _parse_dates(raw)
        if out_of_range.any():
            example = raw[out_of_range].iloc[0]
            problems.append(
                f"{int(out_of_range.sum())} rows have commissioned dates outside the years "
                f"1678–2261 (e.g. {example!r}; {listed_rows(out_of_range, numbers, where)}); "
                "check the year"
            )
        if bad_date.any():
            example = raw[bad_date].iloc[0]
            problems.append(
                f"{int(bad_date.sum())} rows have unparseable commissioned dates "
                f"(e.g. {example!r}; {listed_rows(bad_date, numbers, where)}); use YYYY-MM-DD"
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
        "extra": extra,
    }


# --------------------------------------------------------------------------- public API


def read_sites(
    path,
    *,
    coords: str = "wgs84",
    fmt: str | None = None,
    radios=("NR",),
    gnb_id_bits=None,
    layer: str | None = None,
    sheet: str | int | None = None,
    query: str | None = None,
    points: bool = True,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read a sites layer (CSV, OpenCelliD, GeoJSON, GPKG, Shapefile, GeoParquet, Excel, PostGIS).

    Parameters
    ----------
    path : str or os.PathLike
        The file (CSV may be ``.gz`` compressed), or a PostgreSQL connection string
        (a ``str`` beginning ``postgresql://``, ``postgres://`` or ``PG:``):

        * ``postgresql://[USER[:PASSWORD]@][HOST][:PORT]/DBNAME[?table=[SCHEMA.]TABLE]``
          — a libpq URI; other query parameters (``sslmode=``, ``host=/run/socket-dir``,
          ``connect_timeout=`` …) go to libpq; ``?query=SELECT…`` (URL-encoded) instead
          of a table; ``…/DBNAME#TABLE`` is the same as ``?table=TABLE``;
        * ``PG:dbname=DBNAME host=HOST port=PORT user=USER tables=[SCHEMA.]TABLE`` — GDAL's
          form (``table=`` and ``query='SELECT …'`` too; quote values with spaces in
          single quotes).

        The password is best kept out of the string (``~/.pgpass`` or ``PGPASSWORD``);
        it is never shown in messages. Without a table or query, the database's only
        table with a point geometry column is read. The geometry column (``geometry``
        or ``geography``, points) gives the positions, reprojected from its SRID to
        WGS-84; without one, lon/lat columns are read as in a CSV. The connection is
        read-only. Needs ``psycopg`` (``pip install 'geo5g[postgis]'``).
    coords : {"wgs84", "gcj02", "bd09"}
        Coordinate system of the positions (after reprojecting vector layers
        to EPSG:4326): AMap/Tencent exports are GCJ-02, Baidu's BD-09.
    fmt : {"csv", "opencellid", "geojson", "gpkg", "shp", "parquet", "xlsx"}, optional
        Override the format detected from the extension and CSV header.
    radios : sequence of {"NR", "LTE"}
        OpenCelliD only: which radios to keep (default 5G NR only).
    gnb_id_bits : int or mapping of operator → int, optional
        OpenCelliD only: gNB-ID length in bits (22..32), for all operators or
        per operator; default :data:`DEFAULT_GNB_ID_BITS` (24).
    layer : str, optional
        Layer of a multi-layer GeoPackage (default: its only point layer); for a
        database, the table (``"schema.table"`` or ``"table"``), as ``?table=``.
    sheet : str or int, optional
        Excel only: the sheet's name, or its 0-based index (a string of digits that
        is no sheet's name is an index too). Default: the only sheet, else the only
        sheet whose first row has lon/lat columns.
    query : str, optional
        Database only: a ``SELECT`` whose rows are the sites (instead of a table).
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
        ``attrs``: ``source`` (file name; for a database ``"database 'DB' on
        HOST:PORT, table T"``, without user or password), ``synthetic`` (bool),
        ``coords`` (the input system); Excel adds ``sheet``; OpenCelliD adds
        ``skipped`` (``{"mcc": rows of other MCCs, "radio": rows of other
        radios}``) and ``cells`` (cells grouped into the base stations).

    Raises
    ------
    InputError
        Missing or unreadable file, unknown format, ambiguous GeoPackage layer or
        Excel sheet, a database that cannot be reached (one line naming the host and
        database), an unknown table or a failing query.
    CRSError
        A vector layer without a CRS; a PostGIS geometry with SRID 0, or mixed SRIDs.
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

    An Excel workbook with the same columns, and a PostGIS table:

    >>> pd.DataFrame({"经度": [118.79], "纬度": [32.06]}).to_excel(
    ...     p.with_suffix(".xlsx"), sheet_name="基站", index=False)
    >>> read_sites(p.with_suffix(".xlsx")).attrs["sheet"]
    '基站'
    >>> read_sites("postgresql://planner@gis.example/inventory?table=gnb")  # doctest: +SKIP
    """

    def check_coords():
        if str(coords).lower().replace("-", "").replace("_", "") not in COORDINATE_SYSTEMS:
            raise DataError(
                f"unknown coordinate system {coords!r}; use one of {', '.join(COORDINATE_SYSTEMS)}"
            )

    attrs = {"synthetic": False, "coords": str(coords)}
    geometry = None
    if is_database(path):
        check_coords()
        if sheet is not None:
            raise InputError("sheet= is for Excel workbooks; a database has tables (layer=)")
        frame, found, numbers, source, stem = _read_database(path, layer, query)
        columns = _table_to_sites(frame, found, numbers, "rows", source, stem)
        del frame
        attrs |= {"source": source}
        attrs["synthetic"] = bool(columns["site_id"].str.startswith("SYN-").all())
        kind = "postgis"
    else:
        path = Path(path)
        source = path.name
        if not path.exists():
            raise InputError(f"{path}: no such file")
        if path.is_dir():
            raise InputError(f"{path}: is a folder; pass a sites file")
        check_coords()
        kind = _detect_format(path, fmt)
        if sheet is not None and kind != "xlsx":
            raise InputError(f"{source}: sheet= is for Excel workbooks (.xlsx), not {kind}")
        if query is not None:
            raise InputError(f"{source}: query= is for a database, not a file")
        attrs["source"] = source
    if kind == "opencellid":
        columns, extra = read_opencellid(path, radios, gnb_id_bits, source)
        attrs |= extra
    elif kind != "postgis":
        if kind == "csv":
            frame, found, numbers, where = _read_table_csv(path)
            meta, stem = {}, None
        elif kind == "xlsx":
            frame, found, numbers, source, attrs["sheet"] = _read_table_xlsx(path, sheet)
            meta, stem, where = {}, path.stem, "rows"
        else:
            frame, found, numbers, where, meta = _read_vector(path, kind, layer, source)
            stem = None
        columns = _table_to_sites(frame, found, numbers, where, source, stem)
        del frame  # the raw columns: millions of sites' worth, no longer needed
        release_arrow_memory()
        flag = meta.get("synthetic", meta.get("geo5g_synthetic"))
        attrs["synthetic"] = str(flag).lower() == "true" or bool(
            columns["site_id"].str.startswith("SYN-").all()
        )
        geometry = meta.get("__geometry")
    if str(coords).lower().replace("-", "").replace("_", "") != "wgs84":
        columns["lon"], columns["lat"] = to_wgs84(columns["lon"], columns["lat"], coords)
        geometry = None
    out = sites_from_arrays(
        **columns,
        source=attrs["source"],
        synthetic=attrs["synthetic"],
        geometry=geometry,
        points=points,
    )
    del columns
    release_arrow_memory()  # the parsing's leftovers: ≈ 200 MB for millions of sites
    out.attrs.update(attrs)
    return out


def _category(values) -> pd.Series:
    """Strings as a categorical column (categories of dtype ``str``, missing kept).

    Dictionary-encoded in Arrow: a handful of distinct names over millions of sites
    cost one pass, not a Python string each.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    series = pd.Series(values).reset_index(drop=True)
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.rename_categories(lambda c: str(c))
    arrow = pa.array(series.astype("str"))
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    encoded = pc.dictionary_encode(arrow)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    categories = pd.Index(encoded.dictionary.to_pylist(), dtype="str")
    return pd.Series(pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories)))


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
    extra=None,
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
    extra : mapping of str to array_like, optional
        Optional columns of the contract the input gave (``height_m``, ``eirp_dbm``,
        ``tx_power_dbm``, ``antenna_gain_dbi``, ``scenario``), added after the others.

    Returns
    -------
    geopandas.GeoDataFrame or pandas.DataFrame
        RangeIndex, columns :data:`SITE_COLUMNS` (+ ``extra``) + ``geometry``, EPSG:4326
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
    for name, values in (extra or {}).items():
        frame[name] = (
            pd.Series(values, dtype="str").reset_index(drop=True).astype("category")
            if name == "scenario"
            else np.asarray(values, dtype="float64")
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
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in (".parquet", ".geoparquet", ".gpkg", ".csv"):
        raise InputError(f"{path.name}: write sites as .parquet, .gpkg or .csv, not {ext!r}")
    missing = [c for c in SITE_COLUMNS if c not in sites.columns]
    if missing:
        raise DataError(f"sites: missing contract columns {', '.join(missing)}")
    from .outputs import atomic_path  # outputs imports the report, which imports sites

    with atomic_path(path) as tmp:
        _write_sites_to(sites, tmp, ext, compression_level)
    return path


def _write_sites_to(sites, path: Path, ext: str, compression_level) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    synthetic = bool(sites.attrs.get("synthetic", False))
    if ext == ".csv":
        table = pd.DataFrame(sites[list(SITE_COLUMNS)])
        table["commissioned"] = table["commissioned"].dt.strftime("%Y-%m-%d")
        table.to_csv(path, index=False, encoding="utf-8")
        return
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
        return
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
