"""The command line contract: flags, output columns, report keys, one-line errors with exit 2."""
import errno
import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from segmentation.cli import OUTPUT_COLUMNS, main
from tests import disks

small_disk = disks.small_disk  # a real 300 KB tmpfs (a fixture)

REPO = Path(__file__).resolve().parents[1]
REPORT_KEYS = {"rows_in", "rows_kept", "dropped", "customers", "snapshot", "columns", "k", "k_scan", "segments"}
SEGMENT_KEYS = {"segment_id", "segment", "customers", "revenue", "revenue_share", "recency_mean",
                "frequency_mean", "monetary_mean"}
SCAN_KEYS = {"k", "inertia", "silhouette", "calinski_harabasz", "davies_bouldin"}

GOOD_CSV = (
    "Invoice;Customer ID;Date;Qty;Price\n"
    + "".join(f"{100 + i};{1000 + i % 7};{1 + i % 28:02d}.{1 + i % 12:02d}.2011 10:00;{1 + i % 5};{i % 9 + 1},50\n"
              for i in range(60))
)


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "segmentation", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd or REPO, timeout=300)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    done = run_cli("--demo-rows", 20000, "--out", folder / "customers.csv", "--report", folder / "report.json")
    assert done.returncode == 0, done.stderr
    return done, folder


def test_demo_run_writes_the_contracted_columns_and_keys(demo_run):
    done, folder = demo_run
    customers = pd.read_csv(folder / "customers.csv", dtype={"customer_id": str})
    report = json.loads((folder / "report.json").read_text())
    assert list(customers.columns[: len(OUTPUT_COLUMNS)]) == OUTPUT_COLUMNS
    assert REPORT_KEYS <= report.keys()
    assert all(SEGMENT_KEYS <= segment.keys() for segment in report["segments"])
    assert all(SCAN_KEYS <= row.keys() for row in report["k_scan"])
    assert report["rows_in"] == report["rows_kept"] + sum(report["dropped"].values()) == 20000
    assert report["customers"] == len(customers)
    assert report["k"] == customers["segment_id"].nunique() == len(report["segments"])
    assert [row["k"] for row in report["k_scan"]] == list(range(2, 11))
    assert done.stderr == ""


def test_same_seed_same_segments(demo_run, tmp_path):
    _, folder = demo_run
    again = run_cli("--demo-rows", 20000, "--out", tmp_path / "again.csv")
    assert again.returncode == 0
    assert (tmp_path / "again.csv").read_bytes() == (folder / "customers.csv").read_bytes()


def test_messy_csv_with_mapping_fixed_k_and_xlsx_output(tmp_path):
    source = tmp_path / "export.csv"
    source.write_text(GOOD_CSV, encoding="cp1252")
    out, report = tmp_path / "c.xlsx", tmp_path / "r.json"
    done = run_cli(source, "--k", 3, "--map", "customer=Customer ID", "--snapshot", "2012-01-01",
                   "--out", out, "--report", report)
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    assert (data["k"], data["snapshot"], data["customers"]) == (3, "2012-01-01", 7)
    assert data["columns"]["customer"] == "Customer ID" and data["columns"]["quantity"] == "Qty"
    sheets = pd.read_excel(out, sheet_name=None, dtype={"customer_id": str})
    assert list(sheets) == ["Customers", "Segments"] and len(sheets["Customers"]) == 7


def write(path: Path, content: bytes | str) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


BAD_INPUTS = [
    ("empty", "empty.csv", b"", r"empty"),
    ("header-only", "header.csv", "InvoiceNo,CustomerID,InvoiceDate,Quantity,UnitPrice\n", r"no data rows|header"),
    ("binary-garbage", "garbage.csv", bytes(range(256)) * 40, r"."),
    ("text-named-xlsx", "notes.xlsx", "just some notes\nnothing tabular here\n", r"."),
    ("no-customer-column", "nocust.csv", "InvoiceDate,Quantity,UnitPrice\n2011-01-01,1,2.5\n", r"customer"),
    ("no-date-column", "nodate.csv", "CustomerID,Quantity,UnitPrice\n1,1,2.5\n", r"date"),
    ("no-valid-dates", "baddates.csv",
     "CustomerID,InvoiceDate,Quantity,UnitPrice\n1,soon,1,2.5\n2,later,1,2.5\n", r"date"),
    ("everything-removed", "allgone.csv",
     "InvoiceNo,CustomerID,InvoiceDate,Quantity,UnitPrice\nC1,1,2011-01-01,-1,2.5\nC2,2,2011-01-02,-3,2.5\n",
     r"Every one of the 2 rows was removed by cleaning: cancelled \(2 rows\)"),
]


@pytest.mark.parametrize("name, filename, content, message", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_gives_one_error_line_exit_2_and_no_output(tmp_path, name, filename, content, message):
    source = write(tmp_path / filename, content)
    out, report = tmp_path / "out.csv", tmp_path / "report.json"
    done = run_cli(source, "--out", out, "--report", report)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    assert pytest.importorskip("re").search(message, lines[0], flags=2)
    assert not out.exists() and not report.exists()
    assert done.stdout == ""


@pytest.mark.parametrize("args, message", [
    (["--k", "1"], "K=1 is too small"),
    (["--k", "many"], "not a whole number"),
    (["--map", "shoe=Size"], "unknown role 'shoe'"),
    (["--map", "customer"], "is not ROLE=COLUMN"),
    (["--snapshot", "10/12/2011"], "is not a date like 2011-12-10"),
    (["--out", "customers.pdf"], "must end in .csv or .xlsx"),
    (["--keep", "missing_customer"], "cannot be switched off"),
    # the core refuses the settings (naming the values), the CLI adds which flags to change
    (["--from", "2011-03-01", "--to", "2011-02-01"],
     "starts on 2011-03-01, after it ends on 2011-02-01. Swap --from and --to."),
    (["--country", "France", "--exclude-country", "France"],
     "Country 'France' is in both the include list and the exclude list. Give each country to either --country"),
    (["no/such/file.csv"], "does not exist"),
    (["--nonsense"], "unrecognized arguments"),
])
def test_bad_flags(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_gzip_csv_input(tmp_path):
    source = tmp_path / "export.csv.gz"
    source.write_bytes(gzip.compress(GOOD_CSV.encode()))
    done = run_cli(source, "--k", 2, "--report", tmp_path / "r.json")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "r.json").read_text())["rows_in"] == 60


# ----------------------------------------------------------------------------- outputs that cannot be written

OUTPUTS = {  # output kind → the flags that write it
    "out-csv": ["--out", "customers.csv"],
    "out-xlsx": ["--out", "customers.xlsx"],
    "report": ["--report", "report.json"],
    "html": ["--html", "report.html"],
}


def _assert_one_error_line(err: str, words: str) -> None:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Cannot write ") and words in lines[0], err


@pytest.mark.parametrize("kind", sorted(OUTPUTS))
def test_an_injected_full_disk_gives_exit_2_one_line_and_no_file(kind, tmp_path, monkeypatch, capsys):
    from segmentation import export

    source = write(tmp_path / "export.csv", GOOD_CSV)
    folder = tmp_path / "out"
    folder.mkdir()
    flag, name = OUTPUTS[kind]

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(export, "_write_csv", full)
    monkeypatch.setattr(Path, "write_bytes", full)
    assert main([str(source), "--k", "2", "--quiet", flag, str(folder / name)]) == 2
    _assert_one_error_line(capsys.readouterr().err, f"{folder / name}: no space left on the disk.")
    assert list(folder.iterdir()) == []


def test_a_full_real_disk_gives_exit_2_one_line_and_no_file(small_disk, tmp_path, capsys):
    """Every output kind on a real full tmpfs; the report fails after the customers file was staged,
    and neither is left behind."""
    source = write(tmp_path / "export.csv", GOOD_CSV)
    disks.fill(small_disk)
    for kind in sorted(OUTPUTS):
        flag, name = OUTPUTS[kind]
        assert main([str(source), "--k", "2", "--quiet", flag, str(small_disk / name)]) == 2
        _assert_one_error_line(capsys.readouterr().err, f"{small_disk / name}: no space left on the disk.")
    (small_disk / "filler").unlink()
    disks.fill(small_disk, leave=4096)  # one page: room for the customers file (< 1 KB), not the report
    assert main([str(source), "--k", "2", "--quiet", "--out", str(small_disk / "c.csv"),
                 "--report", str(small_disk / "r.json")]) == 2
    _assert_one_error_line(capsys.readouterr().err, f"{small_disk / 'r.json'}: no space left on the disk.")
    assert [p.name for p in small_disk.iterdir()] == ["filler"]


def test_a_read_only_disk_and_a_vanished_folder(tmp_path, monkeypatch, capsys):
    from segmentation import pipeline

    source = write(tmp_path / "export.csv", GOOD_CSV)
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o555)
    if os.access(read_only, os.W_OK):  # root writes anywhere: inject what a read-only mount says
        monkeypatch.setattr("tempfile.mkdtemp", lambda **kwargs: (_ for _ in ()).throw(
            OSError(errno.EROFS, os.strerror(errno.EROFS))))
        assert main([str(source), "--k", "2", "--quiet", "--out", str(read_only / "c.csv")]) == 2
        _assert_one_error_line(capsys.readouterr().err, "the file system is read-only.")
        monkeypatch.undo()
    else:
        assert main([str(source), "--k", "2", "--quiet", "--out", str(read_only / "c.csv")]) == 2
        _assert_one_error_line(capsys.readouterr().err, "permission denied.")
    assert list(read_only.iterdir()) == []

    gone = tmp_path / "gone"
    gone.mkdir()
    run = pipeline.run

    def run_then_remove_the_folder(*args, **kwargs):
        result = run(*args, **kwargs)
        gone.rmdir()  # the folder vanishes while the segments are computed
        return result

    monkeypatch.setattr(pipeline, "run", run_then_remove_the_folder)
    assert main([str(source), "--k", "2", "--quiet", "--report", str(gone / "r.json")]) == 2
    _assert_one_error_line(capsys.readouterr().err, f"{gone / 'r.json'}: its folder does not exist (any more).")
    assert not gone.exists()


def test_a_cdnow_file_segments_without_map_taking_dollar_value_as_the_line_amount(tmp_path):
    """CDNOW's public headers: no alias names the money, its meaning does."""
    lines = ["customer_id,date,number_of_cds,dollar_value"]
    for i in range(240):
        customer = 1 + i % 40
        lines.append(f"{customer},199701{1 + i % 28:02d},{1 + i % 4},{customer * 1.5 + (i % 7) * 3.25:.2f}")
    source = write(tmp_path / "cdnow.csv", "\n".join(lines) + "\n")
    done = run_cli(source, "--report", tmp_path / "r.json", "--out", tmp_path / "c.csv")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["columns"] == {"customer": "customer_id", "date": "date", "quantity": "number_of_cds",
                                 "amount": "dollar_value"}
    assert "non_positive_amount" in report["dropped"]  # the money is the amount, not quantity × price
    assert any(note.startswith("`dollar_value` read as the line amount") for note in report["notes"])
    assert any("`number_of_cds` is for information only" in note for note in report["notes"])
    customers = pd.read_csv(tmp_path / "c.csv", dtype={"customer_id": str}).set_index("customer_id")
    assert len(customers) == 40
    spent = sum(float(line.split(",")[3]) for line in lines[1:] if line.startswith("7,"))
    assert customers.loc["7", "monetary"] == pytest.approx(spent)


def test_html_report_and_audiences(tmp_path, capsys):
    import zipfile

    html_path, zip_path, xlsx_path = tmp_path / "report.html", tmp_path / "aud.zip", tmp_path / "aud.xlsx"
    out = tmp_path / "customers.csv"
    assert main(["--demo-rows", "3000", "--k", "3", "--quiet", "--out", str(out), "--html", str(html_path),
                 "--audiences", str(zip_path)]) == 0, capsys.readouterr().err
    customers = pd.read_csv(out, dtype={"customer_id": str})
    page = html_path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Built-in demo data (3,000 transactions)" in page
    assert f"{len(customers):,}</b>" in page
    archive = zipfile.ZipFile(zip_path)
    sizes = customers.groupby("segment_id").size().tolist()
    assert [sum(1 for _ in archive.open(name)) - 1 for name in archive.namelist()] == sizes
    assert main(["--demo-rows", "3000", "--k", "3", "--quiet", "--audiences", str(xlsx_path)]) == 0
    sheets = pd.read_excel(xlsx_path, sheet_name=None)
    assert list(sheets)[0] == "Summary" and len(sheets) == 1 + len(sizes)
    assert [len(table) for table in list(sheets.values())[1:]] == sizes


@pytest.mark.parametrize(
    ("flag", "name", "message"),
    [("--html", "report.pdf", r"--html .*report.pdf must end in .html or .htm\. Name the file e\.g\. report\.html\."),
     ("--audiences", "aud.csv", r"--audiences .*aud.csv must end in .zip or .xlsx\. Name the file e\.g\. aud\.zip\.")],
    ids=["html-needs-html", "audiences-need-zip-or-xlsx"],
)
def test_new_outputs_refuse_wrong_extensions(tmp_path, capsys, flag, name, message):
    assert main(["--demo-rows", "100", flag, str(tmp_path / name)]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_a_k_error_reaching_the_cli_gets_a_true_hint(monkeypatch, capsys):
    """The K policy's errors: K not a whole number of 2 or more (a K above the customers' distinct
    profiles is capped with a warning, so the hint never asks for a smaller K)."""
    from segmentation import cli
    from segmentation.errors import KChoiceError

    def refuse(args):
        raise KChoiceError("K=1 is too small: choose 2 or more segments.")

    monkeypatch.setattr(cli, "_run", refuse)
    assert main(["demo.csv"]) == 2
    assert capsys.readouterr().err == ("error: K=1 is too small: choose 2 or more segments. "
                                       "Give --k a whole number of 2 or more, or --k auto for the suggested K.\n")
