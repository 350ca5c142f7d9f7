"""Calculators behind one entry point: CHGNet, SevenNet (7net-0), GPAW and VASP (and ASE's EMT,
for tests and smoke runs of whole workflows on a few fcc metals).

    from calculators import get_calculator
    calc = get_calculator("chgnet")                       # configs/calculators/chgnet.yaml: default
    calc = get_calculator("gpaw", "fast", atoms=atoms)    # preset 'fast'; moments, k-points, U for atoms
    calc = get_calculator("gpaw", ecut=600)               # keyword overrides, validated like presets

Every calculator carries `calc.hecathode = {"calculator", "preset", "settings"}` so results
can say what produced them. Heavy packages (torch, gpaw) are imported only when asked for.

What runs on them: `calculators.relax.relax` (a `Relaxation`), `calculators.neb.run_neb` (an
`NebHop`), `calculators.network.run_network` (a `HopNetwork`); the result types, with units,
structures as fields and `to_json()` / `from_json()`, are in `calculators.results`.
"""

from __future__ import annotations

from pathlib import Path

from calculators.presets import (
    CALCULATORS,
    CalculatorConfigError,
    check_calculator_name,
    resolve_settings,
)

__all__ = ["CALCULATORS", "CalculatorConfigError", "get_calculator", "resolve_settings"]


def get_calculator(name: str, preset: str | None = None, *, atoms=None,
                   directory: str | Path | None = None, **overrides):
    """An ASE calculator `name` (chgnet, sevenn, gpaw, vasp; emt for tests) with `preset` and
    `overrides`.

    `atoms` (needed for vasp, optional for gpaw): initial magnetic moments are set on them from
    the preset's table unless they already have non-zero ones; k-points and Hubbard U are chosen
    for them. `directory`: where GPAW writes its text log and VASP runs (default: current
    folder). Raises CalculatorConfigError for an unknown calculator, preset or key, and for
    emt when `atoms` hold an element EMT has no parameters for.
    """
    name = check_calculator_name(name)
    label, settings = resolve_settings(name, preset, **overrides)
    if name == "chgnet":
        from calculators.mlip import chgnet_calculator

        calc = chgnet_calculator(settings)
    elif name == "sevenn":
        from calculators.mlip import sevenn_calculator

        calc = sevenn_calculator(settings)
    elif name == "gpaw":
        from calculators.gpaw_calc import gpaw_calculator

        if settings.get("spinpol", "auto") not in (True, False, "auto"):
            raise CalculatorConfigError(f"gpaw spinpol must be true, false or auto, "
                                        f"got {settings['spinpol']!r}")
        if settings["ecut"] <= 0 or settings["kpoint_density"] <= 0:
            raise CalculatorConfigError("gpaw ecut and kpoint_density must be positive")
        calc = gpaw_calculator(settings, atoms=atoms, directory=directory)
    elif name == "emt":
        calc = _emt_calculator(atoms)
    else:
        from calculators.vasp_calc import vasp_calculator

        calc = vasp_calculator(settings, atoms, directory=directory or ".")
    calc.hecathode = {"calculator": name, "preset": label, "settings": settings}
    return calc


def _emt_calculator(atoms=None):
    """ASE's EMT (effective-medium theory; Al, Cu, Ag, Au, Ni, Pd, Pt and, roughly, H, C, N, O):
    a calculator that costs nothing, for tests of whole workflows. Refuses other elements."""
    from ase.calculators.emt import EMT, parameters

    if atoms is not None:
        unknown = sorted(set(atoms.get_chemical_symbols()) - set(parameters))
        if unknown:
            raise CalculatorConfigError(f"emt has no parameters for {', '.join(unknown)} (it covers "
                                        f"{', '.join(sorted(parameters))}; a test calculator)")
    return EMT()
