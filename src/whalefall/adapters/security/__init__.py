"""Security adapters: credential cipher, key files, password hashing and tokens."""
