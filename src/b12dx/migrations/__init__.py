"""Alembic migrations for the b12dx record store (package data; run by ``b12dx.store``)."""
