"""Alembic migrations of the metadata store (run unchanged on SQLite and PostgreSQL)."""
