"""The scheduler process: leader election, taskiq's scheduler over the whalefall schedule source, heartbeats."""
