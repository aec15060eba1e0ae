"""Where the real UCI Online Retail files are: ../shared/data beside the checkout."""
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: the real UCI Online Retail data lives in ../shared/data beside the repo")
    return path
