"""Fuzz the readers for a bounded time: every input must give a table or a SegmenterError.

    python benchmarks/fuzz_readers.py --seconds 120            # mutation fuzzing, seeded, no extra packages
    python benchmarks/fuzz_readers.py --atheris --seconds 120  # coverage-guided (pip install atheris)

Inputs are mutated from a seed corpus of real-shaped files (CSV in several dialects and encodings,
gzip, XLSX, zip, Parquet): bit flips, byte insertions and deletions, truncation, splices between
files, repeated chunks, special bytes (NUL, CR, quotes, BOMs, delimiters, huge numbers). Each input
goes through read_file → resolve_roles → to_canonical (and, when that succeeds, the cleaning and RFM
of pipeline.prepare for a sample of inputs). A finding is any exception that is not a
SegmenterError, or one input taking longer than --slow seconds; findings are written to
--out (default benchmarks/fuzz_findings/) as the input bytes plus a .txt with the traceback.
Not part of CI (it runs for as long as you let it).
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import random
import sys
import time
import traceback
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402

from segmentation import columns, parsing, pipeline, reading  # noqa: E402
from segmentation.errors import SegmenterError  # noqa: E402

EXTENSIONS = ["export.csv", "export.xlsx", "export.csv.gz", "export.parquet", "export.txt", "export.zip",
              "export.tsv", "export", "export.xls"]
SPECIAL = [b"\x00", b"\r", b"\n", b"\r\n", b'"', b",", b";", b"\t", b"|", b"\xef\xbb\xbf", b"\xff\xfe",
           b"1e308", b"-0", b"NaN", b"inf", b"9999-12-31", b"00/00/0000", b"\xc3", b"\x80", b"PK\x03\x04",
           b"\x1f\x8b", b"PAR1", b"=cmd|' /C calc'!A0", b"<script>", b"C536365", b"(12.50)", b"1.234,5"]


def seed_corpus() -> list[bytes]:
    header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    lines = "".join(f"{536365 + i},{85123 + i % 3}A,WHITE MUG {i},{1 + i % 6},{1 + i % 28:02d}/12/2010 08:{i % 60:02d},"
                    f"{i % 7}.55,{17850 + i % 5},United Kingdom\n" for i in range(40))
    text = header + lines
    frame = pd.read_csv(io.StringIO(text), dtype=str)
    xlsx, parquet, zipped = io.BytesIO(), io.BytesIO(), io.BytesIO()
    frame.to_excel(xlsx, index=False)
    frame.to_parquet(parquet, index=False)
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.csv", text)
    semicolon = text.replace(",", ";").replace(".55", ",55")
    return [
        text.encode(), semicolon.encode("cp1252"), text.replace(",", "\t").encode("utf-16"),
        b"\xef\xbb\xbf" + text.encode(), gzip.compress(text.encode()), xlsx.getvalue(), parquet.getvalue(),
        zipped.getvalue(), ("Report of sales\n\n" + text).encode(), text.replace("\n", "\r").encode(),
        ("customer|date|amount\n" + "".join(f"c{i}|2011-01-{1 + i % 28:02d}|{i}.5\n" for i in range(30))).encode(),
    ]


def mutate(data: bytes, corpus: list[bytes], rng: random.Random) -> bytes:
    if data.startswith(b"PK\x03\x04") and rng.random() < 0.7:
        return mutate_zip_member(data, corpus, rng)
    return mutate_bytes(data, corpus, rng)


def mutate_zip_member(data: bytes, corpus: list[bytes], rng: random.Random) -> bytes:
    """Mutate one member of a workbook/zip and zip it again (valid CRCs: the XML parser sees it)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    except Exception:
        return mutate_bytes(data, corpus, rng)
    name = rng.choice(sorted(members))
    members[name] = mutate_bytes(members[name], corpus, rng)
    if rng.random() < 0.1:
        members.pop(rng.choice(sorted(members)), None)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as rebuilt:
        for member, body in members.items():
            rebuilt.writestr(member, body)
    return out.getvalue()


def mutate_bytes(data: bytes, corpus: list[bytes], rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(rng.choice([1, 1, 2, 3, 8])):
        op = rng.randrange(8)
        at = rng.randrange(len(data) + 1) if data else 0
        if op == 0 and data:  # flip bits
            data[min(at, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:  # insert a special token
            data[at:at] = rng.choice(SPECIAL)
        elif op == 2 and data:  # delete a run
            del data[at: at + rng.randrange(1, 64)]
        elif op == 3:  # truncate
            data = data[: at]
        elif op == 4:  # splice another file in
            other = rng.choice(corpus)
            start = rng.randrange(len(other))
            data[at:at] = other[start: start + rng.randrange(1, 400)]
        elif op == 5 and data:  # repeat a chunk
            chunk = bytes(data[at: at + rng.randrange(1, 50)])
            data[at:at] = chunk * rng.randrange(2, 200)
        elif op == 6 and data:  # random bytes
            data[at: at + 4] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
        elif op == 7 and data:  # overwrite a byte with a special one
            token = rng.choice(SPECIAL)
            data[at: at + len(token)] = token
    return bytes(data)


def exercise(data: bytes, filename: str, deep: bool) -> str:
    """Run one input through the readers; returns how far it got."""
    try:
        loaded = reading.read_file(data, filename=filename)
        roles = columns.resolve_roles(loaded.table)
        parsing.to_canonical(loaded.table, roles)
        if deep:
            pipeline.prepare(loaded, roles, with_products=True)
            return "prepared"
        return "parsed"
    except SegmenterError:
        return "refused"


class Findings:
    def __init__(self, out: Path):
        self.out = out
        self.seen: set[str] = set()
        self.count = 0

    def record(self, data: bytes, filename: str, problem: str) -> None:
        key = problem.strip().splitlines()[-1][:200]
        if key in self.seen:
            return
        self.seen.add(key)
        self.count += 1
        self.out.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(data).hexdigest()[:12]
        (self.out / f"{digest}_{filename}").write_bytes(data)
        (self.out / f"{digest}_{filename}.txt").write_text(f"{filename}\n{problem}")
        print(f"FINDING {digest}_{filename}: {key}", flush=True)


def run_mutations(seconds: float, seed: int, slow: float, findings: Findings) -> dict[str, int]:
    rng = random.Random(seed)
    corpus = seed_corpus()
    outcomes: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        data = mutate(rng.choice(corpus), corpus, rng)
        filename = rng.choice(EXTENSIONS)
        started = time.monotonic()
        try:
            outcome = exercise(data, filename, deep=n % 10 == 0)
        except Exception:
            outcome = "crashed"
            findings.record(data, filename, traceback.format_exc())
        except BaseException as exc:  # a Rust panic (pyo3 PanicException) is a BaseException
            if isinstance(exc, KeyboardInterrupt):
                raise
            outcome = "crashed"
            findings.record(data, filename, traceback.format_exc())
        elapsed = time.monotonic() - started
        if elapsed > slow:
            findings.record(data, filename, f"slow: {elapsed:.1f} s ({outcome})")
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if outcome in ("parsed", "prepared") and rng.random() < 0.05 and len(corpus) < 200:
            corpus.append(data)  # keep inputs that got through as new seeds
    outcomes["inputs"] = n
    return outcomes


def run_atheris(seconds: float, findings: Findings) -> None:  # pragma: no cover - optional
    import atheris

    def one(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        filename = EXTENSIONS[fdp.ConsumeIntInRange(0, len(EXTENSIONS) - 1)]
        body = fdp.ConsumeBytes(fdp.remaining_bytes())
        try:
            exercise(body, filename, deep=False)
        except Exception:
            findings.record(body, filename, traceback.format_exc())
            raise

    corpus_dir = REPO / "benchmarks" / "fuzz_corpus"
    corpus_dir.mkdir(exist_ok=True)
    for i, data in enumerate(seed_corpus()):
        (corpus_dir / f"seed{i}").write_bytes(b"\x00" + data)
    atheris.instrument_all()
    atheris.Setup([sys.argv[0], str(corpus_dir), f"-max_total_time={int(seconds)}", "-rss_limit_mb=4096"], one)
    atheris.Fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="how long to fuzz (default 120)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the mutations (default 0)")
    parser.add_argument("--slow", type=float, default=10.0, help="an input slower than this is a finding")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "fuzz_findings")
    parser.add_argument("--atheris", action="store_true", help="coverage-guided with atheris instead")
    args = parser.parse_args()
    findings = Findings(args.out)
    if args.atheris:
        run_atheris(args.seconds, findings)
        return 0
    started = time.monotonic()
    outcomes = run_mutations(args.seconds, args.seed, args.slow, findings)
    print(f"{outcomes['inputs']:,} inputs in {time.monotonic() - started:.0f} s: "
          + ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items()) if k != "inputs")
          + f"; {findings.count} finding(s)")
    return 1 if findings.count else 0


if __name__ == "__main__":
    sys.exit(main())
