"""The sessions store: sync sessions and records (operations.md §1)."""

from whalefall.adapters.persistence.sessions.rows import bounded_json, bounded_warnings
from whalefall.adapters.persistence.sessions.store import SqlAlchemySessionStore

__all__ = ["SqlAlchemySessionStore", "bounded_json", "bounded_warnings"]
