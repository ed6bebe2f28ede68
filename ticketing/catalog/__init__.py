"""The read side: venues, events, sections and seat maps."""
