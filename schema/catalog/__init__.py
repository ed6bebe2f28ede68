"""Venues, events and seat maps."""
