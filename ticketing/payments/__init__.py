"""Payments: the provider's outcomes (completed, failed), their signatures, and lapsed ones."""
