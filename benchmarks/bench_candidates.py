"""Benchmark: candidate sites for the density shortfall (``geo5g candidates --target density``).

Not part of the test suite. Run from the repository root::

    python benchmarks/bench_candidates.py                 # Jiangsu at 100 m and 500 m
    python benchmarks/bench_candidates.py --case 500      # one grid

Each case runs in a fresh Python process (its peak RSS is its own: the inputs, numba
and GDAL included) and does what the CLI does for ``candidates --province jiangsu
--population FILE --target density``: ``run(Request(province="jiangsu",
population=FILE), "report")``, then :func:`geo5g.pipeline.density_candidates` —
timed three times in the process (the first includes loading the compiled lazy
greedy from numba's cache); the median is the figure.

The population raster is the Jiangsu workload's (``benchmarks/workloads.py``, built
on first use into ``benchmarks/_work/jiangsu/``): **SYNTHETIC**, EPSG:4326 at 3″
(≈ 100 m), each city's 2020 census total spread by the smoothed density of synthetic
sites. The sites are the bundled demo sites (also synthetic). Figures go to
``benchmarks/results/candidates.json`` and ``candidates.md``.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_signal import _machine, _machine_line

RESULTS = Path(__file__).resolve().parent / "results"
CASES = ("100", "500")
TARGET_S = {"100": 10.0}  # issue 12: Jiangsu, 100 m raster, ≤ 10 s


def _raster() -> Path:
    from workloads import prepare

    return prepare("jiangsu", log=lambda *_: None).population


def _one(resolution: str) -> dict:
    """Run one case in this process and return its figures."""
    from geo5g._memory import prepare_process
    from geo5g.pipeline import Request, density_candidates, run

    prepare_process()  # as the CLI's main() does first
    raster = _raster()
    t0 = time.perf_counter()
    results = run(Request(province="jiangsu", population=raster), "report")
    prepare_s = time.perf_counter() - t0
    times, found = [], None
    for _ in range(3):
        t0 = time.perf_counter()
        found = density_candidates(results, raster, resolution_m=float(resolution))
        times.append(time.perf_counter() - t0)
    table = results.density.table
    asked = int(table["shortfall"].fillna(0).clip(lower=0).sum())
    return {
        "resolution_m": float(resolution),
        "sites": len(results.inputs.sites),
        "cities_below_target": int((table["shortfall"].fillna(0) > 0).sum()),
        "sites_asked": asked,
        "sites_placed": len(found),
        "people_newly_covered": round(float(found["people"].sum())),
        "prepare_s": round(prepare_s, 2),
        "first_s": round(times[0], 2),
        "median_s": round(statistics.median(times), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _markdown(report: dict) -> str:
    lines = [
        "# Candidate sites for the density shortfall (`density_candidates`)",
        "",
        _machine_line(report["machine"]),
        "",
        f"Command: `{report['command']}` (each case in a fresh process; median of 3 calls "
        "in it; peak RSS of the whole process). Jiangsu, bundled demo sites, the SYNTHETIC "
        "3″ workload population raster.",
        "",
        "| grid | cities below target | sites asked | placed | people newly covered | "
        "first (s) | median (s) | target (s) | peak RSS (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["cases"]:
        target = TARGET_S.get(f"{r['resolution_m']:g}")
        lines.append(
            f"| {r['resolution_m']:g} m | {r['cities_below_target']} | {r['sites_asked']:,} | "
            f"{r['sites_placed']:,} | {r['people_newly_covered']:,} | {r['first_s']:.2f} | "
            f"{r['median_s']:.2f} | {target or '–'} | {r['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    argv = list(argv or [])
    if argv[:1] == ["--one"]:
        print(json.dumps(_one(argv[1])))
        return
    cases = [argv[i + 1] for i, a in enumerate(argv) if a == "--case"] or list(CASES)
    _raster()  # built once, before any timing
    rows = []
    for case in cases:
        done = subprocess.run(
            [sys.executable, __file__, "--one", case], check=True, capture_output=True, text=True
        )
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps(row), flush=True)
        rows.append(row)
    report = {
        "command": "python benchmarks/bench_candidates.py" + "".join(f" {a}" for a in argv),
        "machine": _machine(),
        "cases": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    (RESULTS / "candidates.json").write_text(text)
    (RESULTS / "candidates.md").write_text(_markdown(report))


if __name__ == "__main__":
    main(sys.argv[1:])
