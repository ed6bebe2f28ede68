"""REST adapter: the fixed URL set for legacy clients, translating HTTP to `ticketing` services."""
