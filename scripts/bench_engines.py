"""Time the same cleaning + RFM expressions on DuckDB and on Spark local over one Parquet file.

    python scripts/bench_engines.py --rows 50000000                # generates /tmp/segmenter-engines/demo_50M.parquet
    python scripts/bench_engines.py --rows 1000000 --engines duckdb spark --master 'local[2]'

Each engine runs in a fresh child process: wall time from start to the per-customer table
(imports, Spark/JVM start-up and reading included; the K scan is not, it is the same
scikit-learn code for every engine), peak memory of the child plus the JVM it started (VmHWM),
and the load average, since the machine may be shared. The data are never written into the repo.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
WORK = Path(os.environ.get("SEGMENTER_ENGINES_DIR", "/tmp/segmenter-engines"))

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
engine, path, master, memory = sys.argv[1:5]
from segmentation import sources
if engine == "duckdb":
    import ibis
    con = ibis.duckdb.connect(memory_limit=memory.upper().replace("G", "GB"))  # same memory as Spark's driver
    table = con.read_parquet(path)
else:
    session = sources.spark_session(master, driver_memory=memory)
    con = sources.connect_spark(session)
    table = sources.read_spark(con, path)
roles = sources.table_roles(table)
prepared = sources.prepare_table(table, roles)
elapsed = time.perf_counter() - t0
import os
def peak_kb(pid):  # VmHWM: the process's peak resident memory
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return 0
def children(pid):
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        yield int(entry)
            except (OSError, IndexError, ValueError):
                pass
peak = peak_kb(os.getpid()) + sum(peak_kb(child) for child in children(os.getpid()))  # + the JVM
print(json.dumps({"seconds": elapsed, "customers": len(prepared.customers), "rows_in": prepared.audit.rows_in,
                  "monetary": round(float(prepared.customers["monetary"].sum()), 2), "peak_rss_mb": peak // 1024}))
"""


def _label(rows: int) -> str:
    return f"{rows // 1_000_000}M" if rows % 1_000_000 == 0 else str(rows)


def ensure_data(rows: int) -> Path:
    from segmentation.demo import write_demo_parquet

    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"demo_{_label(rows)}.parquet"
    if not path.exists():
        t0 = time.perf_counter()
        partial = path.with_suffix(".partial")
        write_demo_parquet(partial, rows)
        partial.rename(path)
        print(f"generated {path} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return path


def run_child(engine: str, path: Path, master: str, memory: str) -> dict:
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, engine, str(path), master, memory], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{engine} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])  # peak_rss_mb: the child + the JVM it started
    result.update(engine=engine, wall_seconds=round(wall, 1), load_before=round(load, 2),
                  load_after=round(os.getloadavg()[0], 2), master=master if engine == "spark" else None)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--engines", nargs="+", default=["duckdb", "spark"], choices=["duckdb", "spark"])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="4g", help="Spark driver heap; also DuckDB's memory_limit")
    parser.add_argument("--json", type=Path, default=WORK / "engines.json")
    args = parser.parse_args()
    path = ensure_data(args.rows)
    results = []
    for engine in args.engines:
        result = run_child(engine, path, args.master, args.driver_memory)
        result["rows"] = args.rows
        print(json.dumps(result), flush=True)
        results.append(result)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
