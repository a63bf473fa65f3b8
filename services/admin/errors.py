"""Why an administrator's change was not written; each message names the bad value and what to use instead."""

from __future__ import annotations


class InvalidAdminChange(ValueError):
    """A settings, template or user change failed validation, and nothing was written."""
