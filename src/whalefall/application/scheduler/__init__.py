"""Scheduler use cases: the job API, fire logic, built-in seeding and scheduler status (operations.md §3)."""
