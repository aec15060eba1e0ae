"""Numbers for people: money with its currency and cents, plural words, the one date format, labels."""
from datetime import date

import pytest

from segmentation import formats
from segmentation.settings import OUTPUT_COLUMNS


@pytest.mark.parametrize("value, currency, text", [
    (1447682.0, None, "1,447,682.00"), (-608689.456, None, "−608,689.46"), (60516.44, "£", "£60,516.44"),
    (12.5, "€", "€12.50"), (3.0, "CHF", "3.00 CHF"), (-2.5, "$", "−$2.50"),
])
def test_money(value, currency, text):
    assert formats.money(value, currency) == text


@pytest.mark.parametrize("currency, printf", [(None, "%,.2f"), ("£", "£%,.2f"), ("CHF", "%,.2f CHF")])
def test_money_format_of_a_table_column(currency, printf):
    assert formats.money_format(currency) == printf


@pytest.mark.parametrize("count, word, text", [
    (1, "purchase", "1 purchase"), (2, "purchase", "2 purchases"), (0, "day", "0 days"),
    (1024, "customer", "1,024 customers"),
])
def test_plural(count, word, text):
    assert formats.plural(count, word) == text


def test_one_date_format():
    assert formats.day(date(2011, 9, 11)) == "2011-09-11"


def test_every_out_column_has_a_label_and_a_kind():
    for name in OUTPUT_COLUMNS:
        assert name in formats.COLUMNS, name
        assert formats.COLUMNS[name].kind in formats.KINDS
