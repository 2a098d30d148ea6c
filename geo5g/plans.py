"""Plan targets as data: TOML files, frozen dataclasses, and the comparison.

Each built-in plan lives in ``geo5g/plans/<id>.toml`` and lists every spatial
target of the plan's text with the section it comes from.  A user can pass
their own file in the same format (see the README).

Examples
--------
>>> plan = load_plan("jiangsu-2024")
>>> plan.density_target.threshold, plan.density_target.op
(26.0, '>')
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError, PlanError

__all__ = [
    "COUNTED",
    "FED_BY",
    "MEASURABLE",
    "Plan",
    "Target",
    "available_plans",
    "check_plan_area",
    "compare",
    "default_plan",
    "load_plan",
    "meets",
]

_OPS = (">", ">=")
#: Metrics geo5g computes from its layers; other targets (counts of projects,
#: scenarios, pilot zones) are listed in the scorecard but cannot be measured.
MEASURABLE = frozenset(
    {
        "stations_per_10k",
        "cities_meeting_density_pct",
        "expressway_coverage_pct",
        "ports_covered_pct",
        "rsu_road_km",
        "county_seats_covered_pct",
        "poi_covered_pct",
        "scenic_5a_covered_pct",
        "airports_covered_pct",
        "campus_covered_pct",
        "hospital_covered_pct",
        "main_road_coverage_pct",
        "railway_coverage_pct",
        "metro_coverage_pct",
        "tunnel_coverage_pct",
        "urban_area_covered_pct",
        "stations_700mhz",
    }
)
#: What feeds a measurable metric, said when a run did not measure it.
FED_BY = {
    "expressway_coverage_pct": "--roads (bundled for Jiangsu and Jiangxi)",
    "ports_covered_pct": "--ports (bundled for Jiangsu and Jiangxi)",
    "rsu_road_km": "--rsu",
    "county_seats_covered_pct": "county boundaries (--level county)",
    "poi_covered_pct": "--places FILE[:class]",
    "scenic_5a_covered_pct": "--places scenic.csv:scenic_spot",
    "airports_covered_pct": "--places (civil airports are bundled)",
    "campus_covered_pct": "--places campuses.csv:campus",
    "hospital_covered_pct": "--places hospitals.csv:hospital",
    "main_road_coverage_pct": "--roads FILE:main_road (e.g. an .osm.pbf extract)",
    "railway_coverage_pct": "--roads FILE:railway (e.g. an .osm.pbf extract)",
    "metro_coverage_pct": "--roads FILE:metro (e.g. an .osm.pbf extract)",
    "tunnel_coverage_pct": "--roads FILE:tunnel (e.g. an .osm.pbf extract)",
    "urban_area_covered_pct": "--urban-areas FILE (a proxy is built from the county boundaries)",
    "stations_700mhz": "--sites with a band column",
}
#: Metrics of targets the plans count in projects, scenarios or pilot zones:
#: listed in the scorecard, never measured.  A metric in neither set is a typo.
COUNTED = frozenset(
    {
        "iiot_pilot_zones",
        "innovation_zones",
        "port_city_platforms",
        "private_network_zones",
        "regional_benchmarks",
        "smart_port_scenarios",
        "v2x_pilot_zones",
        "v2x_scenarios",
        "vr_pilot_areas",
        "vpn_networks",
    }
)
_REQUIRED_PLAN = ("id", "name_zh", "name_en", "province", "targets")
_REQUIRED_TARGET = ("id", "metric", "op", "threshold", "unit", "section", "quote")


@dataclass(frozen=True)
class Target:
    """One target of a plan.

    Attributes
    ----------
    id, metric : str
        The target's id within the plan, and the geo5g metric it is measured by.
    op : {">", ">="}
        ``">"`` for the plans' 超过 ("more than"), ``">="`` for 不少于/以上.
    threshold : float
    unit, applies_to : str
    quantified : bool
        False when the plan states the aim without a number and geo5g applies
        the yardstick in ``threshold``.
    section, quote : str
        Where in the plan's text the target is, and its words.
    description_en : str
    """

    id: str
    metric: str
    op: str
    threshold: float
    unit: str
    section: str
    quote: str
    applies_to: str = ""
    quantified: bool = True
    description_en: str = ""


@dataclass(frozen=True)
class Plan:
    """A plan and its targets (immutable)."""

    id: str
    name_zh: str
    name_en: str
    province: str
    targets: tuple[Target, ...]
    document: str = ""
    horizon: str = ""
    source: str = ""

    @property
    def density_target(self) -> Target:
        """The stations-per-10k target (every plan has one)."""
        for t in self.targets:
            if t.metric == "stations_per_10k":
                return t
        raise PlanError(f"plan {self.id!r} has no stations_per_10k target")

    def target(self, metric: str) -> Target | None:
        """The first target measured by ``metric``, or None."""
        return next((t for t in self.targets if t.metric == metric), None)


def _builtin_dir():
    return resources.files("geo5g") / "plans"


def available_plans() -> tuple[str, ...]:
    """Ids of the built-in plans, sorted."""
    return tuple(
        sorted(
            p.name.removesuffix(".toml")
            for p in _builtin_dir().iterdir()
            if p.name.endswith(".toml")
        )
    )


def default_plan(province: str) -> str:
    """Id of the built-in plan for a province pinyin name (the national 2025 plan otherwise)."""
    return {"jiangsu": "jiangsu-2024", "jiangxi": "jiangxi-2023"}.get(province, "national-2025")


def load_plan(name_or_path) -> Plan:
    """Load a built-in plan by id, or a plan TOML file by path.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A built-in id (see :func:`available_plans`) or a path to a ``.toml`` file.

    Returns
    -------
    Plan

    Raises
    ------
    PlanError
        Unknown id, or a file that is not a valid plan (every problem listed).
    InputError
        A path that does not exist.
    """
    text_name = str(name_or_path)
    if text_name in available_plans():
        source = f"plan {text_name}"
        text = (_builtin_dir() / f"{text_name}.toml").read_text(encoding="utf-8")
    elif text_name.endswith(".toml") or Path(text_name).exists():
        path = Path(text_name)
        if not path.is_file():
            raise InputError(f"{path}: plan file not found")
        source = str(path)
        text = _read_plan_text(path)
    else:
        raise PlanError(
            f"unknown plan {text_name!r}; built-in plans: {', '.join(available_plans())} "
            "(or give the path of a plan .toml file)"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{source}: not valid TOML ({exc})") from None
    return _plan_from_dict(data, source)


def _read_plan_text(path: Path) -> str:
    # Notepad on Chinese Windows saves GBK; GB18030 is its superset.
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise PlanError(f"{path}: not UTF-8 or GBK/GB18030 text; save the plan as UTF-8")


def _plan_from_dict(data: Mapping, source: str) -> Plan:
    problems = [f"missing key {k!r}" for k in _REQUIRED_PLAN if k not in data]
    raw_targets = data.get("targets", [])
    if not isinstance(raw_targets, list) or not all(isinstance(t, dict) for t in raw_targets):
        problems.append(
            "'targets' must be a list of tables: write each target as a [[targets]] block"
        )
        raw_targets = []
    targets = []
    for i, raw in enumerate(raw_targets, start=1):
        missing = [k for k in _REQUIRED_TARGET if k not in raw]
        if missing:
            problems.append(f"target {i} misses {', '.join(missing)}")
            continue
        tid = raw["id"]
        metric = raw["metric"]
        if not isinstance(metric, str) or metric not in MEASURABLE | COUNTED:
            problems.append(
                f"target {tid!r}: unknown metric {metric!r}; measurable metrics are "
                f"{', '.join(sorted(MEASURABLE))} (counted ones: {', '.join(sorted(COUNTED))})"
            )
        if raw["op"] not in _OPS:
            problems.append(
                f"target {tid!r}: op {raw['op']!r} is not one of {', '.join(_OPS)}"
                " ('>' for 超过, '>=' for 不少于/以上)"
            )
        threshold = raw["threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            problems.append(
                f"target {tid!r}: threshold {threshold!r} is not a number; write it without quotes"
            )
            continue
        if not math.isfinite(threshold):
            problems.append(f"target {tid!r}: threshold {threshold!r} is not a finite number")
            continue
        targets.append(
            Target(
                id=str(tid),
                metric=str(metric),
                op=str(raw["op"]),
                threshold=float(threshold),
                unit=str(raw["unit"]),
                section=str(raw["section"]),
                quote=str(raw["quote"]),
                applies_to=str(raw.get("applies_to", "")),
                quantified=bool(raw.get("quantified", True)),
                description_en=str(raw.get("description_en", "")),
            )
        )
    if "targets" in data and not any(t.metric == "stations_per_10k" for t in targets):
        problems.append("no target with metric 'stations_per_10k'")
    ids = [t.id for t in targets]
    dups = sorted({i for i in ids if ids.count(i) > 1})
    if dups:
        problems.append(f"duplicate target ids {', '.join(map(repr, dups))}")
    if problems:
        raise PlanError(f"{source}: " + "; ".join(problems))
    return Plan(
        id=str(data["id"]),
        name_zh=str(data["name_zh"]),
        name_en=str(data["name_en"]),
        province=str(data["province"]),
        targets=tuple(targets),
        document=str(data.get("document", "")),
        horizon=str(data.get("horizon", "")),
        source=str(data.get("source", "")),
    )


def check_plan_area(plan: Plan, provinces) -> None:
    """Refuse a plan measured over an area it was not written for.

    Parameters
    ----------
    plan : Plan
        Its ``province`` is a pinyin name, or ``"all"`` for a national plan
        (which applies to any area: it is the national yardstick).
    provinces : sequence of geo5g.registry.Province
        The area of the run.

    Raises
    ------
    PlanError
        A provincial plan over another province, or over several provinces.
    """
    want = plan.province.strip().lower()
    if want in ("all", "china", "national"):
        return
    names = [p.pinyin for p in provinces]
    if names == [want]:
        return
    area = names[0] if len(names) == 1 else f"{len(names)} provinces"
    raise PlanError(
        f"plan {plan.id!r} is {want}'s plan but the area is {area}; use --province {want}, "
        f"or a plan for the area (--plan national-2025, or your own .toml)"
    )


def meets(value, op: str, threshold: float):
    """Whether ``value`` meets ``op threshold``; NA where value is NaN.

    Works on scalars and arrays/Series (returns a nullable boolean array then).
    """
    arr = np.atleast_1d(np.asarray(value, dtype="float64"))
    ok = arr > threshold if op == ">" else arr >= threshold
    res = pd.array(ok, dtype="boolean")
    res[np.isnan(arr)] = pd.NA
    if np.ndim(value) == 0:
        return res[0]
    return res


def compare(plan: Plan, measured: Mapping[str, float], notes: Mapping[str, str] | None = None):
    """Compare measured values with every target of ``plan``.

    Parameters
    ----------
    plan : Plan
    measured : mapping of str to float
        Measured value per metric name (``stations_per_10k``, ``rsu_road_km``,
        ``expressway_coverage_pct`` …). Metrics not given are reported as not
        measurable (NaN, ``met`` NA).
    notes : mapping of str to str, optional
        Extra note per metric (e.g. "schematic roads").

    Returns
    -------
    pandas.DataFrame
        One row per target: ``target_id, description, section, metric, op,
        threshold, unit, measured, met, note``.
    """
    notes = dict(notes or {})
    rows = []
    for t in plan.targets:
        value = measured.get(t.metric, math.nan)
        value = math.nan if value is None else float(value)
        note = notes.get(t.metric, "")
        if math.isnan(value) and not note:
            note = (
                "not measured in this run: its input was not given"
                + (f" ({FED_BY[t.metric]})" if t.metric in FED_BY else "")
                if t.metric in MEASURABLE
                else "a count of projects: not measurable from spatial layers"
            )
        if not t.quantified:
            note = "; ".join(
                x for x in (note, "no figure in the plan: yardstick set by geo5g") if x
            )
        rows.append(
            {
                "target_id": t.id,
                "description": f"{t.quote} — {t.description_en}",
                "section": t.section,
                "metric": t.metric,
                "op": t.op,
                "threshold": t.threshold,
                "unit": t.unit,
                "measured": value,
                "met": meets(value, t.op, t.threshold),
                "note": note,
            }
        )
    df = pd.DataFrame(rows)
    df["met"] = df["met"].astype("boolean")
    return df
