"""Guards for what makes Segmenter fast (see BENCHMARKS.md). No timings here: only the behaviour
the speed depends on, so that a refactoring cannot quietly fall back to the slow path.

- A large Parquet or CSV file is read in place by DuckDB (Parquet columns DuckDB cannot take
  are streamed): never read whole, never turned into a pandas frame of raw rows, and the result
  equals the whole-file path (also when text dates and decimal-comma numbers need one decision
  for the whole column), on both benchmark shapes (the demo gift shop; the marketplace export
  of benchmarks/shapes.py: text ids, 18-line invoices, no copies), Parquet and CSV, and gives the
  customers of the floor query that benchmarks/run.py times. On DuckDB the copies are found by
  row hashes.
- The K scan fits on a sample above FAST_KMEANS_MIN_CUSTOMERS and agrees with full K-Means on
  planted segments (ARI >= 0.95); it runs on MODEL_THREADS threads; the one-pass silhouette
  equals scikit-learn's.
"""
from __future__ import annotations

import gc
import os
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import adjusted_rand_score, silhouette_score

from benchmarks.shapes import floor_query, write_marketplace_csv, write_marketplace_parquet
from segmentation import columns, largefile, model, pipeline, reading
from segmentation.demo import demo_transactions, write_demo_csv, write_demo_parquet
from segmentation.settings import FAST_KMEANS_MIN_CUSTOMERS, KMEANS_SAMPLE_SIZE, MODEL_THREADS
from tests.test_model import planted_customers

ROWS = 30_000


@pytest.fixture(scope="module")
def demo_parquet(tmp_path_factory):
    path = tmp_path_factory.mktemp("perf") / "demo.parquet"
    write_demo_parquet(path, ROWS, batch_rows=7_000)  # several row groups
    return path


@pytest.fixture(scope="module")
def text_parquet(tmp_path_factory):
    """Dates as day/month/year text and prices as decimal-comma text: whole-column decisions."""
    table = demo_transactions(ROWS, seed=3)
    dates = pc.strftime(table["InvoiceDate"], format="%d/%m/%Y %H:%M")
    prices = pc.replace_substring(pc.cast(table["UnitPrice"], pa.string()), ".", ",")
    table = table.set_column(table.schema.get_field_index("InvoiceDate"), "InvoiceDate", dates)
    table = table.set_column(table.schema.get_field_index("UnitPrice"), "UnitPrice", prices)
    path = tmp_path_factory.mktemp("perf") / "text.parquet"
    pq.write_table(table, path, row_group_size=7_000)
    return path


@pytest.fixture(scope="module")
def categorical_parquet(tmp_path_factory):
    """Ids and countries as dictionary (pandas category) columns: a type that is streamed."""
    table = demo_transactions(ROWS, seed=6)
    for name in ("CustomerID", "Country"):
        table = table.set_column(table.schema.get_field_index(name), name, pc.dictionary_encode(table[name]))
    path = tmp_path_factory.mktemp("perf") / "categorical.parquet"
    pq.write_table(table, path, row_group_size=7_000)
    return path


SHAPE_ROWS = 12_000
SHAPE_WRITERS = {
    ("demo", "parquet"): write_demo_parquet,
    ("demo", "csv"): write_demo_csv,
    ("marketplace", "parquet"): write_marketplace_parquet,
    ("marketplace", "csv"): write_marketplace_csv,
}


@pytest.fixture(scope="module", params=sorted(SHAPE_WRITERS), ids=lambda p: f"{p[0]}-{p[1]}")
def shape_file(request, tmp_path_factory):
    """(shape, path): a small file of each benchmark shape, written as the benchmark writes it."""
    shape, suffix = request.param
    path = tmp_path_factory.mktemp("shapes") / f"{shape}.{suffix}"
    SHAPE_WRITERS[request.param](path, SHAPE_ROWS)
    return shape, path


def _whole_file(path):
    loaded = reading.read_file(path)
    roles = columns.resolve_roles(loaded.table, None)
    return pipeline.prepare(loaded, roles, with_products=False), roles


@pytest.mark.parametrize("fixture, in_place", [("demo_parquet", True), ("text_parquet", True),
                                               ("categorical_parquet", False)])
def test_large_parquet_equals_whole_file_read(fixture, in_place, request):
    path = request.getfixturevalue(fixture)
    expected, roles = _whole_file(path)
    large = largefile.open_file(path)
    assert isinstance(large, largefile.LargeFile) and large.num_rows == ROWS
    assert columns.resolve_roles(large.head, None) == roles
    assert largefile.reads_directly(large, roles) is in_place  # both ways stay covered
    got = pipeline.prepare(replace(large, batch_rows=4_000), roles, with_products=False)  # 8 batches
    pd.testing.assert_frame_equal(got.customers, expected.customers)
    pd.testing.assert_frame_equal(got.audit.table, expected.audit.table)
    assert (got.snapshot, got.date_min, got.date_max) == (expected.snapshot, expected.date_min, expected.date_max)


def test_both_shapes_read_in_place_equal_the_whole_file_and_the_floor_query(shape_file):
    """In place (DuckDB reads the file) = whole (Arrow in memory) = the benchmark's floor query."""
    import duckdb

    shape, path = shape_file
    expected, roles = _whole_file(path)
    large = largefile.open_file(path)
    assert isinstance(large, largefile.LargeFile) and largefile.reads_directly(large, roles)
    got = pipeline.prepare(large, roles, with_products=False)
    pd.testing.assert_frame_equal(got.customers, expected.customers)
    pd.testing.assert_frame_equal(got.audit.table, expected.audit.table)
    assert got.audit.rows_in == SHAPE_ROWS and 0 < got.audit.rows_kept < SHAPE_ROWS

    floor = duckdb.sql(floor_query(path, shape)).df()
    floor = floor.assign(customer_id=floor["customer_id"].astype(str)).sort_values("customer_id")
    assert got.customers["customer_id"].tolist() == floor["customer_id"].tolist()
    assert got.customers["frequency"].tolist() == floor["frequency"].tolist()
    np.testing.assert_allclose(got.customers["monetary"], floor["monetary"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("fixture", ["demo_parquet", "messy_csv"])
def test_large_files_are_never_read_whole_nor_pulled_into_pandas(fixture, request, monkeypatch):
    _assert_read_in_place(request.getfixturevalue(fixture), ROWS, monkeypatch)


def test_both_shapes_are_never_read_whole_nor_pulled_into_pandas(shape_file, monkeypatch):
    _assert_read_in_place(shape_file[1], SHAPE_ROWS, monkeypatch)


def _assert_read_in_place(path, rows, monkeypatch):
    """The whole pipeline on ``path`` read in place: no whole read, only per-customer results in pandas."""
    import ibis.backends.duckdb as duckdb_backend

    def refuse(*args, **kwargs):
        raise AssertionError("a large file must be read in place, never whole")

    monkeypatch.setattr(pq, "read_table", refuse)
    monkeypatch.setattr(pq.ParquetFile, "read", refuse)
    monkeypatch.setattr(reading, "read_file", refuse)
    sizes = []
    original_execute = duckdb_backend.Backend.execute

    def spy(self, expr, *args, **kwargs):
        result = original_execute(self, expr, *args, **kwargs)
        sizes.append(len(result) if hasattr(result, "__len__") else 1)
        return result

    large = largefile.open_file(path)  # small, but any file can be read in place
    monkeypatch.setattr(duckdb_backend.Backend, "execute", spy)
    result = pipeline.run(large, k=3)
    n_customers = len(result.prepared.customers)
    assert result.prepared.audit.rows_in == rows
    assert sizes and max(sizes) <= n_customers < rows / 10  # only per-customer results came back
    assert result.prepared.customer_products.empty  # run() skips per-product rows for large files


@pytest.mark.parametrize("layout", ["parquet", "parquet streamed", "csv"])
def test_large_file_rows_differing_only_in_an_unmapped_column_are_kept(layout, tmp_path):
    """Whole-row duplicates on the large-file path: the unmapped columns are hashed with the rest."""
    import pyarrow.csv as pa_csv

    from tests.engines import edge_cases

    raw = edge_cases.unmapped_rows_table()
    if layout == "csv":
        path = tmp_path / "lines.csv"
        pa_csv.write_csv(raw, path)
    else:
        if layout == "parquet streamed":  # a dictionary customer column is streamed, not read in place
            raw = raw.set_column(raw.schema.get_field_index("CustomerID"), "CustomerID",
                                 pc.dictionary_encode(raw["CustomerID"]))
        path = tmp_path / "lines.parquet"
        pq.write_table(raw, path)
    large = largefile.open_file(path)
    roles = columns.resolve_roles(large.head, None)
    assert roles == edge_cases.ROLES  # LineNo and Channel are not used
    assert largefile.reads_directly(large, roles) is (layout != "parquet streamed")
    got = pipeline.prepare(large, roles, with_products=False)
    edge_cases.assert_no_line_dropped(got)
    expected, _ = _whole_file(path)
    pd.testing.assert_frame_equal(got.audit.table, expected.audit.table)


def test_duckdb_finds_copies_by_row_hashes_not_by_grouping_text_columns():
    import ibis

    from segmentation import cleaning
    from segmentation.settings import CleaningSettings
    from tests.canonical import ROLES_QP, line, table

    same = line("A", "1", "2011-01-01 10:00", 2, 5.0)
    rows = pipeline.connect().create_table("t", table(same, same, line("B", "2", "2011-01-02 11:00", 1, 3.0)))
    assert cleaning._hashes_rows(rows)
    sql = str(ibis.to_sql(cleaning.flag_rows(rows, ROLES_QP, CleaningSettings()).purchases))
    assert sql.upper().count("HASH(") >= 4  # two for the rows, two for the purchases


TRIM_CASES = ["", " ", "   ", "a", " a", "a ", " a b ", "\ta\n", "a\r", "\x0ba\x0c", "é", " é ", "\u00a0a",
              "a\u00a0", "\u3000x", "日本", "\x01a", "a\x01", "\x7fa", "a\x7f", "!", "~x~", "17850.0", " 17850 "]


def test_canonical_text_skips_the_trim_only_where_there_is_nothing_to_trim():
    """schema._strip keeps a value whose ends are printable ASCII as it is (no trim computed): the
    same values as trimming every one (spaces, tabs, line breaks, Unicode spaces, control bytes)."""
    import ibis

    from segmentation import schema

    con = pipeline.connect()
    t = con.create_table("texts", pa.table({"x": pa.array(TRIM_CASES + [None], pa.string())}))
    unusual = t.x.contains("\t") | t.x.contains("\n") | t.x.contains("\r") | t.x.contains("\v") | t.x.contains("\f")
    trimmed_always = ibis.cases((unusual, t.x.strip()), else_=schema._trim_spaces(t.x))
    got = t.select(x=t.x, fast=schema._strip(t.x), always=trimmed_always).to_pyarrow().to_pylist()
    assert [row["fast"] for row in got] == [row["always"] for row in got]
    assert {row["x"]: row["fast"] for row in got}[" a b "] == "a b"  # the trim does run where needed
    sql = str(ibis.to_sql(t.select(y=schema._strip(t.x))))
    assert "ASCII" in sql.upper()  # the fast path is in the query


def test_large_path_is_chosen_by_size_and_format(demo_parquet, tmp_path, monkeypatch):
    csv = tmp_path / "t.csv"
    csv.write_text("CustomerID,InvoiceDate,Amount\n1,2011-01-01,3\n")
    workbook = tmp_path / "t.xlsx"
    workbook.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    # the size test: bytes for both formats, rows too for Parquet; a workbook is always read whole
    for path in (demo_parquet, csv):
        assert largefile.is_large(path, threshold=1)
        assert not largefile.is_large(path, threshold=path.stat().st_size + 1)
    assert largefile.is_large(demo_parquet, threshold=10**12, rows=ROWS)
    assert not largefile.is_large(workbook, threshold=1)

    # the dispatch: what is large is opened to be read in place (LargeFile), the rest read whole
    def kind(loaded: reading.LoadedFile) -> str:
        return "in place" if isinstance(loaded, largefile.LargeFile) else "whole"

    real_is_large = largefile.is_large
    for threshold, expected in ((10**12, "whole"), (1, "in place")):
        monkeypatch.setattr(largefile, "is_large", lambda path, t=threshold: real_is_large(path, threshold=t))
        for path in (demo_parquet, csv):
            got = largefile.read_file_or_stream(path)
            assert kind(got) == expected, (path.name, threshold)
            if expected == "in place":
                assert got.path == str(path)
            else:
                assert got.table.num_rows == (ROWS if path == demo_parquet else 1)
        # bytes of an upload (a name, no path to read in place) are always read whole
        upload = largefile.read_file_or_stream(demo_parquet.read_bytes(), filename="up.parquet")
        assert kind(upload) == "whole" and upload.table.num_rows == ROWS


@pytest.fixture(scope="module")
def messy_csv(tmp_path_factory):
    """A European export: a title line, ';' separators, decimal commas, day/month/year dates,
    a line with too many fields; gzip-compressed."""
    table = demo_transactions(ROWS, seed=4)
    dates = pc.strftime(table["InvoiceDate"], format="%d/%m/%Y %H:%M")
    prices = pc.replace_substring(pc.cast(table["UnitPrice"], pa.string()), ".", ",")
    columns = [table[name] if name not in ("InvoiceDate", "UnitPrice") else
               (dates if name == "InvoiceDate" else prices) for name in table.column_names]
    lines = ["Sales export 2011", ";".join(table.column_names)]
    rows = zip(*[c.to_pylist() for c in columns])
    for i, row in enumerate(rows):
        lines.append(";".join("" if v is None else str(v) for v in row))
        if i == 100:
            lines.append("1;2;3;4;5;6;7;8;9;10")  # ragged: skipped and noted by both readers
    path = tmp_path_factory.mktemp("perf") / "export.csv.gz"
    import gzip

    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8")))
    return path


def test_large_csv_read_by_duckdb_equals_whole_file_read(messy_csv):
    expected, roles = _whole_file(messy_csv)
    assert largefile.is_large(messy_csv, threshold=1)
    large = largefile.open_file(messy_csv)
    assert isinstance(large, largefile.LargeFile) and large.delimiter == ";" and large.header_line == 1
    assert columns.resolve_roles(large.head, None) == roles
    assert largefile.reads_directly(large, roles)
    got = pipeline.prepare(large, roles, with_products=False)
    pd.testing.assert_frame_equal(got.customers, expected.customers)
    pd.testing.assert_frame_equal(got.audit.table, expected.audit.table)
    assert (got.snapshot, got.date_min, got.date_max) == (expected.snapshot, expected.date_min, expected.date_max)
    assert any("Skipped 1 line(s)" in note for note in got.notes)


def test_large_real_csv_gives_the_real_facts():
    from tests.shared_data import shared_file

    path = shared_file("online_retail.csv.gz")
    large = largefile.open_file(path)
    roles = columns.resolve_roles(large.head, None)
    prepared = pipeline.prepare(large, roles, with_products=False)
    assert prepared.audit.rows_in == 541_909 and prepared.audit.rows_kept == 392_692
    assert len(prepared.customers) == 4_338
    assert round(prepared.customers["monetary"].sum(), 2) == 8_887_208.89


def test_streaming_duckdb_has_a_memory_limit_and_spill_directory(tmp_path):
    con = largefile.connect(memory_limit="1GB", temp_directory=str(tmp_path))
    limit = con.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    spill = con.con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    assert limit.replace(" ", "").lower().startswith(("1gb", "953.6mib", "1.0gb", "0.9gib", "953"))
    assert spill == str(tmp_path)


def test_the_private_spill_folder_goes_with_its_connection():
    con = largefile.connect(memory_limit="1GB")
    spill = con.con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    assert os.path.basename(spill).startswith("segmenter-duckdb-") and os.path.isdir(spill)
    con.disconnect()
    del con
    gc.collect()
    assert not os.path.exists(spill)


def test_an_in_memory_duckdb_has_no_memory_limit_of_its_own():
    """The one DuckDB factory: the limit and the spill folder only for files read in place."""
    small, large = pipeline.connect(), largefile.connect(memory_limit="1GB")
    limits = [con.con.execute("SELECT current_setting('memory_limit')").fetchone()[0] for con in (small, large)]
    assert limits[0] != limits[1]
    assert small.con.execute("SELECT current_setting('enable_progress_bar')").fetchone()[0] is False


# ----------------------------------------------------------------------------- K-Means


def test_fast_scan_path_is_declared_and_bounded():
    assert FAST_KMEANS_MIN_CUSTOMERS >= KMEANS_SAMPLE_SIZE
    assert not model.scan_is_sampled(FAST_KMEANS_MIN_CUSTOMERS)
    assert model.scan_is_sampled(FAST_KMEANS_MIN_CUSTOMERS + 1)
    assert MODEL_THREADS == 1


def test_fast_scan_fits_on_a_sample_and_agrees_with_full_kmeans(monkeypatch):
    customers = planted_customers(2_500)  # 10,000 customers; thresholds scaled down by the same factor
    fitted_rows = []
    original_fit = model.KMeans.fit

    def spy(self, x, *args, **kwargs):
        fitted_rows.append(len(x))
        return original_fit(self, x, *args, **kwargs)

    monkeypatch.setattr(model.KMeans, "fit", spy)
    fast = model.scan_labels(customers, 4, seed=42, fast_above=2_000, fit_sample=1_000)
    assert fitted_rows == [1_000]  # the fast path fitted the sample, then assigned everyone
    exact = model.fit_labels(customers, k=4, seed=42)
    assert adjusted_rand_score(exact, fast) >= 0.95
    assert adjusted_rand_score(customers["planted"], fast) >= 0.95
    fitted_rows.clear()
    scan = model.scan_k(customers, k_values=[3, 4, 5], seed=42, fast_above=2_000, fit_sample=1_000)
    assert fitted_rows == [1_000] * 3
    assert scan["k"].tolist() == [3, 4, 5] and scan.notna().all().all()


def test_final_fit_restarts_on_the_sample_above_the_threshold_and_agrees_with_full_kmeans(monkeypatch):
    customers = planted_customers(2_500)  # 10,000 customers; thresholds scaled down as above
    fitted_rows = []
    original_fit = model.KMeans.fit

    def spy(self, x, *args, **kwargs):
        fitted_rows.append((len(x), self.n_init))
        return original_fit(self, x, *args, **kwargs)

    monkeypatch.setattr(model.KMeans, "fit", spy)
    fast = model.fit_labels(customers, k=4, seed=42, fast_above=2_000, fit_sample=1_000)
    # the restarts on the sample, then one K-Means on every customer from the best centres
    assert fitted_rows == [(1_000, model.N_INIT), (len(customers), 1)]
    fitted_rows.clear()
    exact = model.fit_labels(customers, k=4, seed=42)
    assert fitted_rows == [(len(customers), model.N_INIT)]
    assert adjusted_rand_score(exact, fast) >= 0.95
    assert adjusted_rand_score(customers["planted"], fast) >= 0.95


def test_scan_is_exact_below_the_threshold(monkeypatch):
    customers = planted_customers(100)
    fitted_rows = []
    original_fit = model.KMeans.fit
    monkeypatch.setattr(model.KMeans, "fit", lambda self, x, *a, **k: fitted_rows.append(len(x)) or
                        original_fit(self, x, *a, **k))
    model.scan_k(customers, k_values=[4], seed=42)
    assert fitted_rows == [len(customers)]


def test_kmeans_runs_single_threaded(monkeypatch):
    from threadpoolctl import threadpool_info

    seen = []
    original_fit = model.KMeans.fit

    def spy(self, x, *args, **kwargs):
        seen.extend(info["num_threads"] for info in threadpool_info() if info["user_api"] == "openmp")
        return original_fit(self, x, *args, **kwargs)

    monkeypatch.setattr(model.KMeans, "fit", spy)
    customers = planted_customers(50)
    model.scan_k(customers, k_values=[3], seed=1)
    model.fit_labels(customers, k=3, seed=1)
    assert seen and set(seen) == {MODEL_THREADS}


def test_one_pass_silhouette_equals_sklearn():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(700, 3))
    x[:20] = x[0]  # ties: zero distances
    labelings = [rng.integers(0, k, len(x)) for k in (2, 3, 5)]
    labelings.append(np.r_[np.zeros(len(x) - 1, int), [1]])  # a singleton cluster
    expected = [silhouette_score(x, labels) for labels in labelings]
    got = model.silhouettes(x, labelings, chunk_rows=128)
    assert np.allclose(got, expected, rtol=0, atol=1e-12)
    assert np.isnan(model.silhouettes(x, [np.zeros(len(x), int)])[0])
