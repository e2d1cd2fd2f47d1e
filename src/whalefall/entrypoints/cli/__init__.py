"""The `whalefall` command line."""
