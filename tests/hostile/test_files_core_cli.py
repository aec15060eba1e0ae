"""Every hostile file of cases.py through the core (read_file → pipeline.run) and the CLI.

Refused files: a typed SegmenterError with the expected message and a hint; from the CLI one
line `error: …` on stderr, exit 2, nothing on stdout and no output file. Accepted messy files:
the note or warning the user sees, and every row accounted for (rows in = kept + dropped).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from segmentation import errors, pipeline, reading
from segmentation.cli import main
from segmentation.settings import CleaningSettings
from tests.hostile.cases import ACCEPTED_CASES, ERROR_CASES, Case, by_id

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def limits(monkeypatch):
    def apply(case: Case) -> None:
        for name, value in case.limits.items():
            monkeypatch.setattr(reading, name, value)
    return apply


def core_run(case: Case) -> pipeline.Result:
    """What the app does with an upload: bytes in, the whole pipeline, the case's settings."""
    args = dict(zip(case.args[::2], case.args[1::2]))
    loaded = reading.read_file(case.build(), filename=case.filename)
    cleaning = CleaningSettings(countries_include=(args["--country"],)) if "--country" in args else CleaningSettings()
    snapshot = date.fromisoformat(args["--snapshot"]) if "--snapshot" in args else None
    k = int(args["--k"]) if "--k" in args else "auto"
    return pipeline.run(loaded, cleaning=cleaning, snapshot=snapshot, k=k)


def cli_run(case: Case, tmp_path: Path, capsys) -> tuple[int, str, str, Path, Path]:
    source = tmp_path / case.filename
    source.write_bytes(case.build())
    out, report = tmp_path / "out" / "customers.csv", tmp_path / "out" / "report.json"
    out.parent.mkdir()
    code = main([str(source), *case.args, "--out", str(out), "--report", str(report)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err, out, report


# ----------------------------------------------------------------------------- refused files

@pytest.mark.parametrize("case", ERROR_CASES, ids=[c.id for c in ERROR_CASES])
def test_core_refuses_with_a_typed_error_message_and_hint(case: Case, limits):
    limits(case)
    with pytest.raises(errors.SegmenterError) as raised:
        core_run(case)
    error = raised.value
    assert type(error).__name__ == case.error, f"{type(error).__name__}: {error}"
    assert re.search(case.message, error.message), error.message
    assert error.hint and error.hint.endswith("."), "every refusal says how to fix it"
    assert "\n" not in error.message


CLI_ERROR_CASES = [c for c in ERROR_CASES if c.id != "over-upload-limit"]  # paths have no upload limit


@pytest.mark.parametrize("case", CLI_ERROR_CASES, ids=[c.id for c in CLI_ERROR_CASES])
def test_cli_prints_one_error_line_exits_2_and_writes_nothing(case: Case, tmp_path, capsys, limits):
    limits(case)
    code, out, err, out_file, report = cli_run(case, tmp_path, capsys)
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert re.search(case.message, lines[0]), lines[0]
    assert "Traceback" not in err
    assert sorted(p.name for p in out_file.parent.iterdir()) == []  # no output, no temporary file


def test_upload_limit_is_the_settings_value_and_paths_are_not_limited(tmp_path):
    from segmentation.settings import MAX_UPLOAD_MB

    big = b"x" * (MAX_UPLOAD_MB * 1_000_000 + 1)
    with pytest.raises(errors.InputFileError, match=f"the upload limit is {MAX_UPLOAD_MB} MB"):
        reading.read_file(big, filename="big.csv")
    ok = reading.read_file(by_id("truncated-csv").build(), filename="x.csv", max_upload_mb=0.01)
    assert ok.table.num_rows == 27


@pytest.mark.parametrize("case_id", ["binary-garbage", "every-row-removed"])
def test_cli_process_has_no_traceback(case_id, tmp_path):
    """The real process (not main() in-process): exit 2, one line, nothing written."""
    case = by_id(case_id)
    source = tmp_path / case.filename
    source.write_bytes(case.build())
    done = subprocess.run([sys.executable, "-m", "segmentation", str(source), "--out", str(tmp_path / "c.csv")],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 2
    assert done.stdout == "" and len(done.stderr.splitlines()) == 1 and done.stderr.startswith("error: ")
    assert re.search(case.message, done.stderr)
    assert not (tmp_path / "c.csv").exists()


# ----------------------------------------------------------------------------- accepted files

@pytest.mark.parametrize("case", ACCEPTED_CASES, ids=[c.id for c in ACCEPTED_CASES])
def test_cli_accepts_messy_file_says_what_it_did_and_accounts_for_every_row(case: Case, tmp_path, capsys):
    code, out, err, out_file, report_file = cli_run(case, tmp_path, capsys)
    assert code == 0, err
    assert "Traceback" not in err and "error:" not in err
    report = json.loads(report_file.read_text())
    said = report["notes"] if case.where == "notes" else report["warnings"]
    assert any(re.search(case.message, text) for text in said), said
    if case.where == "warnings":
        assert any(re.search(case.message, line) for line in err.splitlines() if line.startswith("warning: "))
    assert report["rows_in"] == report["rows_kept"] + sum(report["dropped"].values())
    if case.rows_in is not None:
        assert report["rows_in"] == case.rows_in
    for rule, rows in case.dropped.items():
        assert report["dropped"][rule] == rows, report["dropped"]
    customers = pd.read_csv(out_file, dtype={"customer_id": str}, keep_default_na=False)
    assert len(customers) == report["customers"]
    if case.customers is not None:
        assert report["customers"] == case.customers
    assert customers["segment_id"].between(1, report["k"]).all()
    assert (customers["recency"] >= 1).all() and (customers["frequency"] >= 1).all()
    assert (customers["monetary"] > 0).all()


def test_ids_are_normalised_but_leading_zeros_kept(tmp_path, capsys):
    """' 17850 ', '17850.0' and '17850' are one customer; '017850' is another (ids are text)."""
    code, _, err, out_file, _ = cli_run(by_id("ids-spaces-zeros-floats"), tmp_path, capsys)
    assert code == 0, err
    ids = set(pd.read_csv(out_file, dtype={"customer_id": str})["customer_id"])
    assert ids == {"17850", "017850", "17851"}


def test_thousands_separators_give_exact_money():
    result = core_run(by_id("thousands-separators"))
    lines = result.prepared.customers
    quantities = [1 + i % 5 for i in range(28)]
    assert lines["monetary"].sum() == pytest.approx(sum(q * 1234.5 for q in quantities))


def test_decimal_comma_money():
    result = core_run(by_id("decimal-comma-and-dot-groups"))
    prices = [1234.5, 2.5, 1_000_000.0, 0.99]
    expected = sum((1 + i % 5) * prices[i % 4] for i in range(28))
    assert result.prepared.customers["monetary"].sum() == pytest.approx(expected)


def test_unicode_survives_to_the_outputs(tmp_path, capsys):
    code, _, err, out_file, _ = cli_run(by_id("unicode-emoji-rtl"), tmp_path, capsys)
    assert code == 0, err
    customers = pd.read_csv(out_file, dtype=str, encoding="utf-8")
    assert set(customers["customer_id"]) == {"😀-1", "مرحبا", "Ünïcødé", "客户", "\u202egnp.exe"}
    assert set(customers["country"]) <= {"עברית", "Österreich", "🇫🇷 France", "日本"}


def test_fewer_customers_than_k_caps_k_with_a_message(tmp_path, capsys):
    code, out, err, out_file, report_file = cli_run(by_id("fewer-customers-than-k"), tmp_path, capsys)
    assert code == 0, err
    report = json.loads(report_file.read_text())
    assert report["k"] == 7 == pd.read_csv(out_file)["segment_id"].nunique()


@pytest.mark.parametrize("case_id, k", [("single-customer", 1), ("all-customers-identical", 1)])
def test_degenerate_data_gives_one_segment_and_an_empty_k_scan(case_id, k):
    result = core_run(by_id(case_id))
    assert result.k == k and result.k_scan.empty
    assert result.segmentation.profiles["customers"].sum() == len(result.prepared.customers)


def test_duplicate_header_names_are_made_unique_in_linear_time():
    """100,000 copies of one name used to take hours (each copy searched _2, _3, ... from the start)."""
    import time

    started = time.perf_counter()
    names = reading.unique_headers(["Notes"] * 100_000 + ["Notes_2", "", " "])
    assert time.perf_counter() - started < 5
    assert names[:3] == ["Notes", "Notes_2", "Notes_3"] and names[-3] == "Notes_2_2"
    assert names[-2:] == ["column_100002", "column_100003"] and len(set(names)) == len(names)


def test_error_messages_stay_short_whatever_the_file():
    """A 300 KB header or 600 columns do not make a 300 KB error line."""
    wide = by_id("very-wide").build().replace(b"Quantity", b"Q1", 1).replace(b"UnitPrice", b"P2", 1)
    with pytest.raises(errors.MappingError) as raised:
        pipeline.run(reading.read_file(wide, filename="wide.csv"))
    assert len(str(raised.value)) < 2000 and "and 588 more" in raised.value.message, raised.value
