"""geo5g against the naive GeoPandas way, at province and national scale.

Run from the repository root (not part of the test suite)::

    python benchmarks/run.py --scale jiangsu            # ≈ 3 min with the naive side
    python benchmarks/run.py --scale national           # ≈ 10 min; naive gaps on a 5 % sample
    python benchmarks/run.py --scale national --skip-naive

1. The workload is generated reproducibly (seeded) into ``benchmarks/_work/<scale>/``
   (``benchmarks/workloads.py``), or reused when its manifest matches.
2. geo5g's analysis runs in a fresh process, stage by stage (``benchmarks/sides.py``),
   recording wall time and the process's peak resident memory (``ru_maxrss``).
3. The naive reference (:mod:`geo5g.reference`: sjoin, buffer every site, union_all,
   difference, rasterise the union) runs on the same inputs in another fresh
   process, so that its memory does not count against geo5g's; it is stopped after
   ``--naive-timeout`` seconds and keeps the stages it finished.
   With ``--naive-sample F < 1`` the naive *gaps* and *population coverage* run on a
   window holding the fraction F of the sites (both sides are checked on that same
   window); their full-scale time is extrapolated linearly in the number of sites
   and labelled so (the union of buffers grows faster than linearly, so this is
   generous to the naive side).
4. Agreement: stations per city exactly equal; gap km, RSU km and covered
   population within 0.5 %; port distances equal and coverage flags the same.

Figures go to ``<out>/<scale>.json`` and ``<out>/<scale>.md`` and are printed.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and sys.argv[1:3] == ["--side", "geo5g"]:
    # geo5g's side starts as `python -m geo5g` does: the memory options before any
    # library is imported (geo5g/__main__.py says why)
    from geo5g._memory import prepare_process

    prepare_process()

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from workloads import PROVENANCE, SCALES, WORK, prepare  # noqa: E402

# the stages of geo5g.pipeline.run, as the CLI's report runs them, then the page
STAGES = (
    "read",
    "project",
    "reach",
    "density",
    "gaps",
    "ports",
    "poi",
    "rsu",
    "popcover",
    "compare",
    "render",
)
ANALYSIS = STAGES[:-1]  # the targets exclude writing the report
TOLERANCE = 0.005  # relative, for gap km, RSU km and covered population
DEFAULT_SAMPLE = {"jiangsu": 1.0, "national": 0.05}
DEFAULT_TIMEOUT = {"jiangsu": 900.0, "national": 1800.0}


# --------------------------------------------------------------------------- helpers


def _machine() -> dict:
    import geopandas
    import pandas
    import pyogrio
    import pyproj
    import rasterio
    import scipy
    import shapely

    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    libs = (np, pandas, geopandas, shapely, pyproj, pyogrio, rasterio, scipy)
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(int(mem) / 2**20, 1),
        "load_avg_at_start": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {m.__name__: m.__version__ for m in libs},
    }


def _sample_window(sites_path: Path, fraction: float, seed: int):
    """A lon/lat rectangle holding about ``fraction`` of the sites, around a seeded site."""
    import pyarrow.parquet as pq

    geom = pq.read_table(sites_path, columns=["geometry"]).column("geometry").combine_chunks()
    lon = geom.field("x").to_numpy()
    lat = geom.field("y").to_numpy()
    rng = np.random.default_rng(seed)
    i = int(rng.integers(len(lon)))
    cx, cy = float(lon[i]), float(lat[i])
    aspect = 1.0 / np.cos(np.radians(cy))
    lo, hi = 0.0, 30.0
    for _ in range(40):  # bisection on the half-height in degrees
        h = (lo + hi) / 2
        inside = (np.abs(lon - cx) <= h * aspect) & (np.abs(lat - cy) <= h)
        lo, hi = (h, hi) if inside.mean() < fraction else (lo, h)
    h = hi
    return tuple(round(float(v), 6) for v in (cx - h * aspect, cy - h, cx + h * aspect, cy + h))


def _side(which: str, args, result: Path, window, timeout: float | None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--side", which, "--scale", args.scale]
    cmd += ["--result", str(result), "--quad-segs", str(args.quad_segs)]
    if window is not None:
        cmd += ["--window", ",".join(map(str, window))]
    result.unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()  # only the process this run started
        proc.wait()
        timed_out = True
    data = json.loads(result.read_text(encoding="utf-8")) if result.is_file() else {"stages": {}}
    data.setdefault("notes", {})
    data["process_s"] = round(time.perf_counter() - t0, 1)
    data["returncode"] = proc.returncode
    data["timed_out"] = timed_out
    # killed by a signal (the kernel's out-of-memory killer sends SIGKILL): keep what it did
    data["killed"] = proc.returncode is not None and proc.returncode < 0 and not timed_out
    if proc.returncode and not (timed_out or data["killed"]):
        raise SystemExit(f"the {which} side failed (exit {proc.returncode}); see its output above")
    if data["killed"] and which == "geo5g":
        raise SystemExit(f"the geo5g side was killed (signal {-proc.returncode})")
    return data


def _rel(a: float, b: float) -> float:
    return (a - b) / b if b else (0.0 if a == b else float("inf"))


def _agreement(ours: dict, naive: dict) -> dict:
    """Compare the answers of both sides (only those the naive side got to)."""
    a, n = ours["answers"], naive.get("answers", {})
    out = {}
    if "stations" in n:
        bad = [k for k, v in a["stations"].items() if n["stations"].get(k) != v]
        out["density"] = {
            "geo5g_stations": sum(a["stations"].values()),
            "naive_stations": sum(n["stations"].values()),
            "cities_differing": len(bad),
            "sites_in_several_cities": n.get("sites_in_several_cities"),
            "note": "a site where city polygons overlap counts for the first city listed",
            "ok": not bad,
        }
    for key, label in (("gap_m", "gaps"), ("rsu_m", "rsu"), ("people_covered", "popcover")):
        if key in n:
            rel = _rel(n[key], a[key])
            unit = 1000.0 if key != "people_covered" else 1.0
            out[label] = {
                "geo5g": round(a[key] / unit, 3),
                "naive": round(n[key] / unit, 3),
                "unit": "km" if unit > 1 else "people",
                "rel_diff_pct": round(100 * rel, 3),
                "ok": abs(rel) <= TOLERANCE,
            }
    if "ports" in n:
        # ports of the checked area (the sample window, or all): the naive side measures
        # them in one transverse Mercator of that area
        w = np.asarray(a["ports"].get("in_window", [True] * len(a["ports"]["distance_m"])))
        da = np.asarray(a["ports"]["distance_m"], dtype=float)[w]
        dn = np.asarray(n["ports"]["distance_m"], dtype=float)[w]
        sa = np.asarray(a["ports"]["covered_share"], dtype=float)[w]
        sn = np.asarray(n["ports"]["covered_share"], dtype=float)[w]
        point = np.asarray(a["ports"]["point"], dtype=bool)[w]
        flips = int(((sa[point] >= 0.5) != (sn[point] >= 0.5)).sum())
        share_diff = float(np.max(np.abs(sa[~point] - sn[~point]))) if (~point).any() else 0.0
        dist_diff = float(np.nanmax(np.abs(da - dn))) if len(da) else 0.0
        out["ports"] = {
            "max_distance_diff_m": round(dist_diff, 3),
            "points_flag_differing": flips,
            "areas_max_share_diff": round(share_diff, 4),
            "note": "areas: share of a ~1,000-point grid (geo5g) vs exact area (naive)",
            "ports_checked": int(w.sum()),
            "ok": bool(
                dist_diff <= max(1.0, 0.001 * float(np.nanmax(da, initial=0.0)))
                and flips <= max(1, 0.005 * point.sum())
                and share_diff <= 0.05
            ),
        }
    return out


def _elapsed(timed: dict, names) -> float:
    """Seconds from the first of the stages ``names`` starting to the last ending.

    The pipeline runs the point measures (ports, places) in a worker thread beside the
    line measures, so the stages' own times overlap and their sum would overstate.
    """
    runs = [timed[n] for n in names if n in timed]
    if not runs:
        return 0.0
    if all("start_s" in r for r in runs):
        return round(max(r["end_s"] for r in runs) - min(r["start_s"] for r in runs), 2)
    return round(sum(r["wall_s"] for r in runs), 2)  # a result written before the overlap


def _summary(args, work, window, ours: dict, naive: dict | None) -> dict:
    stages = {}
    n_sites = ours["figures"]["sites"]
    check_sites = ours["answers"]["check_sites"]
    factor = n_sites / check_sites if check_sites else 1.0
    for name in STAGES:
        row = {"geo5g_s": ours["stages"].get(name, {}).get("wall_s")}
        if naive is not None and name in ("reach", "poi", "compare"):
            row["naive_s"] = None
            row["naive_note"] = {
                "reach": "n/a: the naive side is given geo5g's reach per site",
                "poi": "n/a: the naive side measures no places (ports only)",
                "compare": "n/a: a dictionary lookup per target",
            }[name]
        elif naive is not None and name != "render":
            got = naive["stages"].get(name)
            if got is None:
                row["naive_s"] = None
                if naive.get("timed_out"):
                    row["naive_note"] = f"not reached: stopped after {args.naive_timeout:.0f} s"
                elif naive.get("killed"):
                    row["naive_note"] = (
                        f"killed (signal {-naive['returncode']}, out of memory?) after "
                        f"{naive['process_s']:.0f} s in the process"
                    )
                else:
                    row["naive_note"] = "not run"
            else:
                row["naive_s"] = got["wall_s"]
                if window is not None and name in ("gaps", "popcover"):
                    row["naive_sample_s"] = got["wall_s"]
                    row["naive_s"] = round(got["wall_s"] * factor, 1)
                    row["naive_note"] = (
                        f"EXTRAPOLATED ×{factor:.1f} from a {100 * check_sites / n_sites:.1f} % "
                        f"sample ({check_sites:,} sites) timed {got['wall_s']:.1f} s"
                    )
                if naive["notes"].get(name):
                    row["naive_method"] = naive["notes"][name]
            if row.get("naive_s") and row["geo5g_s"]:
                row["ratio"] = round(row["naive_s"] / row["geo5g_s"], 1)
        stages[name] = row
    # every stage the run timed counts (seats, urban areas when the layout has them)
    total = _elapsed(ours["stages"], [n for n in ours["stages"] if n != "render"])
    summary = {
        "scale": args.scale,
        "run_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "workload": {k: v for k, v in work.manifest.items() if k != "scale"}
        | {"synthetic": PROVENANCE},
        "window": window,
        "stages": stages,
        "geo5g": {
            "analysis_s": total,
            "analysis_plus_render_s": round(total + (stages["render"]["geo5g_s"] or 0), 2),
            "peak_rss_mib": max(v["peak_rss_mib"] for v in ours["stages"].values()),
            "peak_rss_mib_before_render": max(
                v["peak_rss_mib"] for k, v in ours["stages"].items() if k != "render"
            ),
            "html_mib": ours.get("html_mib"),
            "figures": ours["figures"],
            "process_s": ours["process_s"],
        },
        "targets": {
            "analysis_s": 1.0 if args.scale == "jiangsu" else 8.0,
            "peak_rss_mib": 2048 if args.scale == "national" else None,
        },
    }
    if naive is not None:
        done = [s for s in ANALYSIS if stages[s].get("naive_s") is not None]
        summary["naive"] = {
            "analysis_s": round(sum(stages[s]["naive_s"] for s in done), 1),
            "stages_done": done,
            "complete": len(done) == len(ANALYSIS) - 3,  # all but reach, poi and compare
            "peak_rss_mib": max(
                (v["peak_rss_mib"] for v in naive["stages"].values()), default=None
            ),
            "timed_out": naive["timed_out"],
            "killed": naive["killed"],
            "quad_segs": args.quad_segs,
            "process_s": naive["process_s"],
        }
        summary["ratio"] = round(summary["naive"]["analysis_s"] / total, 1)
        summary["agreement"] = _agreement(ours, naive)
    summary["machine"] = _machine()
    return summary


def _fmt(v, digits=2):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}" if isinstance(v, float) else f"{v:,}"


def markdown(s: dict) -> str:
    """The summary as a short markdown page."""
    w, g = s["workload"], s["geo5g"]
    lines = [
        f"# geo5g benchmark — {s['scale']} ({s['run_at']})",
        "",
        f"Workload (SYNTHETIC, seeded): {w['cities']} cities, {w['sites']:,} sites, "
        f"{w['road_km']:,.0f} km of road ({w['road_vertices']:,} vertices), {w['ports']:,} "
        f"ports ({w['port_areas']:,} areas), {w['rsu']:,} RSUs, population raster "
        f"{w['raster']['width']:,} × {w['raster']['height']:,} at {w['raster']['arcsec']:g}″.",
        "",
        "| stage | geo5g (s) | naive (s) | naive / geo5g | naive method |",
        "|---|---:|---:|---:|---|",
    ]
    for name, row in s["stages"].items():
        note = row.get("naive_method", "")
        if row.get("naive_note"):
            note = (note + "; " if note else "") + row["naive_note"]
        lines.append(
            f"| {name} | {_fmt(row['geo5g_s'], 3)} | {_fmt(row.get('naive_s'), 1)} | "
            f"{_fmt(row.get('ratio'), 1)} | {note} |"
        )
    n = s.get("naive", {})
    ratio = f"{s['ratio']:.1f}×" if "ratio" in s else "—"
    partial = "" if n.get("complete", True) else "naive stages done: " + ", ".join(n["stages_done"])
    lines += [
        f"| **analysis total (excl. render)** | **{g['analysis_s']:.2f}** | "
        f"**{_fmt(n.get('analysis_s'), 1)}** | **{ratio}** | "
        f"{partial} |",
        "",
        f"Peak memory (max RSS of each side's own process): geo5g {g['peak_rss_mib']:,.0f} MiB "
        f"({g['peak_rss_mib_before_render']:,.0f} MiB before render), naive "
        f"{_fmt(n.get('peak_rss_mib'), 0)} MiB. HTML report: {g['html_mib']} MiB. "
        f"Targets: analysis ≤ {s['targets']['analysis_s']:g} s"
        + (
            f", peak ≤ {s['targets']['peak_rss_mib']:,} MiB."
            if s["targets"]["peak_rss_mib"]
            else "."
        ),
    ]
    if "agreement" in s:
        lines += ["", "| check | geo5g | naive | difference | agrees |", "|---|---:|---:|---|---|"]
        for name, a in s["agreement"].items():
            if name == "density":
                several = a.get("sites_in_several_cities") or 0
                row = (
                    f"| stations per city | {a['geo5g_stations']:,} | {a['naive_stations']:,} | "
                    f"{a['cities_differing']} cities differ"
                    + (
                        f" ({several:,} sites where city polygons overlap: first city)"
                        if several
                        else ""
                    )
                    + " |"
                )
            elif name == "ports":
                row = (
                    f"| ports | | | distance ≤ {a['max_distance_diff_m']} m, "
                    f"{a['points_flag_differing']} point flags, area share ≤ "
                    f"{a['areas_max_share_diff']} |"
                )
            else:
                row = (
                    f"| {name} ({a['unit']}) | {a['geo5g']:,.3f} | {a['naive']:,.3f} | "
                    f"{a['rel_diff_pct']:+.3f} % |"
                )
            lines.append(row + (" yes |" if a["ok"] else " **NO** |"))
        if s.get("window"):
            lines.append(
                f"\nGaps and population coverage are checked on the sample window "
                f"{s['window']} (lon/lat) on both sides."
            )
    m = s["machine"]
    lines += [
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, load average at "
        f"start {m['load_avg_at_start']}; Python {m['python']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + ".",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="jiangsu")
    parser.add_argument("--skip-naive", action="store_true", help="time geo5g only")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--naive-timeout", type=float, help="seconds (default 900 / 1800)")
    parser.add_argument(
        "--naive-sample",
        type=float,
        help="fraction of the sites for the naive gaps and population coverage "
        "(default 1 for jiangsu, 0.05 for national)",
    )
    parser.add_argument(
        "--quad-segs",
        type=int,
        default=32,
        help="segments per quarter circle of the naive buffers (default 32: GeoPandas' 16 "
        "leaves the polygons 0.5-1 %% short of the disks in gap km)",
    )
    parser.add_argument("--regenerate", action="store_true", help="rebuild the workload")
    parser.add_argument("--side", choices=("geo5g", "naive"), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--window", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.side:  # a child process: one side, results to --result
        from sides import geo5g_side, naive_side

        work = prepare(args.scale, log=lambda *_: None)
        (geo5g_side if args.side == "geo5g" else naive_side)(args, work)
        return None

    args.naive_timeout = args.naive_timeout or DEFAULT_TIMEOUT[args.scale]
    sample = DEFAULT_SAMPLE[args.scale] if args.naive_sample is None else args.naive_sample
    if not 0 < sample <= 1:
        parser.error("--naive-sample must be in (0, 1]")
    work = prepare(args.scale, force=args.regenerate)
    window = None if sample >= 1 else _sample_window(work.sites, sample, work.scale.seed)
    print(f"[{args.scale}] geo5g …", flush=True)
    ours = _side("geo5g", args, WORK / f"{args.scale}_geo5g.json", window, None)
    naive = None
    if not args.skip_naive:
        print(f"[{args.scale}] naive reference (timeout {args.naive_timeout:.0f} s) …", flush=True)
        naive = _side("naive", args, WORK / f"{args.scale}_naive.json", window, args.naive_timeout)
    summary = _summary(args, work, window, ours, naive)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.scale}.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    text = markdown(summary)
    (args.out / f"{args.scale}.md").write_text(text, encoding="utf-8")
    print(text)
    return summary


if __name__ == "__main__":
    main()
