"""Accounts slice: canonical principal model, per-engine normalisers, filters, diff and effective privileges."""
