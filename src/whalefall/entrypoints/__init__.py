"""whalefall.entrypoints layer."""
