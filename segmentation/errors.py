"""Typed errors. The core raises them; the CLI and the app turn them into messages, each in one place.

Every error carries a message that says what is wrong (with the values involved) and, where
there is one, a hint that says how to fix it.
"""
from __future__ import annotations

__all__ = [
    "SegmenterError",
    "InputFileError",
    "MappingError",
    "NoDataLeftError",
    "OutputError",
    "ParameterError",
    "KChoiceError",
    "SourceError",
    "SegmentationFileError",
    "quote_names",
    "CurrencyError",
    "PredictionError",
]


def quote_names(names, *, limit: int = 12, width: int = 60) -> str:
    """Names (columns, sheets, tables) for a message: quoted, each shortened to `width`
    characters, at most `limit` of them and how many more."""
    names = list(names)

    def short(name) -> str:
        text = " ".join(str(name).split())
        return text if len(text) <= width else text[: width - 1] + "…"

    shown = ", ".join(f"'{short(n)}'" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


class SegmenterError(Exception):
    """Base of every error a user can cause with their input or settings."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class InputFileError(SegmenterError):
    """The file cannot be read as a table of transactions (empty, garbage, wrong format...)."""


class MappingError(SegmenterError):
    """Columns cannot be mapped to the roles the pipeline needs.

    `roles` names the roles to map (e.g. ("customer",), or ("quantity", "price", "amount")) so
    that each front end can point at its own flag or box; the core's hint names neither.
    """

    def __init__(self, message: str, hint: str | None = None, *, roles: tuple[str, ...] = ()):
        super().__init__(message, hint)
        self.roles = tuple(roles)


class NoDataLeftError(SegmenterError):
    """Cleaning or filtering left nothing to segment."""


class CurrencyError(SegmenterError):
    """The kept money is in more than one currency: adding it up would mix them."""


class ParameterError(SegmenterError):
    """A setting is out of range or inconsistent (K, snapshot date, seed, ...).

    `parameter` names the setting at fault as the core knows it (e.g. "date_from"), so that a
    front end can point at its own flag or widget for it.
    """

    def __init__(self, message: str, hint: str | None = None, *, parameter: str | None = None):
        super().__init__(message, hint)
        self.parameter = parameter


class KChoiceError(ParameterError):
    """The number of segments asked for cannot be used: not a whole number of 2 or more, or a K
    given together with a saved segmentation, whose K is fixed. (A K above the number of distinct
    customer profiles is not an error: fewer segments are fitted, with a warning.) Front ends add a
    hint naming their own control."""


class SourceError(SegmenterError):
    """A database or Spark source cannot be used: bad URL, refused login, missing table, no
    permission, server down. The message never contains the password."""


class OutputError(SegmenterError):
    """An output file cannot be written: no space left, quota used up, read-only file system,
    its folder gone, no permission. The message names the file and the cause; nothing of the
    file (nor a temporary file) is left behind."""


class SegmentationFileError(SegmenterError):
    """A saved segmentation cannot be used: not one, another format version, malformed values,
    or too large to be one."""


class PredictionError(SegmenterError):
    """What comes next cannot be predicted from these customers: too few repeat buyers, a spend
    model without a finite mean (q <= 1), a fit that does not converge, or a horizon out of range."""
