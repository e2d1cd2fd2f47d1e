"""whalefall.application.ports layer."""
