"""Every writer of geo5g: tables, layers and the report folder; nothing partial is left.

* :func:`write_text_atomic` / :class:`atomic_path` — one file, replaced only when complete;
* :func:`write_layers` — named layers to GeoPackage, GeoJSON or CSV;
* :func:`write_report` — the report folder: ``index.html`` (one self-contained page that
  opens offline), ``scorecard.csv``, ``cities.csv``, ``counties.csv`` (when there are
  counties) and ``coverage.gpkg``. Everything is written into a staging folder beside the
  output folder and moved into place only when all of it has been written, so a failed run
  leaves the previous output as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd

from .errors import DataError, InputError
from .project import to_wgs84
from .report import Report, detail_tables

__all__ = [
    "OUTPUT_FILES",
    "atomic_path",
    "csv_text",
    "spreadsheet_safe",
    "staged_files",
    "write_csv",
    "write_layers",
    "write_report",
    "write_text_atomic",
]

#: Every file :func:`write_report` may write into the output folder.
OUTPUT_FILES = {
    "html": "index.html",
    "scorecard": "scorecard.csv",
    "cities": "cities.csv",
    "counties": "counties.csv",
    # the detail tables of the page (geo5g.report.detail_tables), when the report has them
    "provinces": "provinces.csv",
    "roads": "roads.csv",
    "lines": "lines.csv",
    "operators": "operators.csv",
    "gaps": "gaps.csv",
    "rsu": "rsu.csv",
    "ports": "ports.csv",
    "seats": "seats.csv",
    "places": "places.csv",
    "urban": "urban_areas.csv",
    "ledger": "ledger.csv",
    "ledger_xlsx": "ledger.xlsx",
    "gpkg": "coverage.gpkg",
}


# --------------------------------------------------------------------------- files


def _write_error(target: Path, exc: BaseException) -> InputError:
    """One line for a failed write: read-only or immutable folder, full disk, bad name."""
    if isinstance(exc, UnicodeError):
        return InputError(
            f"{os.fsdecode(bytes(target)) if isinstance(target, bytes) else target!s}: "
            "the file name is not valid UTF-8; choose a name in UTF-8"
        )
    reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0] or type(exc).__name__
    return InputError(f"{_shown(target)}: cannot write it ({reason})")


def _shown(path) -> str:
    """A path for a message, with undecodable bytes shown as escapes (never a traceback)."""
    return str(path).encode("utf-8", "backslashreplace").decode("utf-8")


def _is_special(target: Path) -> bool:
    """Whether ``target`` exists and is not a regular file (a device, a FIFO, a socket)."""
    try:
        mode = os.stat(target).st_mode  # follows symlinks: a link to /dev/stdout is special
    except FileNotFoundError:
        return False
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


_WRITE_ERRORS = (OSError, UnicodeError)


def _pyogrio_errors() -> tuple:
    import pyogrio.errors as pe

    return (pe.DataSourceError, pe.DataLayerError, pe.FieldError, pe.GeometryError)


class staged_files:
    """Write several files as one: all appear on success, none (and nothing new) on failure.

    ``path(target)`` gives the temporary path to write each file to. On success every
    temporary file replaces its target (``os.replace``, atomic per file, in the order
    given; a target that is a symlink to a regular file replaces the file it points to
    and keeps the link; an existing file keeps its permissions). A target that is not a
    regular file (``/dev/stdout``, a FIFO, a symlink to either) is written *into*, never
    replaced. On failure, or when interrupted, the temporary files are removed and the
    targets are left as they were. Write errors of the OS and of GDAL become one
    :class:`~geo5g.errors.InputError` line naming the file.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with staged_files() as stage:
    ...     _ = stage.path(d / "a.txt").write_text("a")
    ...     _ = stage.path(d / "b.txt").write_text("b")
    >>> sorted(p.name for p in d.iterdir())
    ['a.txt', 'b.txt']
    """

    def __init__(self):
        self.pairs: list[tuple[Path, Path, bool]] = []  # (temporary, target, special)

    def path(self, target) -> Path:
        target = Path(target)
        special = _is_special(target)
        if not special and target.is_symlink():
            target = Path(os.path.realpath(target))
        parent = Path(tempfile.gettempdir()) if special else target.parent
        try:
            if not special:
                parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=parent)
            os.close(fd)
            os.unlink(name)  # writers such as GDAL want to create the file themselves
        except _WRITE_ERRORS as exc:
            raise _write_error(target, exc) from None
        tmp = Path(name)
        self.pairs.append((tmp, target, special))
        return tmp

    def __enter__(self):
        return self

    def _discard(self) -> None:
        for tmp, _target, _special in self.pairs:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self._discard()
            if isinstance(exc, (*_WRITE_ERRORS, *_pyogrio_errors())) and not isinstance(
                exc, InputError
            ):
                target = self.pairs[-1][1] if self.pairs else Path("output")
                raise _write_error(target, exc) from None
            return False
        try:
            for tmp, target, special in self.pairs:
                if special:
                    with open(tmp, "rb") as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    tmp.unlink()
                    continue
                if target.exists():
                    shutil.copymode(target, tmp)
                os.replace(tmp, target)
        except _WRITE_ERRORS as failure:
            self._discard()
            raise _write_error(target, failure) from None
        return False


class atomic_path:
    """Context manager giving a temporary path that replaces ``target`` on success.

    One file of :class:`staged_files` (special files are written into, not replaced).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "x.txt") as tmp:
    ...     _ = tmp.write_text("ok")
    >>> (d / "x.txt").read_text()
    'ok'
    """

    def __init__(self, target):
        self.target = Path(target)
        self._stage = staged_files()

    def __enter__(self) -> Path:
        return self._stage.path(self.target)

    def __exit__(self, exc_type, exc, tb):
        return self._stage.__exit__(exc_type, exc, tb)


def write_text_atomic(path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (into it, when it is a device or FIFO)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


# --------------------------------------------------------------------------- tables for people

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula, prefixed with ``'`` (OWASP).

    A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a
    formula in Excel and LibreOffice ("CSV injection"); prefixed with an apostrophe it
    shows as the text it is. Numbers (numeric columns, and text that reads as a number,
    such as ``-5``) are left alone. The index is treated like a column.

    Examples
    --------
    >>> t = pd.DataFrame({"name": ["=1+1", "南京", "-5", "@SUM(A1)"], "n": [-1, 2, 3, 4]})
    >>> spreadsheet_safe(t)["name"].tolist()
    ["'=1+1", '南京', '-5', "'@SUM(A1)"]
    """

    def fix(values: pd.Series) -> pd.Series:
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            return values
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype("object")
        text = values.astype("string")
        risky = text.str.startswith(_FORMULA_START).fillna(False)
        number = pd.to_numeric(text.where(risky), errors="coerce").notna()
        bad = (risky & ~number).to_numpy(dtype=bool)
        if not bad.any():
            return values
        out = values.astype("object").copy()
        out[bad] = "'" + text[bad].astype(str)
        return out

    out = frame.copy()
    for col in out.columns:
        out[col] = fix(out[col])
    if not isinstance(out.index, pd.MultiIndex):
        out.index = pd.Index(fix(out.index.to_series()).to_numpy(), name=out.index.name)
    return out


def csv_text(frame: pd.DataFrame, *, index: bool = True) -> str:
    """CSV text of ``frame`` for people (formula cells neutralised), ``\\n`` line ends."""
    return spreadsheet_safe(frame).to_csv(index=index, lineterminator="\n")


def write_csv(frame: pd.DataFrame, path, *, index: bool = True, encoding: str = "utf-8-sig"):
    """Write a table for spreadsheets: UTF-8 with BOM (Excel then shows Chinese names),
    formula cells neutralised, atomically (into a device or FIFO as it is)."""
    return write_text_atomic(path, csv_text(frame, index=index), encoding=encoding)


# --------------------------------------------------------------------------- layers

_DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".csv": "CSV"}


def _as_table(df: pd.DataFrame) -> pd.DataFrame:
    """Index (adcode, ref) becomes a column; nothing else changes."""
    if not isinstance(df.index, pd.RangeIndex) or df.index.name is not None:
        df = df.reset_index()
    return df


def _wgs84(df):
    """A layer in EPSG:4326 with its CRS written (what GIS and web maps expect)."""
    if isinstance(df, gpd.GeoDataFrame) and df.crs is not None:
        return to_wgs84(df, "layer")
    return df


def _gpkg_layer(df):
    """A layer GeoPackage accepts: one geometry type (single and multi promoted)."""
    if isinstance(df, gpd.GeoDataFrame):
        types = set(df.geom_type.dropna().unique())
        return df, len(types) > 1
    return df, False


def write_layers(path, layers: dict) -> list[Path]:
    """Write named layers to GeoPackage, GeoJSON, CSV or KML, all or nothing.

    Parameters
    ----------
    path : str or pathlib.Path
        ``*.gpkg`` holds every layer in one file (tables without geometry become
        attribute tables). ``*.geojson`` and ``*.csv`` hold one layer each: with one
        layer it goes to ``path``; with several, layer ``L`` goes to
        ``<stem>_L<suffix>`` beside it (all written, or none). Vector layers are
        written in WGS-84 (EPSG:4326) with the CRS recorded; CSV carries geometry as
        WKT in a ``wkt`` column, UTF-8 with BOM, formula cells neutralised.
    layers : dict of str → GeoDataFrame or DataFrame
        Layer name → data. A DataFrame with a named index (adcode, ref) keeps it as
        a column.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    InputError
        Unknown format, or the files cannot be written (one line naming the file).
    """
    import pyogrio

    path = Path(path)
    driver = _DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise InputError(f"{_shown(path.name)}: unknown output format; use .gpkg, .geojson or .csv")
    if not layers:
        raise DataError(f"{_shown(path.name)}: nothing to write (no layers)")
    written = []
    with staged_files() as stage:
        if driver == "GPKG":
            tmp = stage.path(path)
            for layer, df in layers.items():
                df, promote = _gpkg_layer(_wgs84(_as_table(df)))
                pyogrio.write_dataframe(
                    df, tmp, layer=layer, driver="GPKG", promote_to_multi=promote or None
                )
            written.append(path)
        else:
            for layer, df in layers.items():
                target = (
                    path
                    if len(layers) == 1
                    else path.with_name(f"{path.stem}_{layer}{path.suffix}")
                )
                tmp = stage.path(target)
                df = _wgs84(_as_table(df))
                if driver == "CSV":
                    if isinstance(df, gpd.GeoDataFrame):
                        geom = df.geometry.name
                        df = pd.DataFrame(df.drop(columns=geom)).assign(wkt=df.geometry.to_wkt())
                    tmp.write_text(csv_text(df, index=False), encoding="utf-8-sig")
                else:
                    pyogrio.write_dataframe(
                        df, tmp, layer=layer, driver="GeoJSON", layer_options={"RFC7946": "YES"}
                    )
                written.append(target)
    return written


# --------------------------------------------------------------------------- report


def _write_csv(frame: pd.DataFrame, path: Path, *, index: bool) -> None:
    # utf-8-sig: Excel (what planners open CSVs with) then shows Chinese names.
    path.write_text(csv_text(frame, index=index), encoding="utf-8-sig")


def _table(zones: gpd.GeoDataFrame) -> pd.DataFrame:
    return pd.DataFrame(zones.drop(columns="geometry"))


def _gpkg_layers(report: Report) -> dict[str, gpd.GeoDataFrame]:
    layers = {
        "cities": report.zones,
        "counties": report.counties,
        "covered": report.roads_covered,
        "gaps": report.roads_gaps,
        "rsu": report.rsu_stretches,
        "ports": report.ports,
        "seats": report.seats,
        "places": report.places,
        "urban_areas": report.urban,
        "provinces": report.provinces,
        "maritime": report.maritime,
        "candidates": report.candidates,
        "site_density": report.site_hex,
    }
    return {name: layer for name, layer in layers.items() if layer is not None and len(layer)}


def _write_gpkg(report: Report, path: Path) -> None:
    for name, layer in _gpkg_layers(report).items():
        layer = to_wgs84(layer, name)
        types = set(layer.geom_type.dropna().unique())
        # A GeoPackage layer has one geometry type: promote mixed single/multi.
        promote = len(types) > 1
        layer.to_file(path, layer=name, driver="GPKG", promote_to_multi=promote)


def _not_a_folder(out_dir: Path) -> InputError:
    return InputError(f"output {_shown(out_dir)} exists and is not a folder; choose another --out")


def _replace_into(tmp: Path, out_dir: Path, written: dict[str, Path]) -> dict[str, Path]:
    """Move finished files from ``tmp`` into ``out_dir``; index.html last; all or nothing.

    A new folder is one rename. Into an existing folder (which may hold other files,
    left alone), each earlier output is first moved aside into ``tmp``; if any move
    fails, the earlier outputs are put back.
    """
    if not out_dir.exists():
        os.replace(tmp, out_dir)  # one atomic rename of the whole folder
        return {key: out_dir / p.name for key, p in written.items()}
    if not out_dir.is_dir():
        raise InputError(
            f"output {_shown(out_dir)} exists and is not a folder; choose another --out"
        )
    aside = tmp / ".earlier"
    aside.mkdir()
    moved: list[tuple[Path, Path]] = []  # (earlier output set aside, where it was)
    placed: list[Path] = []
    order = sorted(written, key=lambda key: key == "html")
    try:
        for name in OUTPUT_FILES.values():
            old = out_dir / name
            if old.exists():
                os.replace(old, aside / name)
                moved.append((aside / name, old))
        for key in order:
            os.replace(written[key], out_dir / written[key].name)
            placed.append(out_dir / written[key].name)
    except OSError:
        for path in placed:  # undo: the earlier output comes back as it was
            with contextlib.suppress(OSError):
                path.unlink()
        for earlier, where in moved:
            with contextlib.suppress(OSError):
                os.replace(earlier, where)
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    return {key: out_dir / p.name for key, p in written.items()}


def write_report(
    report: Report,
    out_dir: str | os.PathLike,
    *,
    tiles: str | None = None,
    tiles_attribution: str | None = None,
    progress: Callable[[str], object] | None = None,
) -> dict[str, Path]:
    """Write the page, the tables and the GeoPackage into ``out_dir``, atomically.

    Parameters
    ----------
    report : Report
        From :func:`build_report`.
    out_dir : path-like
        Output folder; created (with parents) if missing. Files of an earlier
        report in it are replaced; other files are left alone.
    tiles : str, optional
        XYZ tile URL template of an (intranet) tile server, e.g.
        ``"https://tiles.example/{z}/{x}/{y}.png"``; without it the map has
        a plain background with boundaries and needs no network at all.
    tiles_attribution : str, optional
        Attribution shown for ``tiles`` (plain text).
    progress : callable, optional
        Called with the name of each stage as it starts (the CLI decides
        whether and how to show it).

    Returns
    -------
    dict of str to pathlib.Path
        Keys of :data:`OUTPUT_FILES` that were written (``"counties"`` only
        when the report has counties) mapped to their final paths.

    Raises
    ------
    InputError
        If ``out_dir`` is an existing file or cannot be written.
    DataError
        If ``tiles`` is not an XYZ URL template.
    """
    from .render import render_html  # folium is imported only when a page is drawn

    step = progress or (lambda stage: None)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(
            f"output {_shown(out_dir)} exists and is not a folder; choose another --out"
        )
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
        # mkdtemp makes a private (0700) folder; the report folder it becomes
        # should have the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)
    except _WRITE_ERRORS as err:
        raise _write_error(out_dir.parent, err) from None

    try:
        written: dict[str, Path] = {}
        step("rendering the map")
        html = render_html(report, tiles=tiles, tiles_attribution=tiles_attribution)
        written["html"] = tmp / OUTPUT_FILES["html"]
        written["html"].write_text(html, encoding="utf-8")

        step("writing tables")
        written["scorecard"] = tmp / OUTPUT_FILES["scorecard"]
        _write_csv(report.scorecard, written["scorecard"], index=False)
        written["cities"] = tmp / OUTPUT_FILES["cities"]
        _write_csv(_table(report.zones), written["cities"], index=True)
        if report.counties is not None:
            written["counties"] = tmp / OUTPUT_FILES["counties"]
            _write_csv(_table(report.counties), written["counties"], index=True)
        for key, table in detail_tables(report).items():
            written[key] = tmp / OUTPUT_FILES[key]
            _write_csv(table, written[key], index=False)
        if report.ledger is not None:
            from .ledger import write_ledger_xlsx

            written["ledger"] = tmp / OUTPUT_FILES["ledger"]
            _write_csv(report.ledger, written["ledger"], index=True)
            written["ledger_xlsx"] = tmp / OUTPUT_FILES["ledger_xlsx"]
            sheets = {"ledger": report.ledger.reset_index(), "scorecard": report.scorecard}
            # the summaries; the long lists (every gap run, place) stay in their CSVs
            details = detail_tables(report)
            sheets.update(
                {
                    k: details[k]
                    for k in ("provinces", "roads", "lines", "rsu", "operators")
                    if k in details
                }
            )
            write_ledger_xlsx(sheets, written["ledger_xlsx"])

        if _gpkg_layers(report):
            step("writing the GeoPackage")
            written["gpkg"] = tmp / OUTPUT_FILES["gpkg"]
            _write_gpkg(report, written["gpkg"])

        step("moving the report into place")
        return _replace_into(tmp, out_dir, written)
    except InputError:
        raise
    except (*_WRITE_ERRORS, *_pyogrio_errors()) as err:
        raise _write_error(out_dir, err) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
