"""Where the real UCI Online Retail files are: ../shared/data beside the checkout."""
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: the real UCI Online Retail data lives in ../shared/data beside the repo")
    return path


@pytest.fixture(scope="session")
def real_prepared():
    """The real UCI rows (online_retail.csv.gz) read, cleaned and aggregated with the default
    settings and the detected roles, once per test session (per xdist worker): the DuckDB reference
    the real-data tests of several modules compare with (read + prepare is ~20 s on CI's cores)."""
    from segmentation import columns, pipeline, reading

    loaded = reading.read_file(shared_file("online_retail.csv.gz"))
    return pipeline.prepare(loaded, columns.resolve_roles(loaded.table))


@pytest.fixture(scope="session")
def real_result(real_prepared):
    """`real_prepared` segmented with the defaults (K scan, suggested K): what
    `segmentation.segment(<the CSV>)` returns."""
    from segmentation import pipeline

    return pipeline.run_prepared(real_prepared)
