"""Single source of truth for data shapes: Arrow table schemas, records and config models."""
