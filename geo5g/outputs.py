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
import tempfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from .errors import DataError, InputError
from .project import WGS84, to_wgs84
from .report import Report

__all__ = [
    "OUTPUT_FILES",
    "atomic_path",
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
    "gpkg": "coverage.gpkg",
}


# --------------------------------------------------------------------------- files


class atomic_path:
    """Context manager giving a temporary path that replaces ``target`` on success.

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

    def __enter__(self) -> Path:
        parent = self.target.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{parent}: cannot create output folder ({exc.strerror})") from None
        fd, name = tempfile.mkstemp(
            prefix=f".{self.target.name}.", suffix=self.target.suffix, dir=parent
        )
        os.close(fd)
        os.unlink(name)  # writers such as GDAL want to create the file themselves
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            os.replace(self.tmp, self.target)
        elif self.tmp.exists():
            self.tmp.unlink()
        return False


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


# --------------------------------------------------------------------------- layers

_DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".csv": "CSV"}


def _as_table(df: pd.DataFrame) -> pd.DataFrame:
    """Index (adcode, ref) becomes a column; nothing else changes."""
    if not isinstance(df.index, pd.RangeIndex) or df.index.name is not None:
        df = df.reset_index()
    return df


def write_layers(path, layers: dict) -> list[Path]:
    """Write named layers to GeoPackage, GeoJSON or CSV, atomically.

    Parameters
    ----------
    path : str or pathlib.Path
        ``*.gpkg`` holds every layer in one file (tables without geometry become
        attribute tables). ``*.geojson`` and ``*.csv`` hold one layer each: with one
        layer it goes to ``path``; with several, layer ``L`` goes to
        ``<stem>_L<suffix>`` beside it. GeoJSON is written in WGS-84 (RFC 7946);
        CSV carries geometry as WKT in a ``wkt`` column.
    layers : dict of str → GeoDataFrame or DataFrame
        Layer name → data. A DataFrame with a named index (adcode, ref) keeps it as
        a column.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    path = Path(path)
    driver = _DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise InputError(f"{path.name}: unknown output format; use .gpkg, .geojson or .csv")
    if not layers:
        raise DataError(f"{path.name}: nothing to write (no layers)")
    if driver == "GPKG":
        with atomic_path(path) as tmp:
            for layer, df in layers.items():
                pyogrio.write_dataframe(_as_table(df), tmp, layer=layer, driver="GPKG")
        return [path]
    written = []
    for layer, df in layers.items():
        target = path if len(layers) == 1 else path.with_name(f"{path.stem}_{layer}{path.suffix}")
        df = _as_table(df)
        with atomic_path(target) as tmp:
            if driver == "CSV":
                if isinstance(df, gpd.GeoDataFrame):
                    geom = df.geometry.name
                    df = pd.DataFrame(df.drop(columns=geom)).assign(wkt=df.geometry.to_wkt())
                df.to_csv(tmp, index=False)
            else:
                if isinstance(df, gpd.GeoDataFrame) and df.crs is not None:
                    df = df.to_crs(WGS84)
                pyogrio.write_dataframe(df, tmp, layer=layer, driver="GeoJSON")
        written.append(target)
    return written


# --------------------------------------------------------------------------- report


def _write_csv(frame: pd.DataFrame, path: Path, *, index: bool) -> None:
    # utf-8-sig: Excel (what planners open CSVs with) then shows Chinese names.
    frame.to_csv(path, index=index, encoding="utf-8-sig")


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


def _replace_into(tmp: Path, out_dir: Path, written: dict[str, Path]) -> dict[str, Path]:
    """Move finished files from ``tmp`` into ``out_dir``; index.html last."""
    if not out_dir.exists():
        os.replace(tmp, out_dir)  # one atomic rename of the whole folder
        return {key: out_dir / p.name for key, p in written.items()}
    if not out_dir.is_dir():
        raise InputError(f"output {out_dir} exists and is not a folder; choose another --out")
    order = sorted(written, key=lambda key: key == "html")
    for key in order:
        os.replace(written[key], out_dir / written[key].name)
    # Files of an earlier run that this run does not produce would mislead.
    for key, name in OUTPUT_FILES.items():
        if key not in written:
            with contextlib.suppress(FileNotFoundError):
                (out_dir / name).unlink()
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
        raise InputError(f"output {out_dir} exists and is not a folder; choose another --out")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
        # mkdtemp makes a private (0700) folder; the report folder it becomes
        # should have the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)
    except OSError as err:
        raise InputError(f"cannot write into {out_dir.parent}: {err.strerror or err}") from err

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

        if _gpkg_layers(report):
            step("writing the GeoPackage")
            written["gpkg"] = tmp / OUTPUT_FILES["gpkg"]
            _write_gpkg(report, written["gpkg"])

        step("moving the report into place")
        return _replace_into(tmp, out_dir, written)
    except InputError:
        raise
    except OSError as err:
        raise InputError(f"cannot write the report into {out_dir}: {err}") from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
