"""Health and readiness use cases."""
