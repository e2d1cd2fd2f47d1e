"""HTTP API v1 (Litestar)."""
