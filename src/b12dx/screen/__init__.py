"""Population screening: the screening table, readers, the vectorised kernel, resumable runs,
the HTML report, the Spark adapter and the synthetic population generator.

Importing ``b12dx`` does not import this package; it needs the ``screen`` extra (pyarrow,
matplotlib), and ``--engine spark`` the ``spark`` extra.
"""

from __future__ import annotations

__all__: list[str] = []
