"""The SDL of the schema, as committed in `schema.graphql` at the top of the repository."""

from __future__ import annotations

from schema.graphql import create_schema


def sdl() -> str:
    return create_schema().as_str() + "\n"
