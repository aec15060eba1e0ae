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

    python benchmarks/app_latency.py FILE CUSTOMERS --interactions [--repeats 5]

times the marketer's interactions once the file's segments are shown (issue 21, item 13), each
from the action to the page idle with its new content, ``--repeats`` times each, every time with
settings this server has not computed yet (a cache hit would time nothing): a K step on the sidebar
slider (until the cards change), a rule toggle on the Data page (until the sidebar's rows-kept
line changes), a date filter (the range's end a month earlier), a country filter (one more country
left out), and a page switch (Segments ↔ Customers; the second visit of a page is what a marketer sees
most). "Idle": the app's script state is back to not running and no run follows within 0.5 s
(a run is counted by a MutationObserver on that state, so a finished run is never mistaken for
the one the action starts). With the stability check on, each series starts once the check of
the current customers is done (its progress fragment polls the server while it runs).
`benchmarks/run.py --cases app-interactions` runs it on the workbook.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
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
             "SEGMENTER_PREDICTION": prediction, "SEGMENTER_RUN_LOG": "1",
             # A first visit: no workspace reopening the last run's file (ui/workspace.py), which would
             # make the drop of the same file a no-op and time nothing.
             "SEGMENTER_STORE": os.environ.get("SEGMENTER_BENCH_STORE", "off")})
    SERVER_LOG[:] = [log]
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


def _open_data_page(page, url: str) -> None:
    """Open the app as a marketer does (its first page, Segments, on the demo data), then the Data page."""
    page.goto(url, wait_until="commit")
    page.get_by_role("heading", name="Customer segments", exact=True).first.wait_for()
    page.locator(SIDEBAR).get_by_text("customers", exact=False).first.wait_for()
    _idle(page)
    _go_to(page, "Data", "Data")


def _go_to(page, link: str, heading: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=link).first.click()
    page.get_by_role("heading", name=heading, exact=True).first.wait_for()
    _idle(page)


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
                _open_data_page(page, url)
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


# Counts the app's script runs (full and fragment), so the end of the run an action starts is never
# mistaken for the end of one before it.
RUN_COUNTER = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__segRuns = 0;
  window.__segState = app.getAttribute('data-test-script-state');
  new MutationObserver(() => {
    const state = app.getAttribute('data-test-script-state');
    if (state === 'running' && window.__segState !== 'running') window.__segRuns += 1;
    window.__segState = state;
  }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
IDLE_JS = "document.querySelector('[data-testid=\"stApp\"]').getAttribute('data-test-script-state') === 'notRunning'"
ROWS_KEPT_JS = ("(() => { const s = document.querySelector('[data-testid=\"stSidebar\"]');"
                " const m = s && s.innerText.match(/([0-9,]+) of ([0-9,]+) rows kept/); return m ? m[1] : null; })()")
# Switches in an order whose every state is new, not the default, and keeps a different number of rows
# on the real data (switching "Cancelled invoice" off alone moves its rows to "Quantity zero or negative").
RULE_WALK = ("Price zero or negative", "Exact duplicate row", "Net returns against purchases", "Price zero or negative",
             "Exact duplicate row")
COUNTRIES = ("Germany", "France", "EIRE", "Spain", "Netherlands", "Belgium", "Switzerland")
PAGES = (("Customers", "Customers"), ("Segments", "Customer segments"))


# The server's own time of the runs an action started: the lines "segmenter-run WALL CPU PAGE" the
# app writes to the server's log with SEGMENTER_RUN_LOG set (_start_server sets it), summed.
SERVER_TIMES: list[float | None] = []
SERVER_LOG: list[Path] = []


def _server_runs() -> list[float]:
    if not SERVER_LOG:
        return []
    return [float(line.split()[1]) for line in SERVER_LOG[0].read_text(errors="replace").splitlines()
            if line.startswith("segmenter-run ")]


def _timed(page, action, content_js: str, quiet: float = 0.5) -> float:
    """Seconds from ``action()`` to the app idle with ``content_js`` true, after at least one run
    that started after the action; idle means no further run starts within ``quiet`` seconds."""
    before = page.evaluate("() => window.__segRuns")
    logged = len(_server_runs())
    started = time.perf_counter()
    action()
    condition = f"() => window.__segRuns > {before} && {IDLE_JS} && ({content_js})"
    while True:
        page.wait_for_function(condition, polling=20)
        ended = time.perf_counter()
        runs = page.evaluate("() => window.__segRuns")
        time.sleep(quiet)
        if page.evaluate("() => window.__segRuns") == runs and page.evaluate(f"() => {IDLE_JS}"):
            runs_logged = _server_runs()[logged:]
            SERVER_TIMES.append(round(sum(runs_logged), 3) if runs_logged else None)
            if len(runs_logged) > 1:
                print(f"  {len(runs_logged)} runs: {runs_logged}", file=sys.stderr, flush=True)
            return ended - started
        before = runs


def _stability_done(page, stability: str) -> None:
    """With the check on, wait until the check of the current customers is done (no progress bar polls)."""
    if stability == "on":
        page.wait_for_function(f"() => !document.querySelector('{SIDEBAR} [data-testid=\"stProgress\"]')",
                               polling=200)
    _idle(page)


def _k_steps(page, repeats: int) -> list[float]:
    """Move the sidebar's K slider one step at a time, each to a K not shown yet on this server."""
    slider = page.locator(K_SLIDER).first  # positions 0..n-1 of the K values
    low, high, now = slider.evaluate("e => [e.min, e.max, e.value].map(Number)")
    key = "ArrowRight" if now + repeats <= high else "ArrowLeft"
    if key == "ArrowLeft" and now - repeats < low:
        raise RuntimeError(f"the slider has no {repeats} unseen K on one side of K={now}")
    times = []
    for _ in range(repeats):
        before = page.locator(CARDS).count()
        want = before + (1 if key == "ArrowRight" else -1)
        slider.focus()
        times.append(_timed(page, lambda key=key: page.keyboard.press(key),
                            f"document.querySelectorAll('{CARDS}').length === {want}"))
    return times


def _changes_rows_kept(page, action) -> float:
    before = page.evaluate(f"() => {ROWS_KEPT_JS}")
    return _timed(page, action, f"{ROWS_KEPT_JS} !== {json.dumps(before)}")


def _rule_toggles(page, repeats: int) -> list[float]:
    times = []
    for label in (RULE_WALK * repeats)[:repeats]:
        toggle = page.locator('[data-testid="stCheckbox"]', has_text=label).first
        times.append(_changes_rows_kept(page, lambda toggle=toggle: toggle.locator("label").first.click()))
    return times


def _date_filters(page, repeats: int) -> list[float]:
    """Move the end of the purchase dates one month earlier each time: the end month's field one step
    down, then a click outside the box (Streamlit's date box sends its value when it loses focus)."""
    month = page.locator('[data-testid="stDateInput"]', has_text="Purchase dates").locator(
        '[role="spinbutton"][data-type="month"]').nth(1)
    heading = page.locator("h1").first
    times = []
    for _ in range(repeats):
        def earlier() -> None:
            month.focus()
            page.keyboard.press("ArrowDown")
            heading.click()
        times.append(_changes_rows_kept(page, earlier))
    return times


def _country_filters(page, repeats: int) -> list[float]:
    box = page.locator('[data-testid="stMultiSelect"]', has_text="Leave out these countries").locator("input").first
    times = []
    for country in COUNTRIES[:repeats]:
        def choose(country=country) -> None:
            box.click()
            box.fill(country)
            box.press("Enter")
        times.append(_changes_rows_kept(page, choose))
        page.keyboard.press("Escape")
    return times


def _page_switches(page, repeats: int) -> list[float]:
    """Segments → Customers → Segments …: each switch timed to the new page's heading and idle."""
    times = []
    for index in range(repeats):
        link, heading = PAGES[index % 2]
        nav = page.locator('[data-testid="stSidebarNav"] a', has_text=link).first
        heading_js = ("[...document.querySelectorAll('h1')].some(h => h.innerText.trim() === "
                      f"{json.dumps(heading)})")
        times.append(_timed(page, nav.click, heading_js))
    return times


def interactions_run(path: Path, customers: int, work: Path, stability: str = "on", repeats: int = 5,
                     prediction: str = "on") -> dict:
    """The file loaded as in :func:`one_run`, then each interaction ``repeats`` times (see the module doc)."""
    from playwright.sync_api import sync_playwright

    process, url = _start_server(work / "streamlit.log", stability, prediction)
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(work / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1800})
            context.set_default_timeout(300_000)
            page = context.new_page()
            stage = "opening the app"
            found: dict[str, list[float]] = {}
            server: dict[str, list[float | None]] = {}
            try:
                _open_data_page(page, url)
                stage = "uploading"
                _drop(page, path, customers)
                page.locator(SIDEBAR).get_by_text(f"{customers:,} customers").first.wait_for()
                _idle(page, timeout=300_000)
                page.evaluate(RUN_COUNTER)
                for name, go, steps in (
                        ("page_switch", ("Segments", "Customer segments"), _page_switches),
                        ("k_change", ("Segments", "Customer segments"), _k_steps),
                        ("rule_toggle", ("Data", "Data"), _rule_toggles),
                        ("date_filter", ("Data", "Data"), _date_filters),
                        ("country_filter", ("Data", "Data"), _country_filters)):
                    stage = name
                    _go_to(page, *go)
                    _stability_done(page, stability)
                    SERVER_TIMES.clear()
                    found[name] = steps(page, repeats)
                    server[name] = list(SERVER_TIMES)
                    print(name, [round(t, 2) for t in found[name]], "server", server[name], file=sys.stderr, flush=True)
            except Exception as error:
                shown = page.locator('[data-testid="stApp"]').inner_text(timeout=10_000)
                raise RuntimeError(f"app benchmark stopped at {stage}: {error}\nthe page shows:\n"
                                   f"{shown[:3000]}") from error
            context.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    return {"stability": stability, "repeats": repeats,
            **{f"{name}_s": statistics.median(times) for name, times in found.items()},
            "runs_s": {name: [round(t, 3) for t in times] for name, times in found.items()},
            "server_s": server}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("customers", type=int, help="the customer count the sidebar shows when done")
    parser.add_argument("--stability", choices=("on", "off"), default="on",
                        help="the app's background stability check (off: to compare the first segments without it)")
    parser.add_argument("--prediction", choices=("on", "off"), default="on",
                        help="the app's background prediction (off: to compare the first segments without it)")
    parser.add_argument("--interactions", action="store_true",
                        help="time K, rule, date, country and page interactions after the upload instead")
    parser.add_argument("--repeats", type=int, default=5, help="times each interaction is timed (--interactions)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="segmenter-app-bench-") as work:
        if args.interactions:
            print(json.dumps(interactions_run(args.file.resolve(), args.customers, Path(work), args.stability,
                                              args.repeats, args.prediction)))
        else:
            print(json.dumps(one_run(args.file.resolve(), args.customers, Path(work), args.stability,
                                     args.prediction)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
