"""Orders: carts, the seats they hold, and booking them into a payment."""
