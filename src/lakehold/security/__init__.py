"""Principals, API tokens, password hashing."""
