from __future__ import annotations

import json
from pathlib import Path

import pytest

from b12dx.kb import KnowledgeBase, load_kb

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    """The bundled knowledge base."""
    return load_kb()


@pytest.fixture(scope="session")
def mini_kb() -> KnowledgeBase:
    """A tiny KB with made-up numbers, for tests of the machinery."""
    return load_kb(ROOT / "tests" / "fixtures" / "mini_kb")


def load_example(path: Path) -> dict[str, object]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data
