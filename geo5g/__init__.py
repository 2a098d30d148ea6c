"""geo5g: 5G deployment coverage against China's provincial 5G action plans.

The public API: describe a run (:class:`Request`), run the pipeline (:func:`run`),
write the report; and the readers and measures it is made of.

>>> import geo5g
>>> geo5g.load_plan("jiangsu-2024").density_target.threshold
26.0
"""

from __future__ import annotations

from .boundaries import read_boundaries
from .coords import gcj02_to_wgs84, to_wgs84, wgs84_to_gcj02
from .density import density_table, per_10k
from .errors import CRSError, DataError, Geo5gError, InputError, PlanError
from .pipeline import Request, run
from .plans import Plan, compare, load_plan
from .population import read_census
from .registry import resolve_province
from .sites import read_sites
from .zones import assign_zones

__version__ = "0.2.0"

__all__ = [
    "CRSError",
    "DataError",
    "Geo5gError",
    "InputError",
    "Plan",
    "PlanError",
    "Request",
    "__version__",
    "assign_zones",
    "compare",
    "density_table",
    "gcj02_to_wgs84",
    "load_plan",
    "per_10k",
    "read_boundaries",
    "read_census",
    "read_sites",
    "resolve_province",
    "run",
    "to_wgs84",
    "wgs84_to_gcj02",
    "write_report",
]


def write_report(report, out_dir, **kwargs):
    """Write a report (see :func:`geo5g.outputs.write_report`); imports folium lazily."""
    from .outputs import write_report as _write

    return _write(report, out_dir, **kwargs)
