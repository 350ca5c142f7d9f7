"""`python -m workflows.cli` runs the `hecathode` command line."""

from workflows.cli import main

main()
