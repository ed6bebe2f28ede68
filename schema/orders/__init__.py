"""Carts, payments and tickets."""
