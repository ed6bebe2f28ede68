"""Event-ticketing backend: the domain, its services and the data layer shared by both API doors."""
