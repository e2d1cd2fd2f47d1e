"""`python -m whalefall` runs the CLI."""

from whalefall.entrypoints.cli.main import main

main()
