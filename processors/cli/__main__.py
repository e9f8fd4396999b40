"""`python -m shopstream.processors.cli` is the `shopstream` command."""

from shopstream.processors.cli import main

main()
