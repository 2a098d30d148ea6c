"""Network sharing as data: which sites serve the users of an operator.

China's operators share their 5G networks (``geo5g/settings/sharing.toml``, with
sources): China Telecom and China Unicom one network; China Mobile and China
Broadnet the 700 MHz layer. A site of operator X on band b serves the users of Y
when X = Y, or X and Y are in a group whose bands include b.

Examples
--------
>>> import pandas as pd
>>> s = load_sharing()
>>> sites = pd.DataFrame({"operator": ["China Telecom", "China Mobile", "China Mobile"],
...                       "band": ["3.5GHz", "700MHz", "3.5GHz"]})
>>> s.serves(sites, "China Unicom").tolist(), s.serves(sites, "China Broadnet").tolist()
([True, False, False], [False, True, False])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ._validate import read_settings_toml
from .errors import DataError
from .vocabulary import BANDS, OPERATORS, normalise_band, normalise_operator

__all__ = ["Sharing", "SharingGroup", "load_sharing"]

_DEFAULT = Path(__file__).resolve().parent / "settings" / "sharing.toml"


@dataclass(frozen=True)
class SharingGroup:
    """Operators that serve each other's users on some bands (``None``: every band)."""

    name: str
    operators: tuple[str, ...]
    bands: tuple[str, ...] | None


@dataclass(frozen=True)
class Sharing:
    """The sharing groups, and who serves whom."""

    groups: tuple[SharingGroup, ...]
    source: str = "<defaults>"

    def serves(self, sites: pd.DataFrame, operator: str) -> np.ndarray:
        """Boolean mask of the sites that serve the users of ``operator``.

        Parameters
        ----------
        sites : pandas.DataFrame
            With ``operator`` and ``band`` columns (canonical names, as read).
        operator : str
            Any spelling :func:`geo5g.vocabulary.normalise_operator` knows.
        """
        want = str(normalise_operator([operator]).iloc[0])
        if want not in OPERATORS:
            raise DataError(
                f"unknown operator {operator!r}; use one of {', '.join(OPERATORS)} "
                "(or cmcc, cucc, ctcc, cbn, 移动, 联通, 电信, 广电)"
            )
        own = sites["operator"].astype("string").fillna("").to_numpy(dtype=object)
        band = sites["band"].astype("string").fillna("").to_numpy(dtype=object)
        mask = own == want
        for group in self.groups:
            if want not in group.operators:
                continue
            partner = np.isin(own, list(group.operators))
            on_band = np.ones(len(own), bool) if group.bands is None else np.isin(band, group.bands)
            mask |= partner & on_band
        return mask

    def operators(self) -> tuple[str, ...]:
        """The four operators, in the vocabulary's order."""
        return tuple(OPERATORS)


def load_sharing(path=None) -> Sharing:
    """Read sharing groups from a TOML file (default: the bundled ``sharing.toml``).

    Raises
    ------
    InputError
        The file cannot be read.
    DataError
        Unknown operators or bands, or a malformed group (every problem listed).
    """
    data, source = read_settings_toml(
        path, _DEFAULT, "geo5g/settings/sharing.toml", "sharing settings"
    )
    problems, groups = [], []
    for i, raw in enumerate(data.get("group", []), start=1):
        if not isinstance(raw, dict) or "operators" not in raw:
            problems.append(f"group {i} needs operators = [...]")
            continue
        ops = tuple(str(v) for v in normalise_operator(list(raw["operators"])))
        if bad := [o for o in ops if o not in OPERATORS]:
            problems.append(f"group {i}: unknown operators {', '.join(bad)}")
        bands = raw.get("bands", "all")
        if bands == "all":
            band_tuple = None
        else:
            band_tuple = tuple(str(v) for v in normalise_band(list(bands)))
            if bad := [b for b in band_tuple if b not in BANDS]:
                problems.append(f"group {i}: unknown bands {', '.join(bad)}")
        groups.append(SharingGroup(str(raw.get("name", f"group {i}")), ops, band_tuple))
    if problems:
        raise DataError(f"{source}: " + "; ".join(problems))
    return Sharing(tuple(groups), source)
