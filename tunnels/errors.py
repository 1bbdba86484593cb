"""Errors the command line reports as one line (no traceback)."""

from __future__ import annotations


class UserError(Exception):
    """Something the user asked for cannot be done; the message says why and what to do."""
