"""Segmenter dashboard: `streamlit run app.py`.

This script runs on every page (st.navigation): it computes the shared results once per run
(ui.results), draws the sidebar (which data is loaded, K, a link to load your own) and then runs
the page. Page scripts live in ``views/``, not ``pages/``: a ``pages/`` folder next to this file
makes Streamlit run its first request in the legacy multipage mode, where a deep link such as
``/segments`` on a freshly started server runs the page script alone, without this sidebar.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import streamlit as st

from segmentation.errors import SegmenterError
from segmentation.stability import no_stable_message
from ui import prediction, results, session, sources, stability
from ui import saved as saved_ui
from ui import workspace as workspace_ui
from ui.errors import show_error
from ui.render import stability_progress
from ui.text import md

started, started_cpu = time.perf_counter(), time.thread_time()
# The tab's icon is a file of the app, served by this server: a ":material/...:" page icon is an
# image the browser fetches from fonts.gstatic.com, a request outside the server (the menu's
# :material: icons are drawn with the font Streamlit serves itself).
ICON = Path(__file__).parent / "ui" / "assets" / "segmenter-icon.png"
st.set_page_config(page_title="Segmenter — customer segments", page_icon=str(ICON), layout="wide")

# Sign-in ([auth] in .streamlit/secrets.toml): nothing of the app runs before the user is signed in
# with Streamlit's verified identity, and on the allow-list when there is one.
if workspace_ui.signin_required():
    if not st.user.is_logged_in:
        st.title("Segmenter")
        st.markdown("Sign in to see your files, your team's segmentations and your recorded runs.")
        st.button("Sign in", key="sign_in", on_click=st.login, type="primary", icon=":material/login:")
        st.stop()
    if not workspace_ui.allowed():
        st.title("Segmenter")
        st.warning(f"**{md(workspace_ui.email() or 'This account')}** is not on this Segmenter's list of users. "
                   "Ask the person who runs it to add your address or your domain, or sign in with another "
                   "account.", icon=":material/block:")
        st.button("Sign out", key="sign_out_refused", on_click=st.logout, icon=":material/logout:")
        st.stop()

PAGES = {
    "segments": st.Page("views/segments.py", title="Segments", icon=":material/donut_small:", url_path="segments",
                        default=True),
    "data": st.Page("views/data.py", title="Data", icon=":material/upload_file:", url_path="data"),
    "choose_k": st.Page("views/choose_k.py", title="Choose K", icon=":material/tune:", url_path="choose-k"),
    "customers": st.Page("views/customers.py", title="Customers", icon=":material/groups:", url_path="customers"),
    "changes": st.Page("views/changes.py", title="Changes", icon=":material/swap_horiz:", url_path="changes"),
    "outlook": st.Page("views/outlook.py", title="Outlook", icon=":material/trending_up:", url_path="outlook"),
    "history": st.Page("views/history.py", title="History", icon=":material/timeline:", url_path="history"),
    "workspace": st.Page("views/workspace.py", title="Workspace", icon=":material/folder_shared:",
                         url_path="workspace"),
}
page = st.navigation([PAGES["data"], PAGES["choose_k"], PAGES["segments"], PAGES["customers"], PAGES["changes"],
                      PAGES["outlook"], PAGES["history"], PAGES["workspace"]], position="sidebar", expanded=True)

session.init(sources.DEMO)  # a new session starts on the built-in demo data, unless
workspace_ui.restore()  # the user's workspace reopens their last file and settings (reload, new tab)
workspace_ui.keep_file()  # a file just loaded is kept in the user's workspace
outcome = results.compute()

with st.sidebar:
    st.markdown("### Segmenter")
    if isinstance(outcome, SegmenterError):
        st.warning("No data to show yet: fix the problem on the Data page.", icon=":material/warning:")
    else:
        spec = outcome.spec
        src = spec.source
        customers = len(outcome.prepared.customers)
        where = "the built-in demo data" if src.builtin else f"**{md(src.name)}**"
        sheet = f" (sheet {md(outcome.loaded.sheet)})" if outcome.loaded.sheet else ""
        st.markdown(f"Showing {where}{sheet}: {outcome.prepared.audit.rows_kept:,} of "
                    f"{outcome.prepared.audit.rows_in:,} rows kept, **{customers:,} customers**.")
        if src.builtin:
            st.caption("Load your own transactions on the Data page.")
        st.page_link(PAGES["data"], label="Load or change data", icon=":material/upload_file:")
        if outcome.stale and session.source() != src:
            st.warning(f"{md(session.source().name)} cannot be segmented yet (see the Data page); "
                       f"these are the results of {where}.", icon=":material/history:")
        elif outcome.stale:
            st.warning("The latest settings did not work; showing the last results that did.",
                       icon=":material/history:")
        frozen = saved_ui.in_use()
        if frozen is not None:
            st.caption(f"K = {frozen.k} from the saved segmentation {md(saved_ui.name())}.")
        elif not outcome.degenerate:
            session.sync_widget("w_k_sidebar", outcome.k)
            # The suggestion as far as it is known: after a change of the cleaning or the filters the
            # K on screen stays and the new data's K evidence is computed when Choose K is opened.
            known = outcome.known_suggestion()
            st.select_slider(
                "Number of segments (K)",
                options=outcome.k_values,
                key="w_k_sidebar",
                on_change=session.on_k_widget,
                args=("w_k_sidebar",),
                help=(f"Suggested: K={known.k}. " if known is not None else "")
                + "See the Choose K page for the evidence.",
            )
        if frozen is None:
            known = outcome.known_suggestion()
            suggested = ("" if known is None else " (suggested)" if outcome.k == known.k
                         else f" (suggested: {known.k})")
            st.caption(f"K = {outcome.k}{suggested}, seed {outcome.seed}.")
    if workspace_ui.store() is not None:
        st.button("Save this run", key="save_run", on_click=workspace_ui.record, args=(outcome,),
                  icon=":material/bookmark_add:",
                  help="Keeps the file, the settings and each segment's size and revenue on the History page.")

with st.sidebar:
    if workspace_ui.signin_required():
        st.caption(f"Signed in as **{md(workspace_ui.email())}**")
        st.button("Sign out", key="sign_out", on_click=st.logout, icon=":material/logout:")
    if (said := workspace_ui.notice()) is not None:
        st.success(md(said), icon=":material/check_circle:")
    if (lacking := workspace_ui.not_installed()) is not None:
        st.caption(lacking)
    if (trouble := workspace_ui.problem()) is not None:
        st.warning(f"**Not saved.** {md(trouble.message)} {md(trouble.hint or '')}", icon=":material/cloud_off:")

if isinstance(outcome, SegmenterError):
    show_error(outcome, context="The data cannot be segmented")
elif outcome.error is not None and page.url_path != "data":  # the Data page says it with its status
    show_error(outcome.error, context="Your latest change did not work — the previous results stay on screen")
elif outcome.degenerate:  # too few distinct customers to compare K: segments shown, with a warning
    st.warning(md(outcome.suggestion.reason), icon=":material/warning:")
elif outcome.stability is not None and (unstable := no_stable_message(outcome.stability.table())):
    st.warning(md(unstable), icon=":material/warning:")
if not isinstance(outcome, SegmenterError) and outcome.favoured_k is not None and saved_ui.in_use() is None:
    # The check ended after these segments were shown: its evidence is offered, never applied by itself.
    with st.container(key="stability_offer"):
        st.info(f"Stability checked: segments come back most reliably with **K = {outcome.favoured_k}** "
                f"(see Choose K). The segments on screen and in every download stay at K = {outcome.k} "
                "until you switch.", icon=":material/lightbulb:")
        st.button(f"Stability favours K={outcome.favoured_k} — use it", key="use_favoured_k",
                  on_click=session.set_k, args=(outcome.favoured_k,))

page.run()
workspace_ui.after_run()  # keeps a newly loaded file and remembers the choices for the next visit

# The stability check starts only now, once the page is on screen, and runs in the background;
# the sidebar shows its progress and the app reruns once when it is done (ui/stability.py) —
# except on the pages that show no stability (Data, with its uploader; Changes), which it leaves alone.
# On the Data page with the demo data the marketer is about to load their own file: the demo's
# check would only compete with that upload on their machine (measured in the browser), so it
# does not run there and one still running for this session is stopped.
if not isinstance(outcome, SegmenterError) and outcome.stability_key is not None and outcome.stability is None:
    if page.url_path == "data" and outcome.spec.source.builtin:
        stability.release(session.token())
    else:
        stability.start(outcome.stability_key, outcome.prepared.customers, session=session.token())
        with st.sidebar:
            stability_progress(outcome.stability_key, redraw_when_done=page.url_path not in ("data", "changes"))

# The predictions (ui/prediction.py) likewise start only now, in the background; nothing is redrawn
# when they are done: the cards and the Customers table show them on the marketer's next action.
# Not on the Data page, which shows none: there the marketer uploads, maps and changes the cleaning,
# and a prediction of each intermediate setting (a second cleaning pass and two fits) would compete
# with the next change on the machine (measured in the browser); it starts on the next page.
if not isinstance(outcome, SegmenterError) and page.url_path != "data":
    prediction.start(outcome)

# The server time of this run (wall clock, CPU of the script thread) for tests and benchmarks; not
# shown: it is debug information, not something a marketer acts on.
st.session_state[session.RUN_SECONDS] = (time.perf_counter() - started, time.thread_time() - started_cpu)
if os.environ.get("SEGMENTER_RUN_LOG"):  # benchmarks/app_latency.py: the server's share of an interaction
    print("segmenter-run {:.3f} {:.3f} {}".format(*st.session_state[session.RUN_SECONDS], page.url_path),
          file=sys.stderr, flush=True)
