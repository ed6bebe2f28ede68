"""Notifications that are not lost: the outbox, its delivery worker, webhook endpoints."""
