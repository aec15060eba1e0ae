"""Turn benchmarks/run.py results (JSON) into the Markdown tables of BENCHMARKS.md.

    python benchmarks/to_markdown.py /tmp/segmenter-bench/results_main.json [more.json ...]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def fmt(value, spec: str, suffix: str = "") -> str:
    return "–" if value is None else format(value, spec) + suffix


def main(paths: list[str]) -> None:
    print("| case | rows | customers | CLI s (median) | CLI peak MiB | rows/s | baseline s | × baseline "
          "| baseline 1 thread s | × 1-thread | loads (min–max) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    phase_lines = []
    for path in paths:
        data = json.loads(Path(path).read_text())
        for r in data["results"]:
            s = r["summary"]
            ph = s.get("phases", {})
            cli = s.get("cli", {})
            base = s.get("baseline", {})
            base1 = s.get("baseline_1thread", {})
            loads = [e["load_before"] for entries in r["runs"].values() for e in entries]
            one = (base1.get("wall_s") / cli["wall_s"]) if base1.get("wall_s") and cli.get("wall_s") else None
            print(f"| {r['case']} | {fmt(ph.get('rows'), ',d')} | {fmt(ph.get('customers'), ',d')} "
                  f"| {fmt(cli.get('wall_s'), '.1f')} | {fmt(cli.get('peak_mib'), ',.0f')} "
                  f"| {fmt(cli.get('rows_per_s'), ',.0f')} | {fmt(base.get('wall_s'), '.1f')} "
                  f"| {fmt(base.get('speedup_of_cli'), '.1f', '×')} | {fmt(base1.get('wall_s'), '.1f')} "
                  f"| {fmt(one, '.1f', '×')} | {min(loads):.1f}–{max(loads):.1f} |")
            phases = ph.get("phases", {})
            if phases:
                extra = ""
                if "compute_vs_pyarrow_parse" in s:
                    extra = (f" | {s['compute_after_read_s']:.2f} s = {s['compute_vs_pyarrow_parse']:.1f}× "
                             f"pyarrow's {s['pyarrow_csv']['parse_s']:.2f} s")
                phase_lines.append((r["case"], phases, ph.get("ok_runs"), ph.get("peak_mib"), extra))
    names = []
    for _, phases, *_ in phase_lines:
        names += [n for n in phases if n not in names]
    print()
    print("| case | " + " | ".join(names) + " | runs | peak MiB | compute after read vs pyarrow parse |")
    print("|---|" + "---:|" * len(names) + "---:|---:|---|")
    for case, phases, runs, peak, extra in phase_lines:
        cells = " | ".join(fmt(phases.get(n), ".2f") for n in names)
        print(f"| {case} | {cells} | {runs} | {fmt(peak, ',.0f')} {extra or '| –'} |")


if __name__ == "__main__":
    main(sys.argv[1:])
