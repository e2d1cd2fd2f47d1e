"""whalefall.domain layer."""
