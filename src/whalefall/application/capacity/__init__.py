"""Capacity use cases: aggregation, forecasts, sample writes and the capacity read queries."""
