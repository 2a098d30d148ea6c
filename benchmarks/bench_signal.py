"""Benchmark: the best-server SS-RSRP GeoTIFF (``geo5g coverage-raster``) at scale.

Not part of the test suite. Run from the repository root::

    python benchmarks/bench_signal.py                     # Jiangsu at 100 m and 500 m
    python benchmarks/bench_signal.py --nation            # and the nation at 500 m
    python benchmarks/bench_signal.py --case jiangsu:500  # one case

Each case runs in a fresh Python process, so its peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``: the whole process, the inputs, numba
and GDAL included) is its own. A case builds the bundled demo run
(``run(Request(province=...), "gaps")``; the nation: ``"report"``, as no
roads are bundled for it) and times :func:`geo5g.pipeline.signal_map`,
the function the CLI's ``coverage-raster`` calls, writing the GeoTIFF to a temporary
directory. The numba kernel is compiled (and cached on disk) by a warm-up process
first, so the figures are those of every run after the first. Figures go to
``benchmarks/results/signal.json`` and ``signal.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
CASES = ("jiangsu:100", "jiangsu:500")
NATION = "all:500:report"  # no bundled roads for the nation: "gaps" cannot run
TARGETS = {"jiangsu:100": (30.0, 2048.0), "all:500:report": (60.0, None)}  # (s, MB) of the issue


def _one(case: str) -> dict:
    """Run one case in this process and return its figures."""
    import numpy as np
    import rasterio

    from geo5g._memory import prepare_process
    from geo5g.pipeline import Request, run, signal_map

    prepare_process()  # as the CLI's main() does first
    province, res, command = ([*case.split(":"), "gaps"])[:3]
    t0 = time.perf_counter()
    results = run(Request(province=province), command)
    prep = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rsrp.tif"
        t0 = time.perf_counter()
        signal_map(results, out, resolution_m=float(res))
        wall = time.perf_counter() - t0
        with rasterio.open(out) as src:
            height, width = src.height, src.width
            rsrp = src.read(1)
        covered = float(np.count_nonzero(rsrp >= -105.0)) / rsrp.size
        size_mb = out.stat().st_size / 2**20
    return {
        "case": case,
        "province": province,
        "run_command": command,
        "resolution_m": float(res),
        "sites": len(results.inputs.sites),
        "pixels": int(height * width),
        "shape": [int(height), int(width)],
        "prepare_s": round(prep, 2),
        "signal_map_s": round(wall, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "share_ge_threshold": round(covered, 4),
        "geotiff_mb": round(size_mb, 1),
    }


def _spawn(case: str) -> dict:
    cmd = [sys.executable, __file__, "--one", case]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _warm_up() -> None:
    """Compile the kernel (numba caches it on disk) in a throw-away process."""
    code = (
        "import numpy as np, pandas as pd\n"
        "from geo5g.linkbudget import LinkBudgetModel, load_link_budget\n"
        "from geo5g.project import metric_crs, transform_xy\n"
        "from geo5g.signal import signal_raster\n"
        "crs = metric_crs((118.9, 31.9, 119.1, 32.1))\n"
        "x, y = transform_xy([119.0], [32.0], 4326, crs)\n"
        "t = pd.DataFrame({'lon': [119.0], 'lat': [32.0], 'operator': ['China Mobile']})\n"
        "t.attrs['crs'] = 'EPSG:4326'\n"
        "b = (x[0] - 2000, y[0] - 2000, x[0] + 2000, y[0] + 2000)\n"
        "signal_raster(t, LinkBudgetModel(load_link_budget()), np.array([True]),\n"
        "              bounds=b, crs=crs, resolution_m=100)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _machine() -> dict:
    import numba
    import numpy

    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
    }


def _machine_line(m: dict) -> str:
    """The machine of :func:`_machine` as one line of Markdown."""
    return (
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; {m['os']}; "
        f"Python {m['python']}, numpy {m['numpy']}, numba {m['numba']}."
    )


def _markdown(report: dict) -> str:
    lines = [
        "# Signal raster benchmark (`signal_map`, the CLI's `coverage-raster`)",
        "",
        _machine_line(report["machine"]),
        "",
        f"Command: `{report['command']}` (each case in a fresh process; numba kernel "
        "compiled and cached beforehand; peak RSS of the whole process).",
        "",
        "| case | sites | pixels | signal_map (s) | target (s) | peak RSS (MB) | "
        "target (MB) | share ≥ −105 dBm | GeoTIFF (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["cases"]:
        ts, tm = TARGETS.get(r["case"], (None, None))
        lines.append(
            f"| {r['province']} @ {r['resolution_m']:g} m | {r['sites']:,} | {r['pixels']:,} | "
            f"{r['signal_map_s']:.2f} | {ts or '–'} | {r['peak_rss_mb']:.0f} | {tm or '–'} | "
            f"{r['share_ge_threshold']:.3f} | {r['geotiff_mb']:.1f} |"
        )
    lines += ["", "Before (numpy tiles, same machine): " + report.get("before", "not measured"), ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument(
        "--case", action="append", help="province:resolution_m[:run command], repeatable"
    )
    parser.add_argument("--nation", action="store_true", help="also the nation at 500 m")
    parser.add_argument("--before", default=None, help="text on the figures before, for .md")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.one)))
        return
    cases = list(args.case or CASES) + ([NATION] if args.nation else [])
    _warm_up()
    rows = []
    for case in cases:
        row = _spawn(case)
        print(json.dumps(row), flush=True)
        rows.append(row)
    report = {
        "command": "python benchmarks/bench_signal.py" + "".join(f" {a}" for a in (argv or [])),
        "machine": _machine(),
        "cases": rows,
    }
    if args.before:
        report["before"] = args.before
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "signal.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / "signal.md").write_text(_markdown(report))


if __name__ == "__main__":
    main(sys.argv[1:])
