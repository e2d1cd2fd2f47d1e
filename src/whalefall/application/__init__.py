"""whalefall.application layer."""
