"""Sync sessions: kinds, record and session state machines, counters and the retry schedule (operations §1)."""
