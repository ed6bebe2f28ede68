"""Routers of the REST URL set, one module per resource."""
