"""whalefall: govern a fleet of databases (inventory, credentials, grant ledger, classification, capacity)."""

__version__ = "0.1.0"
