"""Error types for user input. Every message names the bad part of the input."""


class HecathodeInputError(ValueError):
    """Base class: bad user input. The CLI prints the message on one line, exit code 2."""


class FormulaError(HecathodeInputError):
    """A formula string that cannot be parsed."""


class SublatticeError(HecathodeInputError):
    """A composition that does not fit the sublattices of a prototype."""


class PrototypeError(HecathodeInputError):
    """An unknown prototype, or a prototype/config file that is malformed."""
