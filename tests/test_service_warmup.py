"""``create_served_app()`` (what ``b12dx serve`` runs) builds the free-text reader in the
background, so the first ``POST /v1/parse`` does not wait seconds for it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from b12dx.service.app import create_served_app
from b12dx.service.deps import get_settings


@pytest.fixture
def restore_gc() -> Iterator[None]:
    # create_served_app() freezes the collector and reads the environment once per process
    thresholds = gc.get_threshold()
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restore_gc")
def test_served_app_builds_the_reader_in_the_background(monkeypatch: pytest.MonkeyPatch) -> None:
    from b12dx.kb import load_kb
    from b12dx.nlp import _lexicon_for, pipeline

    monkeypatch.delenv("B12DX_WARM_PARSER", raising=False)
    app = create_served_app()
    thread = app.state.warm_parser
    assert thread is not None and thread.name == "b12dx-warm-parser" and thread.daemon
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert _lexicon_for(load_kb()).key in pipeline._pipelines


@pytest.mark.usefixtures("restore_gc")
def test_warm_up_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("B12DX_WARM_PARSER", "0")
    assert create_served_app().state.warm_parser is None
