"""The whole suite: nothing is kept between tests unless a test asks for a workspace.

The app keeps each user's files, runs and last settings in a workspace store (SQLite in
~/.segmenter by default, workspace/). Tests must neither write to the developer's home nor see
another test's last file on a new session, so the store is off for every test and every server a
test starts (they inherit the environment); the workspace tests give their own store explicitly
(tests/workspace_store, tests/app/test_app_workspace.py, tests/browser/test_team_browser.py)."""
from __future__ import annotations

import os


def pytest_configure(config) -> None:
    os.environ["SEGMENTER_STORE"] = "off"
