"""Shared FastAPI dependencies; tests replace them with ``app.dependency_overrides``.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in its thread pool,
a thread hop (and a GIL hand-over) per dependency per request, which for these one-line look-ups
cost more than everything else in a cheap request.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, cast

from fastapi import Depends, Request

from ..kb import KnowledgeBase, load_kb
from .settings import Settings

__all__ = ["KbDep", "SettingsDep", "app_settings", "get_kb", "get_settings"]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process (``create_app``'s default)."""
    return Settings.from_env()


async def app_settings(request: Request) -> Settings:
    """The settings the running app was built with (``create_app`` keeps them in its state)."""
    return cast(Settings, request.app.state.settings)


SettingsDep = Annotated[Settings, Depends(app_settings)]


async def get_kb(settings: SettingsDep) -> KnowledgeBase:
    """The knowledge base (cached by ``load_kb``)."""
    return load_kb(settings.kb_dir)


KbDep = Annotated[KnowledgeBase, Depends(get_kb)]
