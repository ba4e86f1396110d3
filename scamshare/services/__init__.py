"""Use cases over a Session: they never commit and never touch the request."""
