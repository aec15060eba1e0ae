"""The one rule for the number of segments K, used by the command line, the app and the API.

`"auto"` takes the suggestion of the K scan (model.suggest_k); a whole number of 2 or more is
taken as asked (a K above the number of distinct customer profiles is capped by the model, with a
warning the front ends show, as it always was). Anything else is a
`KChoiceError` whose message says what is wrong with the values involved and names no front
end's control: the CLI adds a hint about ``--k``, the app about its K picker.
"""
from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

from .errors import KChoiceError

if TYPE_CHECKING:  # the CLI checks --k with this module before pandas and scikit-learn are loaded
    import pandas as pd

    from .model import KSuggestion

__all__ = ["AUTO", "check_request", "decide_k", "needs_evidence"]

AUTO = "auto"


def check_request(request: int | str) -> int | str:
    """`request` as `"auto"` or an int of 2 or more; a `KChoiceError` otherwise (no data needed).

    >>> check_request("auto"), check_request(" 4 "), check_request(6)
    ('auto', 4, 6)
    >>> check_request(1)
    Traceback (most recent call last):
    segmentation.errors.KChoiceError: K=1 is too small: choose 2 or more segments.
    """
    if isinstance(request, str):
        text = request.strip()
        if text == AUTO:
            return AUTO
        try:
            request = int(text)
        except ValueError:
            raise KChoiceError(f"K must be a whole number or 'auto', not {request!r}.") from None
    if isinstance(request, bool) or not isinstance(request, numbers.Integral):
        raise KChoiceError(f"K must be a whole number or 'auto', not {request!r}.")
    k = int(request)
    if k < 2:
        raise KChoiceError(f"K={k} is too small: choose 2 or more segments.")
    return k


def decide_k(request: int | str, *, scan: pd.DataFrame | None, suggestion: KSuggestion | None) -> int:
    """The K to fit.

    Parameters
    ----------
    request : int or "auto"
        What was asked: a number of segments, or ``"auto"`` for the suggestion.
    scan : pandas.DataFrame or None
        The K scan (model.scan_k); empty when the customers have fewer than 3 distinct profiles.
        None: not computed, which only a K asked for of customers with 3 or more distinct profiles
        may leave out (the K evidence is not needed to take it: pipeline.RunSequence).
    suggestion : KSuggestion or None
        The suggested K (model.suggest_k, or the number of profiles when the scan is empty); None
        only with ``scan`` None.

    Returns
    -------
    int
        ``suggestion.k`` for ``"auto"`` or when there was no scan (fewer than 3 distinct customer
        profiles: K is their number), otherwise the K asked for. A K above the number of
        distinct customer profiles is still fitted: model.fit_labels then warns
        (DegenerateClustersWarning) and fits as many segments as there are profiles.

    Raises
    ------
    KChoiceError
        K is not ``"auto"`` or a whole number of 2 or more.
    ValueError
        ``"auto"`` without a suggestion (a caller's mistake, not the user's).
    """
    request = check_request(request)
    if request == AUTO or (scan is not None and scan.empty):  # empty: fewer than 3 distinct profiles
        if suggestion is None:
            raise ValueError("K 'auto' (or customers with fewer than 3 distinct profiles) needs the suggestion.")
        return int(suggestion.k)
    return request


def needs_evidence(request: int | str) -> bool:
    """Whether deciding K for `request` needs the K scan's suggestion: only for ``"auto"``
    (customers with fewer than 3 distinct profiles have no scan to make; their K is their number).

    >>> needs_evidence("auto"), needs_evidence(5)
    (True, False)
    """
    return check_request(request) == AUTO
