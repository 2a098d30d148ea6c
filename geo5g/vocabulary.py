"""The vocabulary of Chinese 5G networks: operators and bands, normalised.

Files name operators in many ways (中国移动, 移动, CMCC, China Mobile …) and bands by
NR band number (n78), frequency (3.5G, 3500) or label; :func:`normalise_operator` and
:func:`normalise_band` map them to one canonical name each, once per distinct value.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ._validate import norm as _norm

__all__ = [
    "BANDS",
    "MNC_OPERATORS",
    "OPERATORS",
    "normalise_band",
    "normalise_operator",
]

#: Canonical operator name → the spellings files use.
OPERATORS = {
    "China Mobile": ("中国移动", "移动", "cmcc", "chinamobile", "cm", "mobile"),
    "China Unicom": ("中国联通", "联通", "cucc", "chinaunicom", "cu", "unicom"),
    "China Telecom": ("中国电信", "电信", "ctcc", "chinatelecom", "ct", "telecom"),
    "China Broadnet": (
        "中国广电", "广电", "cbn", "chinabroadnet", "broadnet", "chinabroadcastnetwork",
    ),
}  # fmt: skip


#: Canonical band labels of China's 5G NR bands, low to high.
BANDS = ("700MHz", "2.1GHz", "2.6GHz", "3.5GHz", "4.9GHz")

# NR operating band → canonical label; frequencies (MHz) snap to the nearest
# centre within _BAND_TOLERANCE_MHZ.
_NR_BANDS = {28: "700MHz", 1: "2.1GHz", 41: "2.6GHz", 78: "3.5GHz", 79: "4.9GHz"}
_BAND_CENTRES_MHZ = {700: "700MHz", 2100: "2.1GHz", 2600: "2.6GHz", 3500: "3.5GHz", 4900: "4.9GHz"}
_BAND_TOLERANCE_MHZ = 100

#: MNC (mobile network code, MCC 460) → operator.
MNC_OPERATORS = {
    0: "China Mobile", 2: "China Mobile", 4: "China Mobile", 7: "China Mobile", 8: "China Mobile",
    1: "China Unicom", 6: "China Unicom", 9: "China Unicom",
    3: "China Telecom", 5: "China Telecom", 11: "China Telecom",
    15: "China Broadnet",
}  # fmt: skip


def _map_distinct(values, label) -> pd.Series:
    """``label(v)`` for each stripped value, computed once per distinct value.

    Blank values become missing. Millions of rows with a handful of distinct
    operator or band names cost one dictionary encoding (Arrow, or the codes of
    a categorical column as Parquet gives it), not a Python call each; the
    result is categorical with ``str`` categories, so no string is built per row.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    index = values.index if isinstance(values, pd.Series) else None
    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        distinct = [str(c).strip() for c in values.cat.categories]
    else:
        arrow = pa.array(pd.Series(values, dtype="str"))
        if isinstance(arrow, pa.ChunkedArray):  # columns read from Parquet come in chunks
            arrow = arrow.combine_chunks()
        encoded = pc.dictionary_encode(pc.utf8_trim_whitespace(arrow))
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        distinct = encoded.dictionary.to_pylist()
    labels = [label(v) if v else None for v in distinct]
    categories = pd.Index(sorted({v for v in labels if v is not None}), dtype="str")
    lookup = np.append(
        np.asarray([categories.get_loc(v) if v is not None else -1 for v in labels], dtype="int64"),
        -1,
    )  # the last entry serves the missing code -1
    new_codes = lookup[np.asarray(codes, dtype="int64")]
    out = pd.Categorical.from_codes(new_codes, dtype=pd.CategoricalDtype(categories))
    return pd.Series(out, index=index)


def normalise_operator(values) -> pd.Series:
    """Canonical operator names (``"China Mobile"`` …); unknown names kept as given.

    Parameters
    ----------
    values : array_like of str
        Operator names as found in a file: 中国移动, CMCC, China Mobile, 联通 ….

    Returns
    -------
    pandas.Series
        Same length, categorical with ``str`` categories; blanks become missing.

    Examples
    --------
    >>> normalise_operator(["中国移动", "CUCC", "China telecom", "广电", "Acme"]).tolist()
    ['China Mobile', 'China Unicom', 'China Telecom', 'China Broadnet', 'Acme']
    """
    aliases = {_norm(a): name for name, names in OPERATORS.items() for a in (*names, name)}
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
