"""Who may use a team's Segmenter: the optional allow-list of e-mail domains and addresses."""
from __future__ import annotations

from collections.abc import Iterable

__all__ = ["is_allowed"]


def is_allowed(email: str | None, allowed: Iterable[str] | None) -> bool:
    """True when there is no allow-list, or the verified ``email`` is on it: an address
    (``carol@partner.org``) or a domain (``example.com`` or ``@example.com``), case-insensitive.
    A domain matches that domain only, never a longer one (``example.com`` ≠ ``badexample.com``)."""
    entries = [str(entry).strip().lower() for entry in (allowed or ()) if str(entry).strip()]
    if not entries:
        return True
    if not email or "@" not in email:
        return False
    address = email.strip().lower()
    domain = address.rsplit("@", 1)[1]
    return any(address == entry if "@" in entry.lstrip("@") else domain == entry.lstrip("@") for entry in entries)
