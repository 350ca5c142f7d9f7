"""Vacancy states shared by the hops of a network: each relaxed once, reused by every hop.

A vacancy state is the cell with one `species` site emptied. `relax_vacancy_states` relaxes
one state per symmetry orbit of the sites the hops start or end on (`structures.hops.
site_orbits`; in an SQS every site is its own orbit), at fixed cell, rattled like
`calculators.neb.run_neb`'s endpoints; `hop_ends` turns two of them into the relaxed initial
and final states of a hop in the atom order of `calculators.neb.endpoints` (a state on a site
of another's orbit is that one mapped by the space-group operation: no force call). Energies
eV, lengths Å.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from ase import Atoms

from calculators.neb import endpoints
from calculators.results import Relaxation
from structures.hops import Hop, map_state, site_orbits
from structures.io import ensure_site_labels


@dataclass
class VacancyStates:
    """Relaxed vacancy states by representative site, the orbit of every site, force calls."""

    relaxed: dict[int, Relaxation]
    orbits: dict[int, tuple[int, tuple[np.ndarray, np.ndarray]]]
    calls: list[int] = field(default_factory=lambda: [0])  # relaxations (in all), fall-backs too
    relax: Callable[[Atoms, str], Relaxation] | None = None  # relaxes one state (trajectory tag)

    def energy_eV(self, site: int) -> float:
        """Relaxed energy (eV) of the cell with `site` emptied."""
        return self.relaxed[self.orbits[site][0]].energy_eV

    def site_energies_eV(self) -> dict[str, float]:
        """Relaxed vacancy energy of every site, relative to the lowest (eV), keyed by index."""
        energies = {s: self.energy_eV(s) for s in sorted(self.orbits)}
        low = min(energies.values())
        return {str(s): round(e - low, 6) for s, e in energies.items()}


def vacancy_state(atoms: Atoms, site: int, rattle: float, seed: int) -> Atoms:
    """`atoms` with `site` emptied, shaken by Gaussian displacements of `rattle` Å."""
    state = atoms.copy()
    ensure_site_labels(state)
    del state[site]
    if rattle > 0:
        state.positions += np.random.default_rng(seed).normal(0.0, rattle, state.positions.shape)
    return state


@dataclass(frozen=True)
class CalculatorSpec:
    """How to get a network's calculator in any process: a name (built with `preset` and
    `overrides`, once per process), an ASE calculator class (instantiated once per process with
    `overrides`) or a ready ASE calculator (this process only)."""

    calculator: object
    preset: str | None = None
    overrides: dict = field(default_factory=dict)

    def get(self, atoms: Atoms, directory: Path | None = None):
        from calculators.neb import _neb_calculator
        from calculators.workers import calculator_in_worker

        key = (self.calculator, self.preset, repr(sorted(self.overrides.items())))
        if isinstance(self.calculator, type):
            return calculator_in_worker(self.calculator, key, lambda: self.calculator(**self.overrides))
        return calculator_in_worker(self.calculator, key, lambda: _neb_calculator(
            self.calculator, self.preset, atoms, directory, self.overrides)[0])


def relax_state(spec: CalculatorSpec, state: Atoms, traj: Path | None, fmax: float, steps: int,
                callback: Callable[[dict], None] | None = None) -> Relaxation:
    """One fixed-cell BFGS relaxation of a vacancy state (in any process); a converged one
    already beside `traj` (same calculator, fmax at least as tight) is read back."""
    from calculators.relax import finished_relaxation, relax

    if traj is not None:
        name = spec.calculator if isinstance(spec.calculator, str) else None
        done = finished_relaxation(traj.with_suffix(".json"), name, fmax, steps) if name else None
        if done is not None:
            return done
        traj.parent.mkdir(parents=True, exist_ok=True)
    return relax(state, spec.get(state), fmax=fmax, steps=steps, relax_cell=False, trajectory=traj,
                 optimizer="BFGS", callback=callback)


def relax_host(atoms: Atoms, spec: CalculatorSpec, directory: Path | None, fmax: float, steps: int,
               progress: Callable[[str], None] | None = None) -> Relaxation:
    """The cell without vacancy relaxed once (ions + cell, its space group kept by ASE's
    FixSymmetry so that the hops' symmetry classes stay those of the input), read back from
    `directory/host/` when finished. The vacancy states are made from it at its cell: a
    defect in the relaxed host, not the host's own relaxation repeated in every state."""
    from ase.constraints import FixSymmetry

    from calculators.relax import finished_relaxation, relax

    folder = directory / "host" if directory is not None else None
    name = spec.calculator if isinstance(spec.calculator, str) else None
    done = finished_relaxation(folder / "relax.json", name, fmax, steps) if folder and name else None
    if done is None:
        if progress:
            progress(f"host: relaxing {len(atoms)} atoms (ions + cell, symmetry kept)")
        work = atoms.copy()
        work.set_constraint(FixSymmetry(work))
        done = relax(work, spec.get(work, folder), fmax=fmax, steps=steps, relax_cell=True,
                     directory=folder)
    host = done.atoms.copy()
    host.set_constraint()
    host.info = {**atoms.info, **host.info}
    if "conventional_cell" in atoms.info:  # the percolation axes strained with the cell
        strain = np.linalg.solve(atoms.cell[:], host.cell[:])
        conventional = np.reshape(atoms.info["conventional_cell"], (3, 3)) @ strain
        host.info["conventional_cell"] = np.round(conventional, 6).reshape(-1).tolist()
    host.calc = None
    done.atoms = host
    return done


def relax_vacancy_states(atoms: Atoms, hops: list[Hop], spec: CalculatorSpec, *, use_symmetry: bool = True,
                         fmax: float = 0.05, steps: int = 500, rattle: float = 0.05, seed: int = 0,
                         directory: Path | None = None, progress: Callable[[str], None] | None = None,
                         callback: Callable[[dict], None] | None = None, pool=None) -> VacancyStates:
    """One fixed-cell relaxation per orbit of the sites `hops` start or end on (trajectories
    `directory/sites/site-NNN.traj`, resumed; finished ones read back), side by side in `pool`
    (`calculators.workers.Workers`); their force calls (in all runs) counted in `.calls`."""
    calls = [0]

    def count(done: Relaxation) -> Relaxation:
        calls[0] += (done.steps or 0) + 1  # in all (also when read back): the state's cost
        return done

    def traj_of(tag: str) -> Path | None:
        return directory / "sites" / f"{tag}.traj" if directory is not None else None

    def run(state: Atoms, tag: str) -> Relaxation:
        hook = (lambda info: callback({**info, "stage": tag})) if callback else None
        return count(relax_state(spec, state, traj_of(tag), fmax, steps, hook))

    orbits = site_orbits(atoms, [s for h in hops for s in (h.start, h.end)], use_symmetry)
    reps = sorted({rep for rep, _ in orbits.values()})
    if progress:
        progress(f"vacancy states: {len(reps)} relaxations ({len(orbits)} sites)")
    states = {rep: vacancy_state(atoms, rep, rattle, seed) for rep in reps}
    if pool is None or pool.n == 1:
        relaxed = {rep: run(state, f"site-{rep:03d}") for rep, state in states.items()}
    else:
        done = pool.map(relax_state, [(spec, state, traj_of(f"site-{rep:03d}"), fmax, steps)
                                      for rep, state in states.items()])
        relaxed = {rep: count(one) for rep, one in zip(states, done, strict=True)}
    return VacancyStates(relaxed, orbits, calls, run)


def hop_ends(states: VacancyStates, atoms: Atoms, hop: Hop) -> tuple[Relaxation, Relaxation, bool]:
    """(initial, final) relaxed states of `hop` (vacancy on its end, then on its start), in the
    atom order of `calculators.neb.endpoints`, and whether both are the shared states. A state
    that does not map onto the hop's is relaxed from the hop's own endpoint (counted in calls;
    not shared)."""
    initial, final, _ = endpoints(atoms, hop)
    out, shared = [], True
    for site, target, tag in ((hop.end, initial, "initial"), (hop.start, final, "final")):
        rep, operation = states.orbits[site]
        relaxed = states.relaxed[rep]
        unrelaxed = atoms.copy()  # the state before relaxation (rattle aside): the matching guide
        del unrelaxed[rep]
        mapped = map_state(relaxed.atoms, operation, target, reference=unrelaxed)
        if mapped is None and states.relax is not None:
            out.append(states.relax(target, f"hop-{hop.start}-{hop.end}-{tag}"))
            shared = False
            continue
        out.append(replace(relaxed, atoms=mapped))
    return out[0], out[1], shared
