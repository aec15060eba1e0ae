"""App latency, as a marketer sees it: the real app in headless Chromium (Debian's /usr/bin/chromium).

    python benchmarks/app_latency.py FILE CUSTOMERS [--stability on|off] [--prediction on|off]

For each run: a fresh `streamlit run app.py` on a free loopback port and a fresh browser profile;
open the app as a marketer does (its first page, Segments, with the demo data: the demo's background
stability check starts), go to the Data page, drop FILE into the real uploader, and time until the
sidebar shows the file's customer count (the segments are computed: the sidebar is drawn after them);
then move the K slider one step on the Segments page and time until the cards change; then wait for
the background stability check (ui/stability.py) to put a badge on every card, timed from the drop
too. ``--stability off`` starts the server with the background check off
(SEGMENTER_STABILITY_CHECK=off): the same times without it, to show it does not delay the first
segments (no badges are waited for then). ``--prediction off`` likewise starts it without the
background prediction (SEGMENTER_PREDICTION=off; ui/prediction.py): the time from the click to the
Segments page until its cards show is recorded too, and at the end the time to open the Outlook page
until it is drawn to its end (computed there when the background did not). Prints one JSON line.
`benchmarks/run.py --cases app-xlsx app-csv` runs it, with and without the check, next to the CLI.
Never runs `playwright install`: it needs Debian's chromium (apt-get install chromium).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("SEGMENTER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
SIDEBAR = '[data-testid="stSidebar"]'
CARDS = '[class*="st-key-card_"]'
K_SLIDER = f'{SIDEBAR} [data-testid="stSlider"] input[type="range"]'
UPLOADER = '[data-testid="stFileUploaderDropzoneInput"]'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(log: Path, stability: str = "on", prediction: str = "on") -> tuple[subprocess.Popen, str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "SEGMENTER_STABILITY_CHECK": stability,
             "SEGMENTER_PREDICTION": prediction})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("streamlit did not start within 60 s")


def _idle(page, timeout: float = 600_000) -> None:
    page.wait_for_selector(IDLE, timeout=timeout)
    time.sleep(0.3)
    page.wait_for_selector(IDLE, timeout=timeout)


def _drop(page, path: Path, customers: int) -> tuple[float, float | None]:
    """Drop the file into the uploader; when Streamlit's uploader drops it (an upload in flight
    while a run redraws it: see tests/browser/conftest.upload) drop it again, as a user would, and
    time from that second drop. Returns the time of the drop that took and the seconds until the
    first sign of work (a status or progress element), None if none showed within 30 s."""
    chip = page.locator('[data-testid="stFileChipName"]', has_text=path.name)
    for attempt in range(2):
        started = time.perf_counter()
        page.set_input_files(UPLOADER, str(path))
        first_status = None
        try:
            page.wait_for_selector('[data-testid="stStatusWidget"], [data-testid="stProgress"], '
                                   '[data-testid="stExpander"] [data-testid="stStatus"]', timeout=30_000)
            first_status = time.perf_counter() - started
        except Exception:  # a missing progress element is recorded (None), not fatal
            first_status = None
        try:
            chip.first.wait_for(timeout=60_000)
            return started, first_status
        except Exception:
            if attempt:
                raise
            print(f"the uploader dropped {path.name}; dropping it again", file=sys.stderr)
            _idle(page)
    raise AssertionError("unreachable")


def _outlook(page) -> float:
    """Open the Outlook page; seconds until it is drawn to its end (the fitted models' expander),
    whether or not the data allowed a backtest."""
    started = time.perf_counter()
    page.locator('[data-testid="stSidebarNav"] a', has_text="Outlook").first.click()
    page.get_by_text("The fitted models").first.wait_for()
    return time.perf_counter() - started


def one_run(path: Path, customers: int, work: Path, stability: str = "on", prediction: str = "on") -> dict:
    from playwright.sync_api import sync_playwright

    process, url = _start_server(work / "streamlit.log", stability, prediction)
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(work / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1800})
            context.set_default_timeout(600_000)
            page = context.new_page()
            stage = "opening the app"
            try:
                page.goto(url, wait_until="commit")
                page.get_by_role("heading", name="Customer segments", exact=True).first.wait_for()
                page.locator(SIDEBAR).get_by_text("customers", exact=False).first.wait_for()
                _idle(page)
                stage = "opening the Data page"
                page.locator('[data-testid="stSidebarNav"] a', has_text="Data").first.click()
                page.get_by_role("heading", name="Data", exact=True).first.wait_for()
                _idle(page)
                stage = "uploading"
                started, first_status = _drop(page, path, customers)
                dropped = started
                stage = "waiting for the segments"
                page.locator(SIDEBAR).get_by_text(f"{customers:,} customers").first.wait_for()
                upload_to_segments = time.perf_counter() - started
                _idle(page)
                stage = "changing K"
                started = time.perf_counter()
                page.locator('[data-testid="stSidebarNav"] a', has_text="Segments").first.click()
                page.get_by_role("heading", name="Customer segments", exact=True).first.wait_for()
                page.locator(CARDS).first.wait_for()
                segments_page = time.perf_counter() - started
                _idle(page)
                before = page.locator(CARDS).count()
                page.locator(K_SLIDER).focus()
                started = time.perf_counter()
                page.keyboard.press("ArrowRight")
                page.wait_for_function(f"() => document.querySelectorAll('{CARDS}').length === {before + 1}")
                k_change = time.perf_counter() - started
                times = {"upload_to_segments_s": upload_to_segments, "first_progress_s": first_status,
                         "segments_page_s": segments_page, "k_change_s": k_change, "stability": stability,
                         "prediction": prediction}
                if stability == "off":
                    _idle(page)
                    stage = "opening the Outlook page"
                    times["outlook_s"] = _outlook(page)
                    context.close()
                    return times
                stage = "waiting for the stability badges"
                page.wait_for_function(
                    f"() => [...document.querySelectorAll('{CARDS}')].every("
                    "c => /highly stable|stable|doubtful|not to be trusted/.test(c.innerText))")
                times["upload_to_stability_badges_s"] = time.perf_counter() - dropped
                _idle(page)
                stage = "opening the Outlook page"
                times["outlook_s"] = _outlook(page)
            except Exception as error:
                shown = page.locator('[data-testid="stApp"]').inner_text(timeout=10_000)
                raise RuntimeError(f"app benchmark stopped while {stage}: {error}\nthe page shows:\n"
                                   f"{shown[:3000]}") from error
            context.close()
        return times
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("customers", type=int, help="the customer count the sidebar shows when done")
    parser.add_argument("--stability", choices=("on", "off"), default="on",
                        help="the app's background stability check (off: to compare the first segments without it)")
    parser.add_argument("--prediction", choices=("on", "off"), default="on",
                        help="the app's background prediction (off: to compare the first segments without it)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="segmenter-app-bench-") as work:
        print(json.dumps(one_run(args.file.resolve(), args.customers, Path(work), args.stability, args.prediction)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
