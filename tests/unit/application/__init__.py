"""Unit tests of application use cases."""
