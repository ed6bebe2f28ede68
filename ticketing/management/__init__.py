"""Managers' commands: venues and their seat-map template, events, prices, the sales report."""
