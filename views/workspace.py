"""Workspace page: the files this user keeps (reopen one without uploading it, delete it), the
segmentations they saved and those the team shares (apply, share, unshare, delete)."""
from __future__ import annotations

import streamlit as st

from segmentation import formats
from segmentation.errors import SegmenterError
from ui import results
from ui import saved as saved_ui
from ui import workspace as workspace_ui
from ui.text import md, plain

st.title("Your workspace")
store = workspace_ui.store()
if store is None:
    st.info(f"{workspace_ui.why_nothing_is_kept()}: files and segmentations last only for this visit.",
            icon=":material/info:")
    st.stop()
who = workspace_ui.user()

# --- files --------------------------------------------------------------------------------------
st.subheader("Your files")
kept = workspace_ui.files()
if not kept:
    st.caption("No file kept yet: a file you load on the Data page is kept here, so you can reopen it "
               "without uploading it again.")
else:
    used = sum(f.size for f in kept)
    st.caption(f"{formats.plural(len(kept), 'file')}, {used / 1e6:,.1f} MB of your {store.quota_bytes / 1e6:,.0f} MB. "
               "Only you can see them.")
    st.markdown("\n".join(f"- **{md(f.name)}** — {f.size / 1e6:,.2f} MB, kept since {formats.day(f.uploaded)}"
                           for f in kept))
    names = {f.id: f"{f.name} ({formats.day(f.uploaded)})" for f in kept}
    left, middle, right = st.columns([3, 1, 1], vertical_alignment="bottom")
    chosen = left.selectbox("File", list(names), format_func=lambda i: plain(names[i]), key="w_workspace_file")
    if middle.button("Open this file", key="workspace_open", icon=":material/folder_open:"):
        workspace_ui.open_file(chosen)
        if workspace_ui.problem() is None:
            st.switch_page("views/data.py")
    right.button("Delete this file", key="workspace_delete", icon=":material/delete:",
                 on_click=workspace_ui.delete_file, args=(chosen,),
                 help="Deletes the file from the workspace for good; runs recorded on it keep their numbers.")

# --- segmentations ------------------------------------------------------------------------------
st.subheader("Saved segmentations")
outcome = results.results()
if not isinstance(outcome, SegmenterError):
    with st.form("workspace_save_form", border=False):
        left, middle, right = st.columns([3, 1, 1], vertical_alignment="bottom")
        name = left.text_input("Save the segments on screen as", key="w_workspace_seg_name",
                               placeholder="e.g. Agreed segments 2026", max_chars=120)
        shared = middle.checkbox("Share with the team", key="w_workspace_seg_shared")
        if right.form_submit_button("Save segmentation", icon=":material/save:"):
            if name.strip():
                workspace_ui.save_segmentation(name, outcome, shared=shared)
                st.rerun()
            st.warning("Type a name for the segmentation first.", icon=":material/warning:")

everything = workspace_ui.segmentations()
mine = [s for s in everything if s.owner == who]
team = [s for s in everything if s.owner != who]
in_use = saved_ui.name() if saved_ui.in_use() is not None else None


def _listing(segmentations, *, with_owner: bool) -> None:
    """One line per segmentation (Markdown, user text escaped): name, K, when, by whom or shared."""
    lines = []
    for s in segmentations:
        whose = f"by {md(s.owner)}" if with_owner else ("shared with the team" if s.shared else "only you")
        lines.append(f"- **{md(s.name)}** — K = {s.k}, saved {formats.day(s.saved)}, {whose}")
    st.markdown("\n".join(lines))


if in_use:
    st.caption(f"In use now: the saved segmentation {md(in_use)}.")
if mine:
    st.markdown("**Yours**")
    _listing(mine, with_owner=False)
    names = {s.id: s for s in mine}
    left, b1, b2, b3 = st.columns([3, 1, 1, 1], vertical_alignment="bottom")
    chosen = left.selectbox("Segmentation", list(names), format_func=lambda i: plain(names[i].name),
                            key="w_workspace_mine")
    b1.button("Apply", key="workspace_apply_mine", on_click=workspace_ui.apply_segmentation, args=(chosen,),
              icon=":material/check:")
    sharing = names[chosen].shared
    b2.button("Stop sharing" if sharing else "Share with the team", key="workspace_share",
              on_click=workspace_ui.share, args=(chosen, not sharing), icon=":material/group:")
    b3.button("Delete", key="workspace_delete_seg", on_click=workspace_ui.delete_segmentation, args=(chosen,),
              icon=":material/delete:")
else:
    st.caption("You have not saved a segmentation yet.")

st.markdown("**Team segmentations**")
if team:
    _listing(team, with_owner=True)
    shared_names = {s.id: s for s in team}
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    picked = left.selectbox("Team segmentation", list(shared_names),
                            format_func=lambda i: plain(f"{shared_names[i].name} (by {shared_names[i].owner})"),
                            key="w_workspace_team")
    right.button("Apply", key="workspace_apply_team", on_click=workspace_ui.apply_segmentation, args=(picked,),
                 icon=":material/check:", help="Only its owner can change or unshare it.")
else:
    st.caption("No one has shared a segmentation with the team yet.")
