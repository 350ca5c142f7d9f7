"""The parent frame of an ordering problem: positions, labels, the charge every site carries,
the ranked result types, and Ewald energies (pymatgen `EwaldSummation`).

Charges (oxidation states): Na+1, P+5, O-2, F-1 and the other fixed states of
`configs/rules/redox.yaml`; the metals from `structures.rules.guess_oxidation_states`
on the composition (per sublattice); a mixed or partially occupied site that is not
ordered carries its mean charge Σ x_i q_i. `oxidation_states` overrides per element.

Energies in eV (total Ewald energy of the cell), lengths in Å.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from structures.composition import SiteComposition, assign_sublattices
from structures.constants import SITE_LABEL as LABEL
from structures.constants import SUBLATTICE
from structures.disorder import (
    DisorderedStructure,
    alkali_merge,
    parent_atoms,
    site_composition,
    site_species,
)
from structures.errors import HecathodeInputError
from structures.rules import guess_oxidation_states

VACANCY_SYMBOL = "X"
SYMPREC = 0.01  # Å


class OrderingError(HecathodeInputError):
    """An ordering request that cannot be met; the message says what would."""


@dataclass
class OrderingCandidate:
    """One ordering: rank (0 = lowest Ewald energy), energy (eV per cell), ordered cell.

    atoms: the ordered cell, vacancies removed, with `site_label` and `sublattice` arrays;
    supercell_matrix: integer P with atoms.cell = P @ parent cell; search: what produced it
    ('enumeration', 'ewald_minimizer_fast', 'annealing+greedy seed N', 'odst_fast', ...);
    kept: indices (into the parent supercell's target sites) that hold Na.
    """

    index: int
    ewald_eV: float
    atoms: Atoms
    supercell_matrix: list[list[int]]
    search: str
    kept: tuple[int, ...] = ()

    @property
    def ewald_eV_per_atom(self) -> float:
        return self.ewald_eV / len(self.atoms)


@dataclass
class OrderingResult:
    """Ranked candidates and what was searched: n_keep of n_sites target sites in n_cells cells."""

    candidates: list[OrderingCandidate]
    sites: tuple[str, ...]
    species: str
    n_sites: int
    n_keep: int
    n_cells: int
    n_found: int
    charges: dict[str, float]
    wall_s: float
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> OrderingCandidate:
        return self.candidates[0]


# --------------------------------------------------------------------------- the parent frame


@dataclass
class Frame:
    """Parent cell: positions, labels, species per site and the charge each site carries."""

    cell: np.ndarray
    frac: np.ndarray
    labels: np.ndarray
    sublattices: np.ndarray
    symbols: list[str]
    species: list[dict[str, float]]
    charges: np.ndarray
    target: np.ndarray  # bool mask of the sites to order
    table: dict  # (sublattice or '*', element) -> oxidation state
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.symbols)


def _as_atoms(parent, primitive: bool = True) -> tuple[Atoms, list[dict[str, float]],
                                                      DisorderedStructure | None]:
    """Atoms with labels, the species -> occupancy of each site, and the DisorderedStructure if any."""
    if isinstance(parent, DisorderedStructure):
        atoms = parent_atoms(parent, primitive=primitive, sublattice_of=alkali_merge(parent))
        return atoms, site_species(parent, atoms), parent
    if isinstance(parent, Atoms):
        atoms = parent.copy()
        if LABEL not in atoms.arrays:
            atoms.arrays[LABEL] = np.array(atoms.get_chemical_symbols()).astype(str)
        if SUBLATTICE not in atoms.arrays:
            atoms.arrays[SUBLATTICE] = atoms.arrays[LABEL].copy()
        return atoms, [{s: 1.0} for s in atoms.get_chemical_symbols()], None
    from structures.disorder import from_structure

    return _as_atoms(from_structure(parent), primitive)


def build_frame(parent, sites: Sequence[str], species: str, n_keep: float | None,
                oxidation_states: Mapping[str, float] | None,
                composition: SiteComposition | None,
                primitive: bool = True) -> tuple[Frame, float, dict[str, float]]:
    """The frame of `parent` with the `sites` to order, the Na kept per parent cell and the charge
    table ('TM:V' or 'V' -> e); raises OrderingError naming what does not fit."""
    atoms, occupancies, ds = _as_atoms(parent, primitive)
    labels = atoms.arrays[LABEL].astype(str)
    target = np.isin(labels, list(sites))
    if not target.any():
        target = np.isin(atoms.arrays[SUBLATTICE].astype(str), list(sites))
    if not target.any():
        raise OrderingError(f"no site labelled {', '.join(sites)} in the parent cell (labels: "
                            f"{', '.join(sorted(set(labels)))})")
    if n_keep is None:
        if ds is None:
            raise OrderingError("give n_keep, the number of Na to keep per parent cell")
        n_keep = float(sum(sum(occupancies[i].values()) for i in np.flatnonzero(target)))
    if not 0 <= n_keep <= target.sum():
        raise OrderingError(f"cannot keep {n_keep:g} {species} on {int(target.sum())} "
                            f"{'/'.join(sites)} sites per cell")
    if composition is None and ds is not None:
        composition = site_composition(ds, prototype=None, merge=alkali_merge(ds))
    table, notes = _charge_table(atoms, target, species, n_keep, composition, oxidation_states)
    charges = np.array([_site_charge(occ, sub, table) for occ, sub
                        in zip(occupancies, atoms.arrays[SUBLATTICE].astype(str), strict=True)])
    charges[target] = table[("*", species)]
    frame = Frame(atoms.cell[:], atoms.get_scaled_positions(wrap=True), labels,
                  atoms.arrays[SUBLATTICE].astype(str), atoms.get_chemical_symbols(), occupancies,
                  charges, target, table, notes)
    _check_neutral(frame, n_keep)
    return frame, n_keep, {f"{sub}:{el}" if sub != "*" else el: q for (sub, el), q in table.items()}


def _charge_table(atoms: Atoms, target: np.ndarray, species: str, n_keep: float,
                  comp: SiteComposition | None,
                  override: Mapping[str, float] | None) -> tuple[dict, list[str]]:
    """(sublattice, element) -> charge, ('*', element) the fallback for any sublattice; and notes.

    When the redox table has no neutral assignment (e.g. Na2/3(MnFeCoNiCu)0.2O2 needs Ni or Co
    above 3+), the mixing sublattices' states are shifted uniformly until the composition is
    neutral: only the mean charge of a mixed site enters the Ewald sum, and it is then the one
    neutrality requires (said in the notes)."""
    if comp is None:
        comp = _composition_of(atoms, target, species, n_keep)
    ox = guess_oxidation_states(comp)
    states, notes = ox.states, []
    if not ox.charge_balanced and not override:
        states, notes = _neutralised(comp, ox)
    table: dict[tuple[str, str], float] = {}
    for sub, sub_states in states.items():
        for el, q in sub_states.items():
            table[(sub, el)] = float(q)
            table.setdefault(("*", el), float(q))
    for el, q in (override or {}).items():
        table = {k: v for k, v in table.items() if k[1] != el}
        table[("*", el)] = float(q)
    if ("*", species) not in table:
        raise OrderingError(f"no oxidation state for {species}; pass oxidation_states")
    return table, notes


MAX_SHIFT = 1.0  # e per atom: a larger shift of the mixing sublattices is an error, not a fix


def _neutralised(comp: SiteComposition, ox) -> tuple[dict[str, dict[str, float]], list[str]]:
    """The states with every atom of the mixing sublattices shifted by the same charge so that the
    composition is neutral; refused when there is no mixing atom or the shift exceeds MAX_SHIFT."""
    mixing = [occ for occ in comp.sublattices.values() if occ.sublattice.role == "mixing"]
    amount = sum(occ.occupied for occ in mixing)
    shift = -ox.residual_charge / amount if amount else math.inf
    if abs(shift) > MAX_SHIFT:
        raise OrderingError(f"no neutral oxidation-state assignment for {comp.formula!r} "
                            f"({ox.residual_charge:+.3f} e per f.u.); pass oxidation_states")
    states = {sub: dict(st) for sub, st in ox.states.items()}
    for occ in mixing:
        for el in states.get(occ.label, {}):
            states[occ.label][el] += shift
    mean = {occ.label: sum(states[occ.label].get(el, 0.0) * a for el, a in occ.species.items()) / occ.occupied
            for occ in mixing if occ.occupied}
    note = (f"no neutral oxidation-state assignment for {comp.formula!r} in the redox table "
            f"({ox.residual_charge:+.3f} e per f.u.): in the Ewald sum every atom of "
            f"{', '.join(mean)} carries {shift:+.3f} e more (mean charge "
            f"{', '.join(f'{q:+.3f}' for q in mean.values())}), which makes the cell neutral")
    return states, [note]


def _composition_of(atoms: Atoms, target: np.ndarray, species: str, n_keep: float) -> SiteComposition:
    """The composition of the ordered cell (n_keep Na on the target sites) on its prototype."""
    counts: dict[str, float] = {}
    for el, t in zip(atoms.get_chemical_symbols(), target, strict=True):
        if not t:
            counts[el] = counts.get(el, 0.0) + 1
    counts[species] = counts.get(species, 0.0) + n_keep
    fu = float(atoms.info.get("formula_units") or 1.0)
    formula = "".join(f"{el}{n / fu:.6g}" for el, n in counts.items() if n > 0)
    return assign_sublattices(formula, atoms.info.get("prototype"))


def oxidation_state(table: Mapping, sub: str, el: str) -> float:
    q = table.get((sub, el), table.get(("*", el)))
    if q is None:
        raise OrderingError(f"no oxidation state for {el} on {sub}; pass oxidation_states")
    return q


def _site_charge(occ: Mapping[str, float], sub: str, table: Mapping) -> float:
    """Mean charge of a site, Σ x_i q_i over its species (vacancies count 0)."""
    return sum(x * oxidation_state(table, sub, el) for el, x in occ.items())


def _check_neutral(frame: Frame, n_keep: float) -> None:
    q = float(frame.charges[~frame.target].sum() + n_keep * frame.charges[frame.target][0])
    if abs(q) > 1e-3:
        raise OrderingError(f"the parent cell with {n_keep:g} Na on the ordered sites carries {q:+.4g} e: "
                            "check the occupancies or pass oxidation_states")


# --------------------------------------------------------------------------- energies


def ewald_energy(cell: np.ndarray, positions: np.ndarray, charges: np.ndarray) -> float:
    """Total Ewald energy (eV) of point charges (e) at Cartesian `positions` (Å) in `cell`."""
    from pymatgen.analysis.ewald import EwaldSummation
    from pymatgen.core import Lattice, Structure

    struct = Structure(Lattice(cell), ["H"] * len(positions), positions, coords_are_cartesian=True,
                       site_properties={"charge": list(map(float, charges))})
    return float(EwaldSummation(struct).total_energy)


def ewald_matrix(cell: np.ndarray, positions: np.ndarray, charges: np.ndarray) -> np.ndarray:
    """Symmetric pair matrix M (eV) with E = Σ_ij occ_i occ_j M_ij for every site fully occupied."""
    from pymatgen.analysis.ewald import EwaldSummation
    from pymatgen.core import Lattice, Structure

    struct = Structure(Lattice(cell), ["H"] * len(positions), positions, coords_are_cartesian=True,
                       site_properties={"charge": list(map(float, charges))})
    m = EwaldSummation(struct).total_energy_matrix
    return (m + m.T) / 2


def atoms_charges(atoms: Atoms, charges: Mapping[str, float] | None = None) -> np.ndarray:
    """Charge (e) of every atom: the candidates' `initial_charges` (set by this module), else
    from a table as in `OrderingResult.charges` ('TM:V' or 'V')."""
    if charges is None:
        return atoms.get_initial_charges()
    subs = atoms.arrays.get(SUBLATTICE, atoms.arrays.get(LABEL))
    out = []
    for el, sub in zip(atoms.get_chemical_symbols(), subs, strict=True):
        q = charges.get(f"{sub}:{el}", charges.get(el))
        if q is None:
            raise OrderingError(f"no charge for {el} on {sub}")
        out.append(q)
    return np.array(out, dtype=float)


def ordered_atoms(frame: Frame, basis: np.ndarray, positions: np.ndarray, cell: np.ndarray) -> Atoms:
    atoms = Atoms([frame.symbols[i] for i in basis], positions=positions, cell=cell, pbc=True)
    atoms.arrays[LABEL] = frame.labels[basis].copy()
    atoms.arrays[SUBLATTICE] = frame.sublattices[basis].copy()
    atoms.set_initial_charges(frame.charges[basis])
    return atoms



def plain_structure(atoms: Atoms):
    """pymatgen Structure of the elements and positions only (no arrays, no charges)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_structure(Atoms(atoms.get_chemical_symbols(), atoms.positions,
                                               cell=atoms.cell, pbc=True))
