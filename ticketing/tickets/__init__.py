"""Tickets as documents (signed QR payloads, the order's PDF) and check-in at the door."""
