"""Redis adapters of production mode: the client factory, locks, cache, rate limits."""
