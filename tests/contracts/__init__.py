"""Contract suites: one class per port, subclassed by the fake's and the real adapter's tests."""
