"""The `hecathode` command line. Every command is registered when this package is imported,
in the order `hecathode --help` lists them:

- `composition`: entropy, check, dataset
- `sqs`: supercell, sqs
- `orderings`: orderings (Na/vacancy orderings of a disordered structure file)
- `neb`: neb
- `relax`: relax
- `mixing`: mixing
- `voltage`: voltage
- `campaign`: campaign run, status, report

Bad input prints one line `error: ...` on stderr and exits with code 2.
"""

import importlib

from workflows.cli.common import app

COMMAND_MODULES = ("composition", "sqs", "orderings", "neb", "relax", "mixing", "voltage", "transport",
                   "campaign")
for _name in COMMAND_MODULES:
    importlib.import_module(f"workflows.cli.{_name}")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="hecathode")


__all__ = ["app", "main"]
