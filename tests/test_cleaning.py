"""Cleaning rules: each row counted once under the first rule that drops it."""
from datetime import date

import ibis
import pytest

from segmentation import cleaning
from segmentation.cleaning import clean
from segmentation.settings import CLEANING_RULES, RULE_NAMES, CleaningSettings
from tests.canonical import ROLES_AMOUNT, ROLES_QP, line, table

GOOD = line("A", "100", "2011-01-01 10:00", 2, 5.0)


def audit_for(rows, roles=ROLES_QP, settings=CleaningSettings()):
    cleaned, audit = clean(ibis.memtable(table(*rows)), roles, settings)
    return cleaned, audit


def only_drop(audit):
    return {rule: rows for rule, rows in audit.dropped.items() if rows}


@pytest.mark.parametrize(
    "bad_row, rule",
    [
        (line("A", "101", None), "invalid_date"),
        (line("A", "102", "2011-01-02", None, 1.0), "invalid_number"),
        (line("A", "103", "2011-01-02", 1.0, float("nan")), "invalid_number"),
        (line("A", "104", "2011-01-02", float("inf"), 1.0), "invalid_number"),
        (line("A", "105", "2011-01-02", 1e308, 1e308), "invalid_number"),
        (line(None, "106", "2011-01-02"), "missing_customer"),
        # (a blank id is null in the canonical schema: parsing and sources.canonical trim ids,
        # tests/hostile's no-customer-ids case checks "" and "  " in a file end to end)
        (GOOD, "duplicate"),
        (line("A", "C108", "2011-01-02", -1, 1.0), "cancelled"),
        (line("A", "c109", "2011-01-02", 1, 1.0), "cancelled"),
        (line("A", "110", "2011-01-02", 0, 1.0), "non_positive_quantity"),
        (line("A", "111", "2011-01-02", -2, 1.0), "non_positive_quantity"),
        (line("A", "112", "2011-01-02", 1, 0.0), "non_positive_price"),
        (line("A", "113", "2011-01-02", 1, -5.0), "non_positive_price"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_each_rule_drops_its_row(bad_row, rule):
    _, audit = audit_for([GOOD, bad_row])
    assert only_drop(audit) == {rule: 1}
    assert audit.rows_in == 2 and audit.rows_kept == 1


def test_first_rule_wins_and_every_row_is_counted_once():
    rows = [
        GOOD,
        line(None, "C1", None, -1, 0.0),  # invalid date, missing customer, cancelled, ...
        line(None, "C2", "2011-01-02", -1, 0.0),  # missing customer first
        line("B", "C3", "2011-01-02", -1, 0.0),  # cancelled before quantity and price
        line("B", "4", "2011-01-02", -1, 0.0),  # quantity before price
    ]
    _, audit = audit_for(rows)
    assert only_drop(audit) == {"invalid_date": 1, "missing_customer": 1, "cancelled": 1,
                                "non_positive_quantity": 1}
    assert audit.rows_in == audit.rows_kept + audit.rows_dropped == 5


def test_audit_lists_every_rule_in_order_with_customers_and_revenue():
    rows = [GOOD, GOOD, GOOD, line("B", "C9", "2011-01-03", -2, 3.0)]
    _, audit = audit_for(rows)
    assert list(audit.table["rule"]) == list(RULE_NAMES)
    duplicate = audit.table.set_index("rule").loc["duplicate"]
    assert (duplicate["rows"], duplicate["customers"], duplicate["revenue"]) == (2, 1, 20.0)
    cancelled = audit.table.set_index("rule").loc["cancelled"]
    assert (cancelled["rows"], cancelled["customers"], cancelled["revenue"]) == (1, 1, -6.0)


@pytest.mark.parametrize("by_hash", [True, False], ids=["duckdb-row-hashes", "grouped-lines"])
def test_both_ways_of_finding_copies_give_the_same_audit_and_customers(by_hash, monkeypatch):
    """DuckDB finds copies by row hashes, other engines by grouping the rows (cleaning.py)."""
    import segmentation.cleaning as cleaning

    monkeypatch.setattr(cleaning, "_hashes_rows", lambda transactions: by_hash)
    no_customer = line(None, "5", "2011-01-02", 2, 5.0)
    cancelled = line("B", "C6", "2011-01-03", -1, 4.0)
    rows = [GOOD, GOOD, GOOD, no_customer, no_customer, no_customer, cancelled, cancelled,
            line("B", "7", "2011-01-04", 1, 3.0)]
    cleaned, audit = audit_for(rows)
    table = audit.table.set_index("rule")
    # copies of a row an early rule drops stay under that rule, each with its own revenue
    assert tuple(table.loc["missing_customer", ["rows", "revenue"]]) == (3, 30.0)
    # of the others one row goes on, the copies count as duplicates
    assert tuple(table.loc["duplicate", ["rows", "customers", "revenue"]]) == (3, 2, 20.0 - 4.0)
    assert tuple(table.loc["cancelled", ["rows", "revenue"]]) == (1, -4.0)
    assert audit.rows_in == len(rows) and audit.rows_kept == 2
    purchases = cleaned.purchases.execute().set_index(["customer_id", "purchase"])
    assert purchases.loc[("A", "100"), "units"] == 10_000_000 and purchases.loc[("A", "100"), "copies"] == 2


@pytest.mark.parametrize("rule, row", [
    ("duplicate", GOOD),
    ("cancelled", line("A", "C5", "2011-01-02", 1, 1.0)),
    ("non_positive_quantity", line("A", "6", "2011-01-02", -1, 1.0)),
    ("non_positive_price", line("A", "7", "2011-01-02", 1, 0.0)),
])
def test_switching_a_rule_off_keeps_its_rows(rule, row):
    settings = CleaningSettings().with_rule(rule, False)
    _, audit = audit_for([GOOD, row], settings=settings)
    assert audit.rows_kept == 2 and audit.dropped[rule] == 0


def test_description_missing_becomes_unknown():
    cleaned, _ = audit_for([line("A", "1", "2011-01-01", description=None)])
    assert cleaned.kept.execute()["description"].tolist() == ["Unknown"]


def test_amount_files_drop_non_positive_amounts_under_their_own_name():
    rows = [line("A", None, "2011-01-01", None, None, amount=10.0),
            line("A", None, "2011-01-02", None, None, amount=0.0),
            line("A", None, "2011-01-03", None, None, amount=None)]
    _, audit = audit_for(rows, roles=ROLES_AMOUNT)
    assert only_drop(audit) == {"non_positive_amount": 1, "invalid_number": 1}
    assert "non_positive_price" not in audit.dropped


def test_date_range_and_country_filters():
    rows = [line("A", "1", "2011-01-01", country="France"),
            line("A", "2", "2011-02-01", country="France"),
            line("B", "3", "2011-03-01", country="Germany"),
            line("C", "4", "2011-03-02", country=None)]
    settings = CleaningSettings(date_from=date(2011, 1, 15), date_to=date(2011, 3, 1))
    _, audit = audit_for(rows, settings=settings)
    assert only_drop(audit) == {"outside_date_range": 2}
    _, audit = audit_for(rows, settings=CleaningSettings(countries_include=("France",)))
    assert only_drop(audit) == {"country_filtered": 2}
    _, audit = audit_for(rows, settings=CleaningSettings(countries_exclude=("France",)))
    assert only_drop(audit) == {"country_filtered": 2}


def test_net_returns_keeps_returns_as_negative_revenue():
    rows = [line("A", "1", "2011-01-01", 4, 5.0),
            line("A", "C2", "2011-01-05", -1, 5.0),
            line("B", "3", "2011-01-01", 1, 5.0),
            line("B", "C4", "2011-01-02", -1, 5.0)]  # B returns everything
    cleaned, audit = audit_for(rows, settings=CleaningSettings(net_returns=True))
    assert only_drop(audit) == {"non_positive_customer_total": 2}
    kept = cleaned.kept.execute()
    assert kept["line_units"].sum() / 1e6 == pytest.approx(15.0)


def test_money_in_integer_units_cannot_go_negative_by_float_noise():
    # 0.1 + 0.2 - 0.3 is 5.5e-17 in floats; in integer millionths it is exactly 0.
    rows = [line("A", "1", "2011-01-01", 1, 0.1), line("A", "2", "2011-01-01", 1, 0.2),
            line("A", "C3", "2011-01-01", -1, 0.3)]
    _, audit = audit_for(rows, settings=CleaningSettings(net_returns=True))
    assert only_drop(audit) == {"non_positive_customer_total": 3}


def test_registry_pairs_every_declared_rule_with_when_and_what_it_drops():
    from segmentation import cleaning

    assert [rule.name for rule in cleaning.RULES] == list(RULE_NAMES)
    assert [rule.rule for rule in cleaning.RULES] == list(CLEANING_RULES)
    assert [rule.stage for rule in cleaning.RULES] == ["row"] * 3 + ["copies"] + ["line"] * 6 + ["customer"]


@pytest.mark.parametrize("rules, message", [
    (CLEANING_RULES[:-1], r"\['non_positive_customer_total'\] are declared .* or given a predicate"),
    (CLEANING_RULES[3:] + CLEANING_RULES[:3], r"must run in the stages"),
], ids=["rule-without-declaration", "stages-out-of-order"])
def test_registry_refuses_rules_it_cannot_run_in_order(rules, message):
    from segmentation import cleaning

    with pytest.raises(RuntimeError, match=message):
        cleaning._registry(rules, cleaning._HOW)


# ----------------------------------------------------------------------------- whole-row duplicates

def test_rows_that_differ_only_in_an_unmapped_column_are_not_duplicates():
    """The issue-14 loss: lines alike in every mapped column but not in the whole row were dropped."""
    from segmentation import parsing, pipeline
    from tests.engines import edge_cases

    raw = edge_cases.unmapped_rows_table()
    parsed = parsing.to_canonical(raw, edge_cases.ROLES).table
    assert parsed.column_names[-2:] == ["unmapped_1", "unmapped_2"]
    edge_cases.assert_no_line_dropped(pipeline.prepare_canonical(parsed, edge_cases.ROLES))
    # the same rows without the line number are 99 copies of one line
    same = parsing.to_canonical(raw.drop_columns(["LineNo"]), edge_cases.ROLES).table
    assert pipeline.prepare_canonical(same, edge_cases.ROLES).audit.dropped["duplicate"] == 99


@pytest.mark.parametrize("grouped_on_text", [False, True], ids=["row hashes", "grouped columns"])
def test_a_whole_row_copy_is_still_a_duplicate(grouped_on_text, monkeypatch):
    """Both ways of finding copies (DuckDB's row hashes, the engines' group by) count whole-row
    copies once and keep rows that differ in an unmapped column."""
    import pyarrow as pa

    from segmentation import cleaning, parsing, pipeline
    from tests.engines import edge_cases

    if grouped_on_text:
        monkeypatch.setattr(cleaning, "_hashes_rows", lambda transactions: False)
    raw = edge_cases.unmapped_rows_table()
    raw = pa.concat_tables([raw, raw.slice(0, 3), raw.slice(0, 1)])  # rows 1-3 twice more, row 1 once more
    prepared = pipeline.prepare_canonical(parsing.to_canonical(raw, edge_cases.ROLES).table, edge_cases.ROLES)
    assert prepared.audit.dropped["duplicate"] == 4
    assert prepared.audit.rows_kept == edge_cases.UNMAPPED_ROWS


# ------------------------------------------------------------------------- rules that overlap or cannot apply

NO_INVOICE = {role: column for role, column in ROLES_QP.items() if role != "invoice"}


@pytest.mark.parametrize("roles, settings, inapplicable", [
    (ROLES_QP, CleaningSettings(), set()),
    (NO_INVOICE, CleaningSettings(), {"cancelled"}),
    (ROLES_AMOUNT, CleaningSettings(), {"cancelled", "non_positive_quantity"}),  # CDNOW-like: no invoice
    (ROLES_QP, CleaningSettings(net_returns=True), {"cancelled", "non_positive_quantity"}),
], ids=["all-apply", "no-invoice", "amount-file", "net-returns"])
def test_rules_that_cannot_remove_a_row_are_named_with_the_reason(roles, settings, inapplicable):
    why = cleaning.inapplicable_rules(roles, settings)
    assert set(why) == inapplicable
    assert all(reason.endswith(".") and len(reason) > 30 for reason in why.values())


def test_an_inapplicable_rule_really_removes_nothing_whatever_its_switch():
    rows = [GOOD, line("A", "C2", "2011-01-02", -1, 1.0), line("B", "3", "2011-01-02", -2, 1.0)]
    for rule in cleaning.inapplicable_rules(ROLES_QP, CleaningSettings(net_returns=True)):
        on = audit_for(rows, settings=CleaningSettings(net_returns=True))[1]
        off = audit_for(rows, settings=CleaningSettings(net_returns=True).with_rule(rule, False))[1]
        assert on.dropped[rule] == 0 and off.dropped == on.dropped


def test_cancelled_off_moves_its_rows_to_the_quantity_rule_and_says_so():
    rows = [GOOD, line("A", "C2", "2011-01-02", -1, 1.0), line("A", "C3", "2011-01-03", -4, 2.0)]
    settings = CleaningSettings().with_rule("cancelled", False)
    on, off = audit_for(rows)[1], audit_for(rows, settings=settings)[1]
    assert (on.dropped["cancelled"], off.dropped["non_positive_quantity"], off.rows_kept) == (2, 2, on.rows_kept)
    notes = cleaning.rule_overlaps(ROLES_QP, settings)
    assert len(notes) == 1 and '"Quantity zero or negative" removes them instead' in notes[0]
    assert cleaning.rule_overlaps(ROLES_QP, CleaningSettings()) == []


def test_amount_files_label_the_price_rule_as_a_line_amount_rule():
    _, audit = audit_for([GOOD], roles=ROLES_AMOUNT)
    labels = dict(zip(audit.table["rule"], audit.table["label"]))
    assert labels["non_positive_amount"] == "Line amount zero or negative"
    assert cleaning.rule_labels(ROLES_QP)["non_positive_price"] == "Price zero or negative"
