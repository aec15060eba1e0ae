"""Real-browser fixtures: a fresh `streamlit run app.py` on a free loopback port, and Debian's Chromium.

Never runs `playwright install`: it drives /usr/bin/chromium (apt-get install chromium).
Outside CI a missing browser or data file skips the tests with the reason; with CI=true they fail.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKGROUND_JOBS

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("SEGMENTER_CHROMIUM", "/usr/bin/chromium"))
REAL_DATA = REPO.parent / "shared" / "data" / "online_retail.xlsx"
# The committed screenshots are refreshed on purpose (SEGMENTER_SCREENSHOTS=docs/screenshots);
# an ordinary run writes them to a scratch folder so the checkout stays clean.
SCREENSHOTS = Path(os.environ.get("SEGMENTER_SCREENSHOTS") or Path(tempfile.gettempdir()) / "segmenter-screenshots")
if not SCREENSHOTS.is_absolute():
    SCREENSHOTS = REPO / SCREENSHOTS
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 2400}
# Every browser context of the tests: a tall window, and "prefers reduced motion" (as a user may set it):
# without animations Chromium's renderer and GPU process took a fifth less CPU (tests/browser/test_browser.py
# 293 → 246 CPU-seconds on the machine as a whole), CPU the other test worker waits for on two cores.
CONTEXT_OPTIONS = {"viewport": VIEWPORT, "reduced_motion": "reduce"}
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
UPLOAD_INPUT = '[data-testid="stFileUploaderDropzoneInput"]'
FILE_CHIP = '[data-testid="stFileChipName"]'


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the real app in headless Chromium (needs /usr/bin/chromium)")


def require(condition: bool, reason: str) -> None:
    """Skip with the reason on a developer machine; fail in CI, where everything must be present."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: browser tests must run, not skip)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, port: int, process: subprocess.Popen, log: Path):
        self.port = port
        self.process = process
        self.log = log
        self.url = f"http://127.0.0.1:{port}"


def start_server(log_dir: Path, *, background: bool = True) -> Server:
    """``streamlit run app.py`` on a free port; ``background`` False starts no stability check or
    prediction by itself (the Outlook page still computes its prediction when opened), for the
    tests that look at neither: on CI's two cores those jobs took the CPU the other worker's tests
    were waiting for."""
    port = free_port()
    log = log_dir / f"streamlit-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **dict.fromkeys(BACKGROUND_JOBS, "on" if background else "off")},
        start_new_session=True,  # its own process group: stop_server ends its check workers with it
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return Server(port, process, log)
        except OSError:
            time.sleep(0.25)
    process.terminate()
    raise RuntimeError(f"streamlit did not answer /_stcore/health within 60 s:\n{log.read_text()}")


def wait_idle(page, timeout: float = 300_000) -> None:
    """Wait until the script run is over (call after waiting for the content the run should produce)."""
    page.wait_for_selector(IDLE, timeout=timeout)
    time.sleep(0.3)
    page.wait_for_selector(IDLE, timeout=timeout)


def upload(page, path: Path, *, timeout: float = 600_000) -> None:
    """Put ``path`` into the Data page's uploader, as a user dropping the file would, and wait until
    the uploader holds it once the runs it started are over.

    Streamlit's uploader can drop a file whose upload is still in flight when a script run redraws
    it (seen with the previous file being replaced, and while the background stability check reruns
    the app): the server never receives the new value and the uploader is empty again, the previous
    data still on screen and named as loaded. A user sees that and drops the file again; so does this
    helper, once, and fails with what the page shows if the second try is dropped as well.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(2):
        wait_idle(page, timeout)
        page.set_input_files(UPLOAD_INPUT, str(path))
        chip = page.locator(FILE_CHIP, has_text=path.name)
        try:
            chip.first.wait_for(timeout=60_000)
        except PlaywrightTimeout:
            continue
        wait_idle(page, timeout)
        if chip.count():
            return
    text = page.locator('[data-testid="stApp"]').inner_text()
    raise AssertionError(f"the uploader dropped {path.name} twice; the page shows:\n{text[:2000]}")


def stop_server(server: Server, grace: float = 3.0) -> None:
    """SIGTERM, then, after ``grace`` seconds, SIGKILL to the server's whole process group.

    A server asked to stop while a background check or prediction is running waits for it before
    it exits (Python joins the pools' threads at exit): 5 to over 30 s per module on two cores, for
    nothing a test looks at. Its group goes too, so no check worker outlives the test."""
    server.process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait()


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server no other test talks to, for the deep links: its first test sends the server's very
    first request; every test opens its link in a new tab, a new session that has never run the app
    (one server for all of them: starting one per test cost ~20 s each on CI's two cores)."""
    server = start_server(tmp_path_factory.mktemp("fresh-server"))
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("server"))
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def quiet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that starts no background job by itself (see start_server); the first test of a
    module that asks for it sends its very first request (the deep links rely on that)."""
    server = start_server(tmp_path_factory.mktemp("quiet-server"), background=False)
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory):
    require(CHROMIUM.exists(), f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            accept_downloads=True,
            **CONTEXT_OPTIONS,
        )
        context.set_default_timeout(120_000)  # generous: CI runners can be slow
        yield context
        context.close()


@pytest.fixture
def page(browser_context):
    tab = browser_context.new_page()
    yield tab
    tab.close()
