"""Accounts: registration, sign-in and its limits against abuse, bearer tokens, roles."""
