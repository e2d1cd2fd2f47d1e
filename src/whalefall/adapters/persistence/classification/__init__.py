"""Persistence of the classification context (classifications, rules, assignments, facts from the ledger)."""
