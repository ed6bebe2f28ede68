"""Accounts in GraphQL: register, signIn, signOut and `me`."""
