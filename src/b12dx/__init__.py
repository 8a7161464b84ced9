"""b12dx: are these muscle cramps caused by vitamin B12 deficiency, an electrolyte disturbance,
or something else, and what should happen next?

Decision support for clinicians and information for the public; it does not diagnose.

    >>> from b12dx import assess
    >>> result = assess({"age": 67, "sex": "female",
    ...                  "evidence": [{"id": "muscle_cramps"}, {"id": "paresthesia_feet"}]})
    >>> result.triage.level in {"consultation", "consultation_24"}
    True
"""

from __future__ import annotations

from .assessment import assess
from .case import Case, load_case, parse_case
from .errors import (
    B12dxError,
    ConflictError,
    ImplausibleValueError,
    InputError,
    KnowledgeBaseError,
    MissingExtraError,
    OutOfScopeError,
    UnitError,
    UnknownIdError,
)
from .kb import KnowledgeBase, load_kb
from .result import Assessment

__version__ = "0.1.0"

__all__ = [
    "Assessment",
    "B12dxError",
    "Case",
    "ConflictError",
    "ImplausibleValueError",
    "InputError",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "MissingExtraError",
    "OutOfScopeError",
    "UnitError",
    "UnknownIdError",
    "__version__",
    "assess",
    "load_case",
    "load_kb",
    "parse_case",
]
