"""The per-city ledger a bureau files: one row per city, and an Excel workbook of it.

:func:`city_ledger` puts together, per city (adcode), the density table of
:func:`geo5g.density.density_table` and what the other analyses found: whether the city
is on track for the next milestone (:func:`geo5g.trend.trajectory`), its expressway gap
km (:mod:`geo5g.corridors`), the new sites proposed (:mod:`geo5g.candidates`) and its
RSU road km. :func:`write_ledger_xlsx` writes such tables to an ``.xlsx`` workbook
(openpyxl, an optional dependency), one sheet each, numbers as numbers, formula-like
text neutralised, atomically.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .outputs import atomic_path, spreadsheet_safe

__all__ = [
    "CHINESE_HEADERS",
    "LEDGER_COLUMNS",
    "city_ledger",
    "write_ledger_xlsx",
]

_DENSITY_COLUMNS = ("name_zh", "population", "stations", "per_10k", "target", "met", "shortfall")

#: Columns of :func:`city_ledger`, in order (the optional ones only when given).
LEDGER_COLUMNS = (
    "name_zh",
    "name_en",
    *_DENSITY_COLUMNS[1:],
    "on_track",
    "gap_km",
    "candidates",
    "rsu_km",
)

#: Column headers of the ledger in Chinese (``chinese_headers=True``).
CHINESE_HEADERS = {
    "adcode": "行政区划代码",
    "name_zh": "城市",
    "name_en": "英文名",
    "population": "人口",
    "stations": "基站数",
    "per_10k": "每万人基站数",
    "target": "目标（每万人基站数）",
    "met": "是否达标",
    "shortfall": "缺口（基站数）",
    "on_track": "是否按期达标",
    "gap_km": "高速公路覆盖缺口（公里）",
    "candidates": "建议新建站点数",
    "rsu_km": "RSU覆盖道路里程（公里）",
}

_SHEET_FORBIDDEN = set("[]:*?/\\")
_MIN_WIDTH, _MAX_WIDTH = 8, 60


def _aligned(values, index: pd.Index, name: str) -> pd.Series:
    """``values`` on ``index``; adcodes not in the table are an error."""
    values = pd.Series(values)
    extra = values.index.difference(index)
    if len(extra):
        shown = ", ".join(map(str, extra[:5]))
        raise DataError(
            f"{name}: adcodes {shown} are not in the density table; "
            "pass values indexed by the table's adcodes"
        )
    return values.reindex(index)


def city_ledger(
    density_table: pd.DataFrame,
    *,
    on_track: pd.Series | None = None,
    gap_km: pd.Series | None = None,
    candidates: pd.Series | pd.DataFrame | None = None,
    rsu_km: pd.Series | None = None,
) -> pd.DataFrame:
    """One row per city: density against the target, and the other findings.

    Parameters
    ----------
    density_table : pandas.DataFrame
        From :func:`geo5g.density.density_table`: index adcode; ``name_zh``,
        ``population``, ``stations``, ``per_10k``, ``target``, ``met``, ``shortfall``
        (``name_en`` kept when present).
    on_track : pandas.Series, optional
        Whether the city is on track for the next milestone (an ``on_track_*`` column
        of :func:`geo5g.trend.trajectory`), by adcode.
    gap_km : pandas.Series, optional
        Expressway km not covered, by adcode.
    candidates : pandas.Series or pandas.DataFrame, optional
        New sites proposed: a count by adcode, or the candidate points themselves
        (a table with ``city_adcode``, e.g. :func:`geo5g.candidates.gap_candidates`),
        counted per city. Cities without any get 0.
    rsu_km : pandas.Series, optional
        Road km within reach of an RSU, by adcode.

    Returns
    -------
    pandas.DataFrame
        Index adcode (the density table's, in its order), columns
        :data:`LEDGER_COLUMNS` — the optional ones only when given. ``on_track`` is
        boolean, ``gap_km`` and ``rsu_km`` Float64 and ``candidates`` Int64, NA where a
        city has no value (except ``candidates``).

    Raises
    ------
    DataError
        A column missing from the density table, or values for adcodes not in it.

    Examples
    --------
    >>> t = pd.DataFrame({"name_zh": ["南京"], "population": [10_000], "stations": [30],
    ...     "per_10k": [30.0], "target": [26.0], "met": [True], "shortfall": [0]},
    ...     index=pd.Index([320100], name="adcode"))
    >>> city_ledger(t, gap_km=pd.Series({320100: 1.5})).columns.tolist()[-2:]
    ['shortfall', 'gap_km']
    """
    missing = [c for c in _DENSITY_COLUMNS if c not in density_table.columns]
    if missing:
        raise DataError(
            f"density_table: missing columns {', '.join(missing)}; "
            "pass the table of geo5g.density.density_table"
        )
    index = density_table.index
    if index.has_duplicates:
        dup = ", ".join(map(str, index[index.duplicated()][:5]))
        raise DataError(f"density_table: adcodes {dup} repeat; give one row per city")
    keep = [c for c in ("name_zh", "name_en") if c in density_table.columns]
    ledger = density_table[[*keep, *_DENSITY_COLUMNS[1:]]].copy()
    if on_track is not None:
        ledger["on_track"] = _aligned(on_track, index, "on_track").astype("boolean")
    if gap_km is not None:
        values = pd.to_numeric(_aligned(gap_km, index, "gap_km"), errors="coerce")
        ledger["gap_km"] = values.astype("Float64")
    if candidates is not None:
        if isinstance(candidates, pd.DataFrame):
            if "city_adcode" not in candidates.columns:
                raise DataError(
                    "candidates: a table of candidate sites needs a city_adcode column; "
                    "or pass a count per adcode"
                )
            candidates = candidates["city_adcode"].value_counts()
        counts = _aligned(candidates, index, "candidates").fillna(0)
        ledger["candidates"] = pd.to_numeric(counts).astype("Int64")
    if rsu_km is not None:
        values = pd.to_numeric(_aligned(rsu_km, index, "rsu_km"), errors="coerce")
        ledger["rsu_km"] = values.astype("Float64")
    ledger.index.name = "adcode"
    return ledger


# --------------------------------------------------------------------------- Excel


def _check_sheet_names(names) -> None:
    seen = set()
    for name in names:
        bad = sorted(set(str(name)) & _SHEET_FORBIDDEN)
        if not str(name) or len(str(name)) > 31 or bad:
            raise DataError(
                f"sheet name {name!r} is not allowed in Excel; use 1 to 31 characters "
                "without []:*?/\\"
            )
        if str(name).lower() in seen:
            raise DataError(f"sheet name {name!r} repeats (Excel ignores case); rename one")
        seen.add(str(name).lower())


def _as_sheet(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as written: the index (adcode, ref) as the first column, cells made safe."""
    if frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    frame = spreadsheet_safe(frame)
    if isinstance(frame.columns, pd.MultiIndex):
        frame.columns = [" / ".join(map(str, c)) for c in frame.columns]
    return frame


def _cell(value):
    """A value openpyxl writes as a number, a boolean, a date or text (None: empty)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _width(text: str) -> int:
    """Display width in Excel's character units: CJK characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _number_format(values: pd.Series) -> str | None:
    if pd.api.types.is_bool_dtype(values.dtype):
        return None
    if pd.api.types.is_integer_dtype(values.dtype):
        return "#,##0"
    if pd.api.types.is_float_dtype(values.dtype):
        return "#,##0.00"
    return None


def write_ledger_xlsx(tables: dict, path, *, chinese_headers: bool = False) -> Path:
    """Write tables to an Excel workbook, one sheet each, atomically.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        Sheet name → table (e.g. ``{"cities": city_ledger(...)}``). A named index
        (adcode) becomes the first column.
    path : str or os.PathLike
        The ``.xlsx`` file; replaced only once the workbook is complete.
    chinese_headers : bool
        Column headers in Chinese (:data:`CHINESE_HEADERS`; other columns keep their
        names).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DataError
        No tables, or a sheet name Excel does not accept.
    InputError
        The file cannot be written (one line naming it).
    ModuleNotFoundError
        openpyxl is not installed (``pip install openpyxl``).

    Notes
    -----
    The header row is frozen, column widths fit the longest cell (up to 60), numbers
    are written as numbers (whole numbers ``#,##0``, others ``#,##0.00``; the stored
    value keeps 16 significant digits), booleans as TRUE/FALSE, missing values as
    empty cells, and text that a spreadsheet would run as a formula is prefixed with
    ``'``
    (:func:`geo5g.outputs.spreadsheet_safe`).
    """
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "writing .xlsx needs openpyxl; install it with `pip install openpyxl`"
        ) from exc

    if not tables:
        raise DataError(f"{Path(path).name}: nothing to write (no tables)")
    _check_sheet_names(tables)
    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for name, table in tables.items():  # a few sheets
        frame = _as_sheet(table)
        sheet = book.create_sheet(str(name))
        headers = [
            CHINESE_HEADERS.get(str(c), str(c)) if chinese_headers else str(c)
            for c in frame.columns
        ]
        sheet.append(headers)
        columns = [frame[c] for c in frame.columns]
        cells = [[_cell(v) for v in col.astype(object).tolist()] for col in columns]
        for row in zip(*cells, strict=True) if cells else ():  # one row per city
            sheet.append(list(row))
        for k, (header, col, values) in enumerate(zip(headers, columns, cells, strict=True)):
            letter = get_column_letter(k + 1)
            sheet[f"{letter}1"].font = bold
            shown = [_width(header), *(_width(str(v)) for v in values if v is not None)]
            sheet.column_dimensions[letter].width = min(max(max(shown) + 2, _MIN_WIDTH), _MAX_WIDTH)
            fmt = _number_format(col)
            if fmt is not None:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=k + 1, max_col=k + 1):
                    cell.number_format = fmt
        sheet.freeze_panes = "A2"
    with atomic_path(path) as tmp:
        book.save(tmp)
    return Path(path)
