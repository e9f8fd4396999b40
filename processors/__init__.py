"""Stream processors, topics and the command-line interface."""

__all__: list[str] = []
