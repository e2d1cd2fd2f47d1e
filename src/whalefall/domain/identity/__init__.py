"""Identity: permission registry, user-management rules and password policy."""
