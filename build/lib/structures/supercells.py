"""Supercells that hold a composition on a prototype's parent cell.

1. `site_targets`: site fractions per sublattice of the parent cell; a sublattice with more
   than one species (vacancies 'X' on alkali sites included) is *active*;
2. `plan_supercells`: for each supercell size (number of parent cells, up to `max_atoms`),
   the counts that size can hold (largest-remainder rounding; every species present keeps
   at least one atom), their deviation from the target and, for the sizes worth building, a
   supercell shape whose smallest perpendicular width is at least `min_width` Å (ASE's
   optimal-cell-shape search, then Minkowski reduction); the smallest cell that holds the
   composition exactly is reported too; `choose_supercell` picks one.

Units: lengths in Å, entropies in R, concentrations as site fractions (0-1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from ase import Atoms
from ase.build import find_optimal_cell_shape
from ase.geometry import minkowski_reduce

from structures.composition import VACANCY, SiteComposition
from structures.entropy import configurational_entropy, mixing_entropy
from structures.errors import HecathodeInputError
from structures.prototypes import SUBLATTICE

ICET_VACANCY = "X"
DEFAULT_MIN_WIDTH = 8.0  # Å: keeps a hopping Na away from its own periodic image in NEB
DEFAULT_MAX_ATOMS = 160


class SQSError(HecathodeInputError):
    """A composition/supercell request that no SQS can satisfy; the message says what would."""


@dataclass
class SupercellOption:
    """One supercell size: `n_cells` parent cells, the counts it holds and their deviation."""

    n_cells: int
    n_atoms: int
    counts: dict[str, dict[str, int]]
    max_deviation: float
    matrix: list[list[int]] | None = None
    min_width_A: float | None = None

    @property
    def exact(self) -> bool:
        return self.max_deviation < 1e-9

    def fractions(self) -> dict[str, dict[str, float]]:
        return {sub: {sp: n / sum(c.values()) for sp, n in c.items()} for sub, c in self.counts.items()}


@dataclass
class SupercellPlan:
    """Target site fractions, the sizes considered, and the smallest exact size."""

    targets: dict[str, dict[str, float]]
    sites_per_cell: dict[str, int]
    atoms_per_cell: int
    options: list[SupercellOption]
    exact_n_cells: int | None
    max_atoms: int
    notes: list[str] = field(default_factory=list)


def _sublattice_of_elements(comp: SiteComposition) -> dict[str, str]:
    """Element -> the sublattice holding most of it (for structures without a sublattice array)."""
    best: dict[str, tuple[float, str]] = {}
    for label, occ in comp.sublattices.items():
        for el, amount in occ.species.items():
            if el != VACANCY and amount > best.get(el, (0.0, ""))[0]:
                best[el] = (amount, label)
    return {el: lab for el, (_, lab) in best.items()}


def attach_sublattices(atoms: Atoms, comp: SiteComposition) -> Atoms:
    """Give a user structure a `sublattice` array from the composition (element -> sublattice)."""
    if SUBLATTICE in atoms.arrays:
        return atoms
    where = _sublattice_of_elements(comp)
    missing = sorted({el for el in atoms.get_chemical_symbols() if el not in where})
    if missing:
        raise SQSError(f"the structure holds {', '.join(missing)}, which the composition "
                       f"{comp.formula!r} does not place on any sublattice")
    atoms.arrays[SUBLATTICE] = np.array([where[el] for el in atoms.get_chemical_symbols()]).astype(str)
    return atoms


def formula_units(parent: Atoms, comp: SiteComposition) -> float:
    """Formula units in the parent cell, counted on the mixing sublattice."""
    mixing = comp.role("mixing") or list(comp.sublattices.values())[:1]
    occ = mixing[0]
    n = int(np.sum(parent.arrays[SUBLATTICE] == occ.label))
    if n == 0:
        raise SQSError(f"the parent cell has no site on sublattice {occ.label!r} "
                       f"(its sublattices: {', '.join(sorted(set(parent.arrays[SUBLATTICE])))})")
    return n / occ.sites


def site_targets(comp: SiteComposition, parent: Atoms) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Site fractions per sublattice of the parent cell, and notes on what was modelled.

    Fractions are relative to the sites the parent cell actually has (e.g. the ordered
    NVPF cell has 3 Na sites per f.u., so Na3 fills them). Vacancies ('X') appear only
    on alkali sublattices; elsewhere a written vacancy is not modelled (noted).
    """
    fu = formula_units(parent, comp)
    subs = parent.arrays[SUBLATTICE]
    targets: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    for label, occ in comp.sublattices.items():
        if not occ.sublattice.configurational:
            continue
        n_sites = int(np.sum(subs == label))
        if n_sites == 0:
            raise SQSError(f"sublattice {label!r} of {comp.prototype.name} has no site in the cell "
                           f"(cell sublattices: {', '.join(sorted(set(subs)))})")
        per_fu = n_sites / fu
        fr = {el: a / per_fu for el, a in occ.species.items() if el != VACANCY and a > 0}
        filled = sum(fr.values())
        if filled > 1 + 1e-6:
            raise SQSError(f"{label}: {filled * per_fu:.4g} atoms per f.u. do not fit the {per_fu:.4g} "
                           f"{label} sites per f.u. of the ordered {comp.prototype.name} cell")
        if filled < 1 - 1e-6:
            if occ.sublattice.role == "alkali":
                fr[ICET_VACANCY] = 1.0 - filled
            else:
                notes.append(f"{label}: {1 - filled:.3g} vacancies per site not modelled; "
                             "the sublattice is built full with the same species ratios")
                fr = {el: x / filled for el, x in fr.items()}
        targets[label] = fr
    return targets, notes


def largest_remainder(fractions: dict[str, float], n_sites: int, keep_all: bool = True) -> dict[str, int]:
    """Integer counts on `n_sites` closest to `fractions` (largest-remainder rounding).

    keep_all: every species with a nonzero fraction keeps at least one site (taken from
    the most abundant species), so that no dopant silently disappears.
    """
    raw = {sp: x * n_sites for sp, x in fractions.items()}
    counts = {sp: math.floor(v + 1e-9) for sp, v in raw.items()}
    left = n_sites - sum(counts.values())
    for sp in sorted(raw, key=lambda s: (-(raw[s] - counts[s]), s))[:max(left, 0)]:
        counts[sp] += 1
    if keep_all:
        if sum(1 for x in fractions.values() if x > 0) > n_sites:
            return {}
        for sp in sorted(fractions):
            if fractions[sp] > 0 and counts[sp] == 0:
                donor = max(counts, key=lambda s: (counts[s], s))
                counts[donor] -= 1
                counts[sp] = 1
    return counts


def _exact_cells(targets: dict[str, dict[str, float]], sites_per_cell: dict[str, int],
                 limit: int = 100000) -> int | None:
    """Smallest number of parent cells on which every target fraction is an integer count."""
    n = 1
    for sub, fr in targets.items():
        for x in fr.values():
            f = Fraction(x).limit_denominator(10000) * sites_per_cell[sub]
            if abs(float(f) - x * sites_per_cell[sub]) > 1e-6:
                return None
            n = math.lcm(n, f.denominator)
    return n if n <= limit else None


def perpendicular_widths(cell: np.ndarray) -> np.ndarray:
    """Distances (Å) between opposite faces of a cell: V / |a_j × a_k|."""
    cell = np.asarray(cell, dtype=float)
    vol = abs(np.linalg.det(cell))
    return np.array([vol / np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3]))
                     for i in range(3)])


def supercell_shape(parent: Atoms, n_cells: int) -> tuple[np.ndarray, float]:
    """Integer matrix P (supercell = P @ cell) with det n_cells and a large smallest width.

    Tries ASE's optimal-shape search towards sc and fcc metrics, Minkowski-reduces the
    result and keeps the one whose smallest perpendicular width (Å) is largest.
    """
    best, best_w = None, -1.0
    for target in ("sc", "fcc"):
        try:
            P = np.array(find_optimal_cell_shape(parent.cell, n_cells, target), dtype=int)
        except Exception:  # ASE finds no matrix in its search range
            continue
        if round(abs(np.linalg.det(P))) != n_cells:
            continue
        _, op = minkowski_reduce(P @ parent.cell[:])
        P = op @ P
        if np.linalg.det(P) < 0:
            P = -P
        w = float(perpendicular_widths(P @ parent.cell[:]).min())
        if w > best_w + 1e-6:
            best, best_w = P, w
    if best is None:
        best = np.diag([n_cells, 1, 1])
        best_w = float(perpendicular_widths(best @ parent.cell[:]).min())
    return best, best_w


def plan_supercells(comp: SiteComposition, parent: Atoms, max_atoms: int = DEFAULT_MAX_ATOMS,
                    keep_all: bool = True) -> SupercellPlan:
    """Every supercell size up to `max_atoms` with the counts it holds (shapes not yet chosen)."""
    targets, notes = site_targets(comp, parent)
    subs = parent.arrays[SUBLATTICE]
    sites = {sub: int(np.sum(subs == sub)) for sub in targets}
    active = {sub: fr for sub, fr in targets.items() if len(fr) > 1}
    if not active:
        raise SQSError(f"{comp.formula!r} has one species on every sublattice of "
                       f"{comp.prototype.name}: there is nothing to mix (no SQS needed)")
    n_max = max_atoms // len(parent)
    if n_max < 1:
        raise SQSError(f"--max-atoms {max_atoms} is below the {len(parent)} atoms of one "
                       f"{comp.prototype.name} parent cell")
    options = []
    for n in range(1, n_max + 1):
        counts = {sub: largest_remainder(fr, sites[sub] * n, keep_all) for sub, fr in active.items()}
        if any(not c for c in counts.values()):
            continue  # fewer sites than species: cannot keep one of each
        dev = max(abs(c[sp] / (sites[sub] * n) - x) for sub, c in counts.items()
                  for sp, x in active[sub].items())
        options.append(SupercellOption(n, n * len(parent), counts, dev))
    return SupercellPlan(targets, sites, len(parent), options, _exact_cells(active, sites), max_atoms, notes)


def smallest_for_one_of_each(plan: SupercellPlan) -> int:
    """Atoms of the smallest supercell with at least one site per species on every sublattice."""
    n = max(math.ceil(len(fr) / plan.sites_per_cell[sub]) for sub, fr in plan.targets.items()
            if len(fr) > 1)
    return n * plan.atoms_per_cell


def choose_supercell(plan: SupercellPlan, parent: Atoms, min_width: float = DEFAULT_MIN_WIDTH,
                     tolerance: float = 0.01, exact: bool = False,
                     n_cells: int | None = None) -> tuple[SupercellOption, list[str]]:
    """The supercell to build and notes explaining the choice.

    Preference: smallest composition deviation, then most atoms (the budget buys better
    correlations), with the smallest perpendicular width >= `min_width` Å. With
    `exact=True` a deviation above `tolerance` is an error; otherwise the nearest
    representable composition is built and the notes say so. `n_cells` forces a size.
    """
    notes = []
    options = plan.options
    if not options:
        need = smallest_for_one_of_each(plan)
        raise SQSError(f"--max-atoms {plan.max_atoms} is too small: one atom of each species needs a "
                       f"supercell of at least {need} atoms ({plan.atoms_per_cell} per parent cell); "
                       f"raise --max-atoms to {need} or more")
    if n_cells is not None:
        options = [o for o in options if o.n_cells == n_cells]
        if not options:
            raise SQSError(f"--n-cells {n_cells} is not possible within --max-atoms (sizes: "
                           f"{', '.join(str(o.n_cells) for o in plan.options)})")
    ranked = sorted(options, key=lambda o: (round(o.max_deviation, 9), -o.n_atoms))
    chosen, too_narrow = None, []
    for opt in ranked:
        opt.matrix, opt.min_width_A = None, None
        P, w = supercell_shape(parent, opt.n_cells)
        opt.matrix, opt.min_width_A = P.tolist(), w
        if w >= min_width - 1e-6 or n_cells is not None:
            chosen = opt
            break
        too_narrow.append(opt)
    if chosen is None:
        widest = max(too_narrow, key=lambda o: o.min_width_A)
        raise SQSError(f"no supercell within max_atoms has a perpendicular width >= {min_width:g} Å "
                       f"(widest: {widest.min_width_A:.2f} Å with {widest.n_atoms} atoms); raise "
                       "--max-atoms or lower --min-width")
    if chosen.min_width_A < min_width:
        notes.append(f"the forced supercell is only {chosen.min_width_A:.2f} Å wide (< {min_width:g} Å)")
    if chosen.max_deviation > tolerance:
        if plan.exact_n_cells:
            sizes = {sub: plan.sites_per_cell[sub] * plan.exact_n_cells for sub in plan.targets
                     if len(plan.targets[sub]) > 1}
            multiple = {sub: _exact_cells({sub: plan.targets[sub]}, {sub: 1}) for sub in sizes}
            need = ("the exact composition needs "
                    + ", ".join(f"a multiple of {m} {sub} sites" for sub, m in multiple.items())
                    + f"; the smallest supercell that has it is {plan.exact_n_cells} parent cells "
                    f"({plan.exact_n_cells * plan.atoms_per_cell} atoms; "
                    + ", ".join(f"{n} {sub} sites" for sub, n in sizes.items()) + ")")
        else:
            need = "no supercell of up to 100000 parent cells holds the exact composition"
        if exact:
            raise SQSError(f"{need}; the best within max_atoms deviates by {chosen.max_deviation:.3g} "
                           f"(> tolerance {tolerance:g}); raise --max-atoms or drop --exact")
        notes.append(f"{need}; built the nearest representable composition in {chosen.n_atoms} atoms "
                     f"(every species kept, max deviation {chosen.max_deviation:.3g} in site fraction)")
    return chosen, notes


def achieved_entropy(comp: SiteComposition, option: SupercellOption) -> float:
    """ΔS_config (R, review convention, vacancies excluded) of the composition a supercell holds."""
    per = dict(configurational_entropy(comp).per_sublattice_R)
    for sub, fr in option.fractions().items():
        atoms = {sp: x for sp, x in fr.items() if sp != ICET_VACANCY}
        total = sum(atoms.values())
        per[sub] = mixing_entropy([x / total for x in atoms.values()])
    return sum(per.values())


# --------------------------------------------------------------------- icet
