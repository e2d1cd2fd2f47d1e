"""Repositories of the accounts context: the ledger writer of a sync and the ledger/change-log reader."""
