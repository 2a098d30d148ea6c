"""OpenCelliD exports: cells of the chosen radios in China grouped into base stations.

An OpenCelliD CSV (``radio,mcc,net,area,cell,…``, with or without header) lists cells;
geo5g counts base stations: LTE eNBs (ECI >> 8) and NR gNBs (NCI >> (36 − gNB-ID
length)), each placed at the sample-weighted centroid of its cells.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ._validate import blank as _blank
from ._validate import first_line, listed_rows, lonlat_problems, read_csv_any
from ._validate import numeric as _numeric
from .errors import DataError
from .vocabulary import MNC_OPERATORS, normalise_operator

__all__ = ["DEFAULT_GNB_ID_BITS", "base_station_ids", "is_opencellid", "read_opencellid"]

#: gNB-ID length (bits of the 36-bit NR cell identity) used when an operator
#: has none given. 3GPP allows 22..32 bits per network; the operators publish
#: no table for China, and 24 bits (≤ 4,096 cells per gNB) is the split used
#: in 3GPP's and the vendors' worked examples and the one most often quoted
#: for Chinese networks. Pass ``gnb_id_bits`` when an operator is known to use
#: another length: a too-short length merges neighbouring gNBs, a too-long one
#: splits one gNB into its cell groups.
DEFAULT_GNB_ID_BITS = 24

_OCID_COLUMNS = (
    "radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples",
    "changeable", "created", "updated", "averageSignal",
)  # fmt: skip
_OCID_RADIOS = ("GSM", "UMTS", "CDMA", "LTE", "NR")
_CHINA_MCC = 460


def is_opencellid(line: str) -> bool | None:
    """True: OpenCelliD header; False: OpenCelliD row without header; None: not OpenCelliD."""
    fields = [f.strip().lower() for f in line.split(",")]
    if fields[:5] == ["radio", "mcc", "net", "area", "cell"]:
        return True
    if len(fields) == len(_OCID_COLUMNS) and fields[0].upper() in _OCID_RADIOS:
        return False
    return None


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


def read_opencellid(path: Path, radios, gnb_id_bits, source: str):
    """OpenCelliD cells → the Sites columns, one row per base station (eNB/gNB).

    Returns
    -------
    tuple
        ``(columns, extra)``: the contract columns as arrays (see
        :func:`geo5g.sites.sites_from_arrays`) and ``{"skipped": …, "cells": …}``.
    """
    wanted = tuple(dict.fromkeys(str(r).upper() for r in radios))
    unsupported = [r for r in wanted if r not in ("NR", "LTE")]
    if unsupported or not wanted:
        raise DataError(
            f"radios={radios!r}: geo5g counts base stations only for 'NR' (gNB) and 'LTE' (eNB)"
        )
    header = is_opencellid(first_line(path))
    usecols = ["radio", "mcc", "net", "cell", "lon", "lat", "samples", "created"]
    frame = read_csv_any(
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
            "radios skipped)",
            fix=("pass radios=('NR', 'LTE') to include LTE", "use --lte to include LTE"),
        )

    lon, lat, problems = lonlat_problems(cells["lon"], cells["lat"], numbers, "lines")
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
                f"({listed_rows(bad, numbers)})"
            )
    samples, _ = _numeric(cells["samples"])
    created, bad_created = _numeric(cells["created"])
    bad_created &= ~_blank(cells["created"])
    if bad_created.any():
        problems.append(
            f"{int(bad_created.sum())} rows have an unparseable created time (unix seconds) "
            f"({listed_rows(bad_created, numbers)})"
        )
    if problems:
        raise DataError(f"{source}: " + "; ".join(problems))

    net = net.astype("int64")
    operator = pd.Series(net).map(MNC_OPERATORS)
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
