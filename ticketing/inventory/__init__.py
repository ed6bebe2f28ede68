"""Seats of an event: every status transition as SQL, its change stamp and its audit row."""
