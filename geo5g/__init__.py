"""geo5g: 5G deployment coverage against China's provincial 5G action plans.

The public API: describe a run (:class:`Request`), run the pipeline (:func:`run`),
write the report; and the readers and measures it is made of.

>>> import geo5g
>>> geo5g.load_plan("jiangsu-2024").density_target.threshold
26.0
"""

from __future__ import annotations

import importlib

# The package imports its modules when a name is first used (as SPEC 1 lazy loading):
# ``python -m geo5g`` sets the process's memory options (geo5g._memory) before any
# library is imported, since pyarrow's allocator starts a thread of its own at import
# and the first thread to allocate gets a heap of its own, which the pipeline's
# worker threads would then share (large arrays mapped afresh for each use).
_EXPORTS = {
    "CRSError": "errors",
    "DataError": "errors",
    "Geo5gError": "errors",
    "InputError": "errors",
    "PlanError": "errors",
    "Plan": "plans",
    "Request": "pipeline",
    "run": "pipeline",
    "assign_zones": "zones",
    "compare": "plans",
    "density_table": "density",
    "per_10k": "density",
    "gcj02_to_wgs84": "coords",
    "to_wgs84": "coords",
    "wgs84_to_gcj02": "coords",
    "load_plan": "plans",
    "read_boundaries": "boundaries",
    "read_census": "population",
    "read_sites": "sites",
    "resolve_province": "registry",
}

__version__ = "0.2.0"

__all__ = sorted([*_EXPORTS, "__version__", "write_report"])


def write_report(report, out_dir, **kwargs):
    """Write a report (see :func:`geo5g.outputs.write_report`); imports folium lazily."""
    from .outputs import write_report as _write

    return _write(report, out_dir, **kwargs)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif not name.startswith("__"):
        try:  # a submodule: geo5g.pipeline without importing it first, as before
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
