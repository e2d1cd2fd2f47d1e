"""whalefall.adapters layer."""
