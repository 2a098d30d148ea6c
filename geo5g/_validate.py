"""Shared reading and validation helpers for every layer reader.

Every reader of geo5g (sites, roads, ports and places, RSUs, boundaries, population)
reads its file with the helpers here and reports its problems the same way: one
:class:`~geo5g.errors.DataError` per layer naming the file, with every problem found,
each giving the value and the fix, and rows listed as **lines** (1-based lines of a
text file, header = line 1) or **features** (1-based features of a vector layer).
Library warnings raised while reading (GDAL, pyogrio, pandas) are captured and
reported in words, never printed beside geo5g's own message.
"""

from __future__ import annotations

import gzip
import re
import threading
import tomllib
import warnings
import zlib
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from ._memory import release_arrow_memory
from .errors import CRSError, DataError, InputError

__all__ = [
    "LAT_SPELLINGS",
    "LON_SPELLINGS",
    "Problems",
    "blank",
    "check_geometries",
    "find_columns",
    "first_line",
    "listed_rows",
    "lonlat_problems",
    "norm",
    "numeric",
    "quiet_library_warnings",
    "read_csv_any",
    "read_settings_toml",
    "read_vector",
    "readers_side_by_side",
]

#: Column spellings of longitude and latitude, compared after :func:`norm`.
LON_SPELLINGS = ("lon", "lng", "long", "longitude", "x", "经度")
LAT_SPELLINGS = ("lat", "latitude", "y", "纬度")

_MAX_LISTED = 5
#: Encodings tried in turn: UTF-8 (with or without BOM), then GB 18030 (a superset of
#: GBK, what Excel and Notepad on Chinese Windows save).
ENCODINGS = ("utf-8-sig", "gb18030")
#: Longest reach or range accepted anywhere (metres): no 5G cell or RSU reaches
#: farther (3GPP TR 38.901 RMa is specified to 10 km, 21 km with LoS), and
#: larger values (1e308) would overflow when squared.
MAX_REACH_M = 100_000.0


class Problems:
    """Collects the problems of one layer and raises them together.

    Examples
    --------
    >>> p = Problems("sites.csv")
    >>> p.add("2 rows have no lon (lines 3, 4)")
    >>> p.add("1 row has a negative radius_m (line 7)")
    >>> try:
    ...     p.raise_if_any()
    ... except DataError as err:
    ...     print(err)
    sites.csv: 2 rows have no lon (lines 3, 4); 1 row has a negative radius_m (line 7)
    """

    def __init__(self, source: str):
        self.source = str(source)
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def extend(self, messages: Iterable[str]) -> None:
        self.items.extend(messages)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, error=DataError) -> None:
        if self.items:
            raise error(f"{self.source}: " + "; ".join(self.items))


def norm(name) -> str:
    """A column name compared case-, space-, ``_``-, ``-``- and ``.``-insensitively."""
    return re.sub(r"[\s_\-.]", "", str(name)).lower()


def find_columns(columns: Sequence, spellings: dict, source: str) -> dict:
    """Map each role to the input column spelled one of its ways (or None).

    Raises
    ------
    DataError
        When two columns of the file are spelled the same way once normalised
        (``lon`` twice, or ``Lon`` and ``lon``) and one of them would be used:
        which one is meant is ambiguous.
    """
    by_norm: dict[str, list] = {}
    for col in columns:
        by_norm.setdefault(norm(col), []).append(col)
    found, ambiguous = {}, []
    for role, names in spellings.items():
        hit = next((norm(s) for s in names if norm(s) in by_norm), None)
        if hit is None:
            found[role] = None
            continue
        if len(by_norm[hit]) > 1:
            ambiguous.append(f"{' and '.join(repr(str(c)) for c in by_norm[hit])} (for {role})")
        found[role] = by_norm[hit][0]
    if ambiguous:
        raise DataError(
            f"{source}: columns with the same name: {', '.join(ambiguous)}; rename or remove "
            "one of them so that each column is named once"
        )
    return found


def listed_rows(mask, numbers, unit: str = "lines") -> str:
    """``"lines 3, 7, 9, …"`` for the first few true entries of ``mask``.

    Examples
    --------
    >>> listed_rows([True, False, True], [2, 3, 4])
    'lines 2, 4'
    >>> listed_rows([True] * 7, range(1, 8), "features")
    'features 1, 2, 3, 4, 5, …'
    """
    picked = np.asarray(numbers)[np.asarray(mask, dtype=bool)]
    text = ", ".join(str(int(v)) for v in picked[:_MAX_LISTED])
    return f"{unit} {text}" + (", …" if picked.size > _MAX_LISTED else "")


def numeric(values) -> tuple[np.ndarray, np.ndarray]:
    """Float array and a mask of entries that are missing or not finite numbers."""
    series = pd.Series(values)
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series):
        series = pd.to_numeric(series.astype("str").str.strip(), errors="coerce")
    with np.errstate(over="ignore"):
        out = series.to_numpy(dtype="float64", na_value=np.nan)
    return out, ~np.isfinite(out)


def blank(series) -> np.ndarray:
    """Mask of missing or whitespace-only entries."""
    series = pd.Series(series)
    if not (pd.api.types.is_string_dtype(series.dtype) or series.dtype == object):
        return series.isna().to_numpy()
    text = series.astype("str")
    return (text.isna() | (text.str.strip() == "")).to_numpy(dtype=bool)


def raise_layer_problems(source: str, crs, problems: list) -> None:
    """Raise every problem of a vector layer at once; a missing CRS comes first.

    Raises
    ------
    CRSError
        ``crs`` is None (geo5g never guesses one); the other problems follow it.
    DataError
        Any other problem.
    """
    if crs is None:
        also = ("; also " + "; ".join(problems)) if problems else ""
        raise CRSError(
            f"{source}: layer has no CRS; geo5g never guesses one. Set it in the file "
            f"(e.g. ogr2ogr -a_srs EPSG:4326 out.gpkg {source}){also}"
        )
    if problems:
        raise DataError(f"{source}: " + "; ".join(problems))


def lonlat_problems(lon_raw, lat_raw, numbers, unit: str = "lines"):
    """Coordinates as floats, and the problems with them (missing, range, swapped).

    Returns
    -------
    tuple
        ``(lon, lat, problems)``: float64 arrays and a list of messages.
    """
    problems = []
    lon, bad_lon = numeric(lon_raw)
    lat, bad_lat = numeric(lat_raw)
    bad = bad_lon | bad_lat
    if bad.any():
        problems.append(
            f"{int(bad.sum())} rows have missing or non-numeric coordinates "
            f"({listed_rows(bad, numbers, unit)})"
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
            f"({listed_rows(lat_out, numbers, unit)}){hint}"
        )
    if lon_out.any():
        problems.append(
            f"{int(lon_out.sum())} rows have longitude outside [-180, 180] "
            f"({listed_rows(lon_out, numbers, unit)})"
        )
    if swapped and not lat_out.any():
        problems.append(
            "most latitudes are in 73–135 and most longitudes in 18–54 (China's longitudes "
            "and latitudes): are lon/lat swapped?"
        )
    return lon, lat, problems


# --------------------------------------------------------------------------- reading files


def _is_gzip(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


def _read_bytes(path: Path, size: int | None = None) -> bytes:
    """The file's bytes (decompressed for ``.gz``); a damaged ``.gz`` is named as such."""
    try:
        if _is_gzip(path):
            with gzip.open(path, "rb") as fh:
                return fh.read() if size is None else fh.read(size)
        with open(path, "rb") as fh:
            return fh.read() if size is None else fh.read(size)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(
            f"{path.name}: the compressed file is corrupt or truncated ({exc}); "
            "download or compress it again"
        ) from None
    except OSError as exc:
        raise InputError(f"{path.name}: cannot read ({exc.strerror or exc})") from None


def first_line(path: Path) -> str:
    """The first line of a text file (UTF-8 or GB 18030), without BOM."""
    head = _read_bytes(path, 65536)
    for encoding in ENCODINGS:
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


def read_csv_any(path: Path, **kwargs) -> pd.DataFrame:
    """``pandas.read_csv`` trying UTF-8 (BOM or not), then GB 18030; errors in one line.

    A ``.gz`` file is decompressed first, so that a truncated archive is reported as
    such (pandas would report a parser error in the middle of the data).
    """
    import io

    data = _read_bytes(path) if _is_gzip(path) else None
    last = None
    for encoding in ENCODINGS:
        source = io.BytesIO(data) if data is not None else path
        try:
            with quiet_library_warnings(path.name):
                return pd.read_csv(source, encoding=encoding, **kwargs)
        except UnicodeDecodeError as exc:
            last = exc
        except pd.errors.EmptyDataError:
            raise DataError(f"{path.name}: the file is empty (no header, no rows)") from None
        except (pd.errors.ParserError, ValueError) as exc:
            raise InputError(f"{path.name}: not a readable CSV table ({exc})") from None
        except OSError as exc:
            raise InputError(f"{path.name}: cannot read ({exc.strerror or exc})") from None
    raise InputError(f"{path.name}: neither UTF-8 nor GBK text ({last}); save it as UTF-8 CSV")


# Warnings raised from inside these packages while a file is read are about the file.
_READER_PACKAGES = (
    "/pyogrio/",
    "/fiona/",
    "/rasterio/",
    "/pandas/io/",
    "/pyarrow/",
    "/geopandas/io/",
)


# While readers run side by side (readers_side_by_side), each thread's own captures
_THREAD = threading.local()
_SIDE_BY_SIDE = 0  # how many readers_side_by_side blocks are open (nested loads)


@contextmanager
def readers_side_by_side():
    """One capture of warnings for readers running in several threads at once.

    ``warnings.catch_warnings`` swaps process-wide state: two readers capturing in two
    threads restore each other's filters, and one's warnings land in the other's list
    (or in none). Inside this block, entered by the thread that starts the readers
    and left after they end, :func:`quiet_library_warnings` only marks its thread:
    each warning goes to the capture of the thread that raised it. Warnings raised
    outside any capture are issued again, as they were, when the block ends.
    """
    global _SIDE_BY_SIDE
    unclaimed = []

    def route(message, category, filename, lineno, file=None, line=None):
        logs = getattr(_THREAD, "logs", None)
        caught = warnings.WarningMessage(message, category, filename, lineno, file, line)
        (logs[-1] if logs else unclaimed).append(caught)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = route
        _SIDE_BY_SIDE += 1
        try:
            yield
        finally:
            _SIDE_BY_SIDE -= 1
    for w in unclaimed:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


@contextmanager
def _captured():
    """The warnings raised in this block (in this thread, when readers run side by side)."""
    if not _SIDE_BY_SIDE:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield caught
        return
    caught = []
    logs = _THREAD.__dict__.setdefault("logs", [])
    logs.append(caught)
    try:
        yield caught
    finally:
        logs.pop()


@contextmanager
def quiet_library_warnings(source: str):
    """Turn the warnings of GDAL/pyogrio/pandas/pyproj while reading into one DataError.

    Library warnings about a file (a field type GDAL could not parse, mixed types in a
    CSV column) would otherwise be printed in the library's words beside geo5g's
    message, or — with warnings as errors — escape as a traceback. Warnings geo5g
    does not know are kept as warnings. Safe in several threads inside
    :func:`readers_side_by_side`.
    """
    with _captured() as caught:
        yield
    messages = []
    for w in caught:
        text = str(w.message).splitlines()[0] if str(w.message) else w.category.__name__
        origin = str(w.filename).replace("\\", "/")
        if issubclass(w.category, pd.errors.DtypeWarning):
            messages.append(f"a column holds mixed types ({text})")
        elif any(part in origin for part in _READER_PACKAGES):
            messages.append(text)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if messages:
        raise DataError(f"{source}: " + "; ".join(dict.fromkeys(messages)))


def read_vector(path: Path, *, layer=None, what: str = "a vector layer", **kwargs):
    """Any vector file GDAL reads, or GeoParquet, as a GeoDataFrame; errors in one line.

    pyogrio raises its own error classes (not OSError): they are mapped here.
    """
    import geopandas as gpd
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError, FieldError, GeometryError

    try:
        with quiet_library_warnings(path.name):
            if path.suffix.lower() in (".parquet", ".geoparquet"):
                gdf = gpd.read_parquet(path)
                # Arrow's own pool keeps freed buffers: hand them back (≈ 100 MB for roads)
                release_arrow_memory()
                return gdf
            return pyogrio.read_dataframe(path, layer=layer, **kwargs)
    except (DataSourceError, DataLayerError, FieldError, GeometryError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path.name}: cannot read it as {what} ({first})") from None
    except (OSError, ValueError) as exc:  # pyarrow / geopandas parquet errors
        raise InputError(f"{path.name}: cannot read ({str(exc).splitlines()[0]})") from None


def check_geometries(
    gdf, allowed: tuple[str, ...], what: str, hint: str, unit: str = "features"
) -> list[str]:
    """Problems with a layer's geometries: missing or empty, wrong type, degenerate lines.

    A line with fewer than two distinct points (zero length) measures nothing and is
    reported; so is an empty or missing geometry.
    """
    problems = []
    geoms = np.asarray(gdf.geometry.values)
    numbers = np.arange(len(geoms)) + 1
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        problems.append(
            f"{int(missing.sum())} features have no geometry "
            f"({listed_rows(missing, numbers, unit)})"
        )
    types = np.array(
        [None if t < 0 else shapely.GeometryType(t).name for t in shapely.get_type_id(geoms)],
        dtype=object,
    )
    names = {"LINESTRING": "LineString", "MULTILINESTRING": "MultiLineString"}
    names |= {"POINT": "Point", "POLYGON": "Polygon", "MULTIPOLYGON": "MultiPolygon"}
    names |= {"MULTIPOINT": "MultiPoint", "GEOMETRYCOLLECTION": "GeometryCollection"}
    pretty = np.array([names.get(t, str(t).title()) if t else None for t in types], dtype=object)
    wrong = ~missing & ~np.isin(pretty, allowed)
    if wrong.any():
        kinds = ", ".join(sorted(set(pretty[wrong])))
        problems.append(
            f"{int(wrong.sum())} features are {kinds}, not {what} "
            f"({listed_rows(wrong, numbers, unit)}); {hint}"
        )
    lines = ~missing & ~wrong & np.isin(pretty, ("LineString", "MultiLineString"))
    if lines.any():
        zero = np.zeros(len(geoms), dtype=bool)
        zero[lines] = shapely.length(geoms[lines]) <= 0
        if zero.any():
            problems.append(
                f"{int(zero.sum())} lines have zero length (one point, or all points equal; "
                f"{listed_rows(zero, numbers, unit)}); remove them or fix their geometry"
            )
    return problems


def read_settings_toml(path, bundled: Path, shown: str, what: str) -> tuple[dict, str]:
    """A settings TOML document (``path``, else the ``bundled`` file) and how to name it.

    ``shown`` names the bundled file in messages (``geo5g/settings/…``). An unreadable
    file is an :class:`~geo5g.errors.InputError`, bad TOML a :class:`~geo5g.errors.DataError`,
    each one line naming the file and ``what`` it holds.
    """
    from .errors import DataError, InputError

    source = shown if path is None else str(path)
    try:
        text = Path(bundled if path is None else path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{source}: cannot read the {what} ({exc.strerror})") from None
    try:
        # tomllib's messages are one line ("... (at line 3, column 5)")
        return tomllib.loads(text), source
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{source}: not valid TOML ({exc}); fix the syntax") from None
