"""Time geo5g's commands as a user runs them: whole process, median of N, peak memory.

    python benchmarks/commands.py    # report (Jiangsu), density --province all; 3 runs each

Each command runs in a fresh ``python -m geo5g`` process; its wall time is measured around the
process (interpreter start and imports included) and its peak resident memory is the child's own
``ru_maxrss`` (``os.wait4``). One untimed run first fills the caches a first run fills (the
national synthetic sites in ``~/.cache/geo5g``, numba's compiled kernels), which the figures
state. Results go to ``benchmarks/results/commands.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

COMMANDS = {
    "report (Jiangsu, bundled data)": ["report", "--out", "{tmp}/report"],
    "density --province all": ["-q", "density", "--province", "all", "-o", "{tmp}/density.csv"],
}
TARGETS_S = {"report (Jiangsu, bundled data)": 3.0, "density --province all": 3.0}


def _once(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak MiB of one ``python -m geo5g`` process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "geo5g", *argv],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"geo5g {' '.join(argv)} failed ({proc.returncode}): {err.strip()}")
    return wall, usage.ru_maxrss / 1024.0


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, template in COMMANDS.items():
            command = [part.format(tmp=tmp) for part in template]
            _once(command)  # warm: caches and compiled kernels, as on a second run
            runs = [_once(command) for _ in range(args.runs)]
            results[label] = {
                "command": "python -m geo5g " + " ".join(template).replace("{tmp}/", ""),
                "wall_s": [round(w, 3) for w, _ in runs],
                "median_s": round(statistics.median(w for w, _ in runs), 3),
                "peak_mib": round(max(m for _, m in runs), 1),
                "target_s": TARGETS_S[label],
            }
            print(f"{label}: median {results[label]['median_s']} s", flush=True)
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
    doc = {"run_at": time.strftime("%Y-%m-%d %H:%M:%S"), "commands": results, "machine": machine}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "commands.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    lines = [
        f"# geo5g commands, whole process ({doc['run_at']})",
        "",
        f"Median of {args.runs} runs after one warm-up run; peak = the process's own max RSS.",
        "",
        "| command | runs (s) | median (s) | target (s) | peak (MiB) |",
        "|---|---|---:|---:|---:|",
    ]
    for r in results.values():
        runs = ", ".join(f"{w:.2f}" for w in r["wall_s"])
        lines.append(
            f"| `{r['command']}` | {runs} | {r['median_s']:.2f} | ≤ {r['target_s']:.0f} "
            f"| {r['peak_mib']:,.0f} |"
        )
    lines += [
        "",
        f"Machine: {machine['cpus']} CPUs, Python {machine['python']}, {machine['platform']}.",
    ]
    (args.out / "commands.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return doc


if __name__ == "__main__":
    main()
