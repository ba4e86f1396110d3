"""The indicator: its rules and download lines (pure) and its lifecycle (the only writer)."""
