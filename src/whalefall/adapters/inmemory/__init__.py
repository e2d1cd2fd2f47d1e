"""In-process adapters for embedded mode (a single process): locks, cache, rate limits."""
