"""The data layer's entry points: the app's `Database`, and the unit of work's decorators."""

from ticketing.db.engine import create_engine
from ticketing.db.unit import Database, KeptRefusal, busy_error, check, command, query

__all__ = ["Database", "KeptRefusal", "busy_error", "check", "command", "create_engine", "query"]
