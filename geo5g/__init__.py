"""geo5g: 5G deployment coverage against China's provincial 5G action plans."""

from __future__ import annotations

from .coords import gcj02_to_wgs84, to_wgs84, wgs84_to_gcj02
from .density import density_table, per_10k
from .errors import CRSError, DataError, Geo5gError, InputError, PlanError
from .plans import Plan, compare, load_plan
from .zones import assign_zones

__version__ = "0.1.0"

__all__ = [
    "CRSError",
    "DataError",
    "Geo5gError",
    "InputError",
    "Plan",
    "PlanError",
    "__version__",
    "assign_zones",
    "compare",
    "density_table",
    "gcj02_to_wgs84",
    "load_plan",
    "per_10k",
    "to_wgs84",
    "wgs84_to_gcj02",
]
