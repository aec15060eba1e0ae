"""Benchmark of issue 12: migration and apply vs a single run, and the 24-point trend.

Every measurement is a fresh child process (`python -m segmentation ...`), the kinds interleaved
within each repetition so that a change of machine load hits them alike; medians are reported
with the load averages seen. Phases (prepare, compare, trend) are timed in one child process.

    python benchmarks/migration.py --cases xlsx csv --runs 3
    python benchmarks/migration.py --cases parquet-10M --runs 1      # needs /tmp/segmenter-bench/demo_10M.parquet
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
WORK = Path(os.environ.get("SEGMENTER_BENCH_DIR", "/tmp/segmenter-bench"))
CASES = {  # name: (file, --compare-to date)
    "xlsx": (DATA / "online_retail.xlsx", "2011-09-01"),
    "csv": (DATA / "online_retail.csv.gz", "2011-09-01"),
    "parquet-10M": (WORK / "demo_10M.parquet", None),
    "parquet-50M": (WORK / "demo_50M.parquet", None),
}

PHASES = r'''
import json, sys, time
from datetime import date, timedelta
t = time.perf_counter()
from segmentation import columns, largefile, migration, pipeline
path, compare_to = sys.argv[1], sys.argv[2]
loaded = largefile.read_file_or_stream(path)
roles = columns.resolve_roles(loaded.preview().rows, None)  # a LargeFile holds no whole table
prepared = pipeline.prepare(loaded, roles, with_products=False)
T = {"read+prepare": time.perf_counter() - t}
date_a = date.fromisoformat(compare_to) if compare_to != "-" else prepared.snapshot - timedelta(days=90)
t = time.perf_counter()
frozen = pipeline.run_prepared(prepared, k=4).saved_segmentation()
T["fit K=4 (scan included)"] = time.perf_counter() - t
t = time.perf_counter()
moved = migration.compare(prepared.purchases, date_a=date_a, date_b=prepared.snapshot, segmentation=frozen)
T["compare (as-of query + apply both dates)"] = time.perf_counter() - t
t = time.perf_counter()
ends = migration.trend_dates(prepared.date_min, prepared.snapshot)
trend = migration.trend(prepared.purchases, frozen, ends)
T[f"trend ({len(ends)} month ends, one query)"] = time.perf_counter() - t
# The 24-point trend (two years of month ends; the data's first year has no purchases yet):
# the cost of the longest trend the Changes page and --report draw.
t = time.perf_counter()
ends24 = migration.trend_dates(date(prepared.snapshot.year - 2, prepared.snapshot.month, 1), prepared.snapshot,
                               points=24)
trend24 = migration.trend(prepared.purchases, frozen, ends24)
T[f"trend ({len(ends24)} month ends, one query)"] = time.perf_counter() - t
T["customers"] = len(prepared.customers)
print(json.dumps(T))
'''


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=7200)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started


def run_case(name: str, runs: int, folder: Path) -> dict:
    path, compare_to = CASES[name]
    if not path.is_file():
        return {"case": name, "skipped": f"{path} is absent"}
    compare_to = compare_to or "-"
    seg = folder / f"{name}.json"
    cli = [sys.executable, "-m", "segmentation", str(path), "--quiet", "--out", str(folder / "c.csv"),
           "--report", str(folder / "r.json")]
    subprocess.run(cli[:4] + ["--k", "4", "--save-segmentation", str(seg)], check=True, capture_output=True,
                   cwd=REPO)
    if compare_to == "-":  # 90 days before the snapshot, which one run tells
        subprocess.run(cli[:4] + ["--k", "4", "--report", str(folder / "r.json")], check=True, capture_output=True,
                       cwd=REPO)
        snapshot = date.fromisoformat(json.loads((folder / "r.json").read_text())["snapshot"])
        compare_to = (snapshot - timedelta(days=90)).isoformat()
    kinds = {
        "single run (--k 4)": cli + ["--k", "4"],
        "single run + --compare-to/--migration (fit as of A)": cli + ["--k", "4", "--compare-to", compare_to,
                                                                      "--migration", str(folder / "m.csv")],
        "apply --segmentation": cli + ["--segmentation", str(seg)],
        "apply --segmentation + --compare-to/--migration": cli + ["--segmentation", str(seg), "--compare-to",
                                                                  compare_to, "--migration", str(folder / "m.csv")],
    }
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    loads = []
    for _ in range(runs):
        for kind, cmd in kinds.items():
            loads.append(os.getloadavg()[0])
            times[kind].append(timed(cmd))
    phases = subprocess.run([sys.executable, "-c", PHASES, str(path), compare_to], capture_output=True, text=True,
                            cwd=REPO, timeout=7200, env={**os.environ, "PYTHONPATH": str(REPO)})
    return {"case": name, "compare_to": compare_to, "runs": runs,
            "cli_median_s": {kind: round(statistics.median(values), 2) for kind, values in times.items()},
            "phases_s": json.loads(phases.stdout.strip().splitlines()[-1]) if phases.returncode == 0 else
            phases.stderr[-500:],
            "load_min_max": [round(min(loads), 1), round(max(loads), 1)]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", default=["xlsx", "csv"], choices=sorted(CASES))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="segmenter-migration-") as folder:
        results = [run_case(name, args.runs, Path(folder)) for name in args.cases]
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
