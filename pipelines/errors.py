"""Errors found before launch: they stop the command with exit code 2 and a one-line message."""


class UsageError(ValueError):
    """A bad config value, a missing input or model, an unusable output folder or earlier build."""
