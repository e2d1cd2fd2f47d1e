"""taskiq brokers and the TaskQueue adapter (operations §2.3)."""
