"""GraphQL adapter (Strawberry): seat maps and cart mutations on the `ticketing` services."""
