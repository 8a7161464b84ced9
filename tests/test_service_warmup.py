"""``create_served_app()`` (what ``b12dx serve`` runs) builds the free-text reader in the
background, so the first ``POST /v1/parse`` does not wait seconds for it."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from b12dx.service.app import create_served_app

WARM_THREAD = "b12dx-warm-parser"


@pytest.fixture
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def _warm_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == WARM_THREAD]


@pytest.mark.usefixtures("restore_gc")
def test_served_app_builds_the_reader_in_the_background(monkeypatch: pytest.MonkeyPatch) -> None:
    from b12dx.kb import load_kb
    from b12dx.nlp import _lexicon_for, pipeline

    monkeypatch.delenv("B12DX_WARM_PARSER", raising=False)
    create_served_app()
    threads = _warm_threads()
    assert threads, "no warm-up thread was started"
    for t in threads:
        t.join(timeout=300)
        assert not t.is_alive()
    assert _lexicon_for(load_kb()).key in pipeline._pipelines


@pytest.mark.usefixtures("restore_gc")
def test_warm_up_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for t in _warm_threads():
        t.join(timeout=300)
    monkeypatch.setenv("B12DX_WARM_PARSER", "0")
    create_served_app()
    assert not _warm_threads()
