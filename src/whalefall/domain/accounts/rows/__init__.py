"""Typed raw catalog rows per engine: the contract between the connectors and the pure normalisers (§2)."""
