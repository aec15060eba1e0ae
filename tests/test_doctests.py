"""The examples in the public API's docstrings run, on the tiny data they show, and give what they
print: none is skipped."""
from __future__ import annotations

import doctest

import pytest

from segmentation import api, clv, kpolicy, settings

DOCUMENTED = [api, clv, kpolicy]  # modules whose docstrings carry examples


@pytest.mark.parametrize("module", DOCUMENTED, ids=lambda module: module.__name__)
def test_docstring_examples_run_and_print_what_they_show(module):
    finder = doctest.DocTestFinder()
    examples = [example for test in finder.find(module) for example in test.examples]
    assert examples, f"{module.__name__} shows no example"
    assert not [e.source for e in examples if e.options.get(doctest.SKIP)], "an example is skipped"
    failures, attempted = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, report=True)
    assert (failures, attempted) == (0, len(examples))


def test_segment_lists_every_role():
    listed = api.segment.__doc__.split("Roles:", 1)[1].split(".", 1)[0]
    assert [name.strip() for name in listed.split(",")] == list(settings.ROLE_NAMES)
