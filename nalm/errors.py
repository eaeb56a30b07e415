"""Exception types shared across nalm."""

from __future__ import annotations


class ConfigError(ValueError):
    """An invalid configuration value. The message names the offending field.

    The CLI turns it into one line on stderr and exit code 2.
    """
