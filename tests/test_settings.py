"""Settings check themselves on construction: a bad value fails where it is made, with its value named."""
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from segmentation.errors import ParameterError
from segmentation.settings import (
    CLEANING_RULES,
    ROLES,
    SWITCHABLE_RULES,
    CleaningSettings,
    Role,
    Rule,
    cleaning_rules_markdown,
)

JAN, FEB = date(2011, 1, 1), date(2011, 2, 1)


@pytest.mark.parametrize("kwargs, expected", [
    ({}, CleaningSettings()),
    ({"rules": frozenset()}, CleaningSettings(rules=frozenset())),
    ({"rules": ["cancelled", "duplicate"]}, CleaningSettings(rules=frozenset({"cancelled", "duplicate"}))),
    ({"date_from": JAN, "date_to": JAN}, CleaningSettings(date_from=JAN, date_to=JAN)),  # one day
    ({"date_from": JAN, "date_to": FEB}, CleaningSettings(date_from=JAN, date_to=FEB)),
    ({"date_to": JAN}, CleaningSettings(date_to=JAN)),
    ({"countries_include": ["France"], "countries_exclude": ["Germany"]},
     CleaningSettings(countries_include=("France",), countries_exclude=("Germany",))),
], ids=["defaults", "no-rules", "rules-as-list", "one-day", "range", "open-start", "lists-as-tuples"])
def test_good_settings_are_kept_and_hashable(kwargs, expected):
    settings = CleaningSettings(**kwargs)
    assert settings == expected
    assert hash(settings) == hash(expected)  # caches key on the settings themselves


@pytest.mark.parametrize("kwargs, message", [
    ({"rules": {"cancelld"}}, r"There is no cleaning rule 'cancelld'\. .*Rules that can be switched: duplicate, "
                              r"not_paid, cancelled, non_positive_quantity, non_positive_price\."),
    ({"rules": {"missing_customer"}}, r"Rule 'missing_customer' always runs; it cannot be switched\."),
    ({"rules": {"non_positive_amount"}}, r"'non_positive_amount' is how 'non_positive_price' is reported"),
    ({"rules": "duplicate"}, r"rules='duplicate' must be a set of rule names, not str"),
    ({"date_from": FEB, "date_to": JAN}, r"starts on 2011-02-01, after it ends on 2011-01-01\. Swap"),
    ({"date_from": "2011-01-01"}, r"date_from='2011-01-01' must be a date"),
    ({"date_to": datetime(2011, 1, 1, 12)}, r"date_to=datetime\.datetime\(2011, 1, 1, 12, 0\) must be a date"),
    ({"countries_include": ("France", "Spain"), "countries_exclude": ("Spain",)},
     r"Country 'Spain' is in both the include list and the exclude list\."),
    ({"countries_include": ("France", "Spain"), "countries_exclude": ("Spain", "France")},
     r"Countries 'France', 'Spain' are in both"),
    ({"countries_exclude": "France"}, r"countries_exclude='France' must be a list of country names"),
    ({"net_returns": "yes"}, r"net_returns='yes' must be True or False"),
], ids=["unknown-rule", "rule-always-on", "amount-name-of-a-rule", "rules-as-one-string", "dates-reversed",
        "date-as-text", "datetime", "country-in-both", "countries-in-both", "countries-as-one-string",
        "net-returns-not-bool"])
def test_bad_settings_are_refused_with_the_values(kwargs, message):
    with pytest.raises(ParameterError, match=message) as refused:
        CleaningSettings(**kwargs)
    assert refused.value.parameter in CleaningSettings.__dataclass_fields__  # a front end can point at its own widget
    assert "--" not in str(refused.value)  # core messages never name a front end's flags


def test_replace_and_with_rule_check_too():
    with pytest.raises(ParameterError, match=r"starts on 2011-02-01"):
        replace(CleaningSettings(date_to=JAN), date_from=FEB)
    with pytest.raises(ParameterError, match=r"There is no cleaning rule 'duplicates'"):
        CleaningSettings().with_rule("duplicates", False)  # switching off an unknown rule is not a no-op
    assert "cancelled" not in CleaningSettings().with_rule("cancelled", False).rules


@pytest.mark.parametrize("make, message", [
    (lambda: Rule("Bad name", "Label", "Help."), r"Rule name 'Bad name' must be a lower-case identifier"),
    (lambda: Role("customer", "Customer", "maybe", (), "Help."), r"Role 'customer': required='maybe' must be one of"),
], ids=["rule-name", "role-required"])
def test_declarations_check_themselves(make, message):
    with pytest.raises(ParameterError, match=message):
        make()


def test_switchable_rules_come_from_the_declarations():
    assert SWITCHABLE_RULES == tuple(rule.name for rule in CLEANING_RULES if rule.switchable)
    assert {role.required for role in ROLES} == {"yes", "no", "quantity+price or amount"}


def test_readme_lists_every_cleaning_rule():
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert cleaning_rules_markdown() in readme, (
        "README.md's table of cleaning rules is out of date; paste settings.cleaning_rules_markdown():\n"
        + cleaning_rules_markdown())
