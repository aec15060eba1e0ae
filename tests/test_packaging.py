"""The distribution: pyproject.toml and requirements.txt agree, the console script is the CLI."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _normalised(requirement: str) -> tuple[str, str]:
    """('name', 'specifier') with the extras of ibis-framework kept apart from the version."""
    requirement = requirement.split("#")[0].strip()
    match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)", requirement)
    return match.group(1).lower(), match.group(3).replace(" ", "")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_requirements_and_pyproject_pin_the_same_versions():
    listed = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.lstrip().startswith("#")]
    wanted = dict(_normalised(line) for line in listed)
    project = _pyproject()
    declared = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        declared += [r for r in extra if not r.startswith("segmenter[")]
    got: dict[str, set[str]] = {}
    for requirement in declared:
        name, spec = _normalised(requirement)
        got.setdefault(name, set()).add(spec)
    assert {name: {spec} for name, spec in wanted.items()} == got


def test_console_script_is_the_cli_and_streamlit_is_only_for_the_app():
    project = _pyproject()
    assert project["scripts"]["segmenter"].split("#")[0].strip() == "segmentation.cli:main"
    assert not any(r.startswith("streamlit") for r in project["dependencies"])
    assert project["optional-dependencies"]["app"] == ["streamlit==1.67.0"]
