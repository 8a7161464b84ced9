"""Locations that only Spark's file systems reach (``s3://``, ``hdfs://``, ``file://`` ...)."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["is_uri"]

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(location: str | Path) -> bool:
    """Whether *location* is a URI (``scheme://...``) rather than a local path. A ``Path`` never
    is: it has already folded the ``//``."""
    return isinstance(location, str) and _URI.match(location) is not None
