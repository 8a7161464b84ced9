"""Shared FastAPI dependencies; tests replace them with ``app.dependency_overrides``."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import Depends

from ..kb import KnowledgeBase, load_kb
from .settings import Settings

__all__ = ["KbDep", "SettingsDep", "get_kb", "get_settings"]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings.from_env()


def get_kb(settings: Annotated[Settings, Depends(get_settings)]) -> KnowledgeBase:
    """The knowledge base (cached by ``load_kb``)."""
    return load_kb(settings.kb_dir)


SettingsDep = Annotated[Settings, Depends(get_settings)]
KbDep = Annotated[KnowledgeBase, Depends(get_kb)]
