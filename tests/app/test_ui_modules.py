"""ui/ by concern: cache keys derived from the settings dataclasses, modules that draw vs. modules that don't,
no import cycle, and progress boxes only for steps that really ran (told by the step, not a global record)."""
from __future__ import annotations

import ast
import dataclasses
import re
from dataclasses import dataclass, fields, replace
from datetime import date

import pytest
from streamlit.elements.layouts import LayoutsMixin
from streamlit.elements.lib.mutable_status_container import StatusContainer
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Status

from segmentation import parsing, pipeline, preparation, reading
from segmentation.settings import CleaningSettings
from tests.app.app_helpers import REPO, new_app, results, to_csv, transactions, upload
from ui.session import Spec, settings_key
from ui.sources import DEMO, FileSource

UI = REPO / "ui"


def spec_with(cleaning: CleaningSettings) -> Spec:
    return Spec(source=DEMO, overrides=(), cleaning=cleaning, snapshot=None)


def another_value(name: str, value):
    """A valid value of a settings field other than ``value`` (by the field's default type)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, frozenset):
        return value - {sorted(value)[0]} if value else frozenset({"duplicate"})
    if isinstance(value, tuple):
        return (*value, "France")
    if value is None and "date" in name:
        return date(2023, 3, 1)
    if isinstance(value, (int, float)):
        return value + 1
    pytest.fail(f"CleaningSettings.{name}: teach another_value() a second value of {value!r}, so this test "
                "checks that the field is part of the UI cache key")


@pytest.mark.parametrize("name", [f.name for f in fields(CleaningSettings)])
def test_every_cleaning_setting_is_in_the_cache_key(name):
    """A field that did not change the key would serve another setting's cached customers."""
    base = CleaningSettings()
    changed = replace(base, **{name: another_value(name, getattr(base, name))})
    assert changed != base
    assert spec_with(changed).key() != spec_with(base).key()


def test_a_new_settings_field_changes_the_key_without_listing_it():
    @dataclass(frozen=True)
    class FutureCleaning(CleaningSettings):
        min_order_value: float = 0.0

    assert settings_key(FutureCleaning(min_order_value=5.0)) != settings_key(FutureCleaning())


def test_equal_settings_give_equal_keys():
    rules = sorted(CleaningSettings().rules)
    forward = CleaningSettings(rules=frozenset(rules), date_from=date(2023, 1, 1))
    backward = CleaningSettings(rules=frozenset(reversed(rules)), date_from=date(2023, 1, 1))
    assert spec_with(forward).key() == spec_with(backward).key()
    assert hash(spec_with(forward).key()) == hash(spec_with(backward).key())


def test_the_key_holds_the_digest_never_the_bytes():
    upload_source = FileSource("shop.csv", "d" * 64, data=b"CustomerID,secret-bytes")
    key = Spec(source=upload_source, overrides=(), cleaning=CleaningSettings(), snapshot=None).key()
    assert "secret-bytes" not in repr(key) and "d" * 64 in key


# ---------------------------------------------------------------------------------------------- layout

DRAWING_MODULES = {"render.py", "errors.py", "progress.py"}  # the only ui modules that put elements on screen
# st.user and st.secrets are read-only state too (who is signed in, the [auth] settings: ui/workspace.py)
STATE_ONLY = {"session_state", "cache_data", "cache_resource", "user", "secrets"}


def st_uses(path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "st"}


@pytest.mark.parametrize("module", sorted(p.name for p in UI.glob("*.py") if p.name not in DRAWING_MODULES))
def test_state_modules_draw_nothing(module):
    assert st_uses(UI / module) <= STATE_ONLY, f"ui/{module} draws; drawing helpers go in ui/render.py"


def ui_imports(path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                found |= {node.module} if node.module else {a.name for a in node.names}
            elif node.module == "ui":
                found |= {a.name for a in node.names}
            elif node.module and node.module.startswith("ui."):
                found.add(node.module.split(".")[1])
    return found


def test_ui_modules_import_each_other_without_a_cycle():
    graph = {p.stem: ui_imports(p) & {q.stem for q in UI.glob("*.py")} for p in UI.glob("*.py")}
    visiting, done = set(), set()

    def visit(module, path):
        assert module not in visiting, " -> ".join([*path, module])
        if module in done:
            return
        visiting.add(module)
        for imported in sorted(graph[module]):
            visit(imported, [*path, module])
        visiting.discard(module)
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_settings_key_is_total_over_dataclass_fields():
    """The key lists every field by name, in declaration order (what the cache key test relies on)."""
    names = [name for name, _ in settings_key(CleaningSettings())[1]]
    assert names == [f.name for f in dataclasses.fields(CleaningSettings)]


# ---------------------------------------------------------------------------------------------- pickers

def _counted_picker(labelled: bool) -> None:
    """A keyed picker whose labels carry a count that changes while its value stays (issue 21, item 3)."""
    import streamlit as st

    from ui.render import labelled_selectbox

    counts = {"a": st.session_state.get("count", 213), "b": 5}

    def label(option: str) -> str:
        return f"{option} ({counts[option]:,} customers)"

    if labelled:
        labelled_selectbox(st, "Flow", ["a", "b"], key="w_flow", format_func=label)
    else:
        st.selectbox("Flow", ["a", "b"], key="w_flow", format_func=label)


@pytest.mark.parametrize("labelled, sent", [
    # Streamlit alone sends nothing when a kept value's label changes: the browser keeps "a (213 customers)".
    (False, [None, None, None, None]),
    # labelled_selectbox sends the value again with its new label, once, and only for that value.
    (True, ["a (127 customers)", None, None, None]),
], ids=["st.selectbox", "labelled_selectbox"])
def test_a_kept_value_is_sent_to_the_browser_again_when_its_label_changes(labelled, sent):
    at = AppTest.from_function(_counted_picker, args=(labelled,), default_timeout=60).run()
    steps = [("count", 127, "a"),  # the data changes under the value
             ("count", 127, "a"),  # a rerun with nothing changed
             ("pick", "b", "b"),  # the marketer picks another option
             ("count", 99, "b")]  # the data changes, but not the picked value's label
    seen = []
    for what, value, expected in steps:
        if what == "pick":
            at.selectbox(key="w_flow").set_value(value).run()
        else:
            at.session_state["count"] = value
            at.run()
        assert not at.exception
        box = at.selectbox(key="w_flow")
        assert box.value == expected
        seen.append(box.proto.raw_value if box.proto.set_value else None)
    assert seen == sent


# ---------------------------------------------------------------------------------------------- progress

def test_progress_shows_for_a_step_that_ran_and_not_for_a_cache_hit_or_a_rerun():
    data = to_csv(transactions(n_customers=31, seed=20261130))  # bytes no other test uploads: a cache miss
    first = new_app()
    upload(first, "fresh.csv", data)
    labels = status_labels(first)
    assert any(label.startswith("Cleaning the data") and "done in" in label for label in labels), labels
    assert all("done in" in label for label in labels), labels  # no box left without its outcome
    first.switch_page("views/segments.py").run()  # a rerun of steps this session has shown
    assert status_labels(first) == []

    second = new_app()  # another session, same bytes: every step is a cache hit, so no box
    upload(second, "fresh.csv", data)
    assert results(second).prepared.customers.equals(results(first).prepared.customers)
    assert status_labels(second) == []


def test_every_step_after_an_upload_is_announced_before_it_runs(monkeypatch):
    """Reading, parsing, cleaning and the K scan each show what they do before the work starts.

    The core calls are wrapped to record when they run, the status boxes to record when they are
    opened or relabelled: one sequence of events, in the order the browser receives them. A box
    opened only after its step (e.g. a spinner around the read, or a box drawn with the result)
    fails this test; no time is measured.
    """
    events: list[tuple[str, str]] = []
    open_status, update_status = LayoutsMixin.status, StatusContainer.update

    def recorded_open(self, label, *args, **kwargs):
        events.append(("box", unescaped(label)))
        return open_status(self, label, *args, **kwargs)

    def recorded_update(self, *, label=None, **kwargs):
        if label is not None:
            events.append(("box", unescaped(label)))
        return update_status(self, label=label, **kwargs)

    def recorded(name, function):
        def run(*args, **kwargs):
            events.append(("run", name))
            result = function(*args, **kwargs)
            events.append(("done", name))
            return result
        return run

    app = new_app()  # the demo data first, unrecorded
    monkeypatch.setattr(LayoutsMixin, "status", recorded_open)
    monkeypatch.setattr(StatusContainer, "update", recorded_update)
    monkeypatch.setattr(reading, "read_file", recorded("read", reading.read_file))
    monkeypatch.setattr(parsing, "to_canonical", recorded("parse", parsing.to_canonical))
    monkeypatch.setattr(preparation, "clean", recorded("clean", preparation.clean))
    monkeypatch.setattr(pipeline, "scan_for", recorded("scan", pipeline.scan_for))
    data = to_csv(transactions(n_customers=29, seed=20261201))  # bytes no other test uploads: every step runs
    upload(app, "announced.csv", data)
    assert results(app).spec.source.name == "announced.csv"

    def first(kind: str, matches) -> int:
        found = [i for i, (k, text) in enumerate(events) if k == kind and matches(text)]
        assert found, (kind, events)
        return found[0]

    for step, announced in [
        ("read", lambda label: label == "Reading announced.csv"),
        ("parse", lambda label: label.startswith("Cleaning the data") and "Reading values" in label),
        ("clean", lambda label: label.startswith("Cleaning the data") and "Cleaning rows" in label),
        ("scan", lambda label: label.startswith("Comparing segmentations")),
    ]:
        assert first("box", announced) < first("run", lambda name, step=step: name == step), (step, events)
    assert first("done", lambda name: name == "read") < first("run", lambda name: name == "parse")
    # the read was announced once, on the Data page: the app's own "Reading the data" box did not come back
    assert not [text for kind, text in events if kind == "box" and text.startswith("Reading the data")], events


def unescaped(markdown: str) -> str:
    """A label as read on screen (Markdown escapes of user text removed)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def status_labels(at) -> list[str]:
    """Labels of the st.status boxes of the last run (app.py draws them above the page)."""
    return [block.label for block in at.main.children.values() if isinstance(block, Status)]


def test_caches_live_where_the_architecture_says():
    """ARCHITECTURE's "Caches:" paragraph names every ui module with a st.cache_* wrapper, and only those."""
    caching = {f"ui/{p.name}" for p in UI.glob("*.py") if re.search(r"@st\.cache_(data|resource)", p.read_text())}
    text = (REPO / "docs" / "ARCHITECTURE.md").read_text()
    paragraph = text.split("\nCaches: ", 1)[1].split("\n\n", 1)[0]
    named = set(re.findall(r"`(ui/\w+\.py)`", paragraph))
    assert caching == named == {"ui/cache.py", "ui/migration.py", "ui/saved.py", "ui/stability.py",
                                 "ui/prediction.py", "ui/workspace.py"}

