"""Special quasirandom structures (SQS) that spread several species over one site, with icet.

Pipeline: a composition placed on a prototype's sublattices (structures.composition)
+ the ordered parent cell (structures.prototypes) ->
1. `site_targets`: site fractions per sublattice of the parent cell; a sublattice with
   more than one species (vacancies 'X' on alkali sites included) is *active*;
2. `plan_supercells`: for each supercell size (number of parent cells, up to
   `max_atoms`), the counts that size can hold (largest-remainder rounding; every
   species present keeps at least one atom), their deviation from the target and,
   for the sizes worth building, a supercell shape whose smallest perpendicular
   width is at least `min_width` Å (ASE's optimal-cell-shape search, then Minkowski
   reduction); the smallest cell that holds the composition exactly is reported too;
3. `generate_sqs`: independent icet annealing runs (one seed each) in parallel over
   the cores on the chosen supercell; the K best distinct structures are kept;
4. `sqs_quality`: icet score, cluster-vector deviation per orbit against the same
   numbers for random occupations of the same supercell, and Warren-Cowley α for the
   first two neighbour shells of each active sublattice.

Default cluster space: pairs up to the 2nd neighbour shell of the active sublattice.

Units: lengths in Å, entropies in R, concentrations as site fractions (0-1).
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from ase import Atoms
from ase.build import find_optimal_cell_shape, make_supercell
from ase.geometry import minkowski_reduce
from ase.neighborlist import neighbor_list

from structures.composition import VACANCY, SiteComposition
from structures.entropy import configurational_entropy, mixing_entropy
from structures.errors import HecathodeInputError
from structures.prototypes import SUBLATTICE

ICET_VACANCY = "X"
DEFAULT_MIN_WIDTH = 8.0  # Å: keeps a hopping Na away from its own periodic image in NEB
DEFAULT_MAX_ATOMS = 160
DEFAULT_STEPS = 20000  # Monte Carlo trial steps per annealing run
DEFAULT_RUNS = 16  # independent annealing runs (seeds); benchmarks/bench_sqs.py measured the choice
SHELL_TOL = 0.05  # Å, distances closer than this form one neighbour shell


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

def default_cutoffs(parent: Atoms, active: list[str]) -> list[float]:
    """[pair] cutoff (Å): the 2nd neighbour shell of the active sublattice(s) + 0.1 Å.

    Pairs only, first two shells: what a 100-200-atom cell with 3-5 species can match
    (the Warren-Cowley α of those shells is what the SQS literature reports); pass
    `cutoffs=[pair, triplet]` to add triplets.
    """
    mask = np.isin(parent.arrays[SUBLATTICE], active)
    _, d = neighbor_list("id", parent[mask], 12.0)
    shells = _shells(d)
    if len(shells) == 0:
        return [6.0]
    return [round(shells[min(1, len(shells) - 1)] + 0.1, 2)]


def _shells(distances: np.ndarray) -> list[float]:
    shells: list[float] = []
    for d in np.sort(distances):
        if not shells or d - shells[-1] > SHELL_TOL:
            shells.append(float(d))
    return shells


def cluster_space(parent: Atoms, targets: dict[str, dict[str, float]], cutoffs: list[float]):
    """icet ClusterSpace on the parent cell with only the sublattices that mix active."""
    from icet import ClusterSpace

    symbols = []
    for el, sub in zip(parent.get_chemical_symbols(), parent.arrays[SUBLATTICE], strict=True):
        fr = targets.get(str(sub))
        symbols.append(sorted(fr) if fr and len(fr) > 1 else ([next(iter(fr))] if fr else [el]))
    prim = parent.copy()
    prim.set_chemical_symbols([s[0] if s[0] != ICET_VACANCY else s[1] for s in symbols])
    for key in list(prim.arrays):
        if key not in ("numbers", "positions"):
            del prim.arrays[key]
    return ClusterSpace(prim, cutoffs, symbols)


def icet_concentrations(cs, parent: Atoms, counts: dict[str, dict[str, int]]) -> dict:
    """Map our sublattice labels to icet's sublattice letters: {'A': {species: x}}."""
    out = {}
    subs = parent.arrays[SUBLATTICE]
    for sl in cs.get_sublattices(cs.primitive_structure):
        if len(sl.chemical_symbols) < 2:
            continue
        ours = {str(subs[i]) for i in sl.indices}
        if len(ours) != 1:
            raise SQSError(f"sublattices {', '.join(sorted(ours))} mix the same species "
                           f"{'/'.join(sl.chemical_symbols)}; icet cannot give them different "
                           "concentrations")
        c = counts[ours.pop()]
        total = sum(c.values())
        out[sl.symbol] = {sp: c.get(sp, 0) / total for sp in sl.chemical_symbols}
    return out


_SHARED: dict = {}


class _ProgressHandler(logging.Handler):
    def __init__(self, run: int):
        super().__init__(logging.INFO)
        self.run = run

    def emit(self, record: logging.LogRecord) -> None:
        queue = _SHARED.get("queue")
        if queue is not None and record.args:
            queue.put((self.run, int(record.args[0])))


def _anneal(job: tuple[int, int]) -> tuple[int, list[str]]:
    """One annealing run (worker): returns (seed, chemical symbols of the best structure)."""
    from icet.tools.structure_generation import generate_sqs_from_supercells

    run, seed = job
    log = logging.getLogger("icet.target_cluster_vector_annealing")
    handler = _ProgressHandler(run)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        best = generate_sqs_from_supercells(_SHARED["cs"], [_SHARED["supercell"]], _SHARED["conc"],
                                            n_steps=_SHARED["n_steps"], random_seed=seed)
    finally:
        log.removeHandler(handler)
    queue = _SHARED.get("queue")
    if queue is not None:
        queue.put((run, _SHARED["n_steps"]))
    return seed, best.get_chemical_symbols()


def n_cores() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def generate_sqs(comp: SiteComposition, parent: Atoms, option: SupercellOption, *,
                 n_structures: int = 1, n_runs: int | None = None, n_steps: int = DEFAULT_STEPS,
                 seed: int = 0, cutoffs: list[float] | None = None, n_workers: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> tuple[list[Atoms], dict]:
    """Anneal `n_runs` SQS (default max(2K, 16)) and keep the `n_structures` best distinct ones.

    Run i uses seed `seed * 1000 + i`, so the same seed gives the same structures on any
    number of workers. Returns the structures (vacancies removed; `site_label` and
    `sublattice` arrays kept; `atoms.info` holds seed and icet score) and the shared
    context (cluster space, targets, cutoffs) as a dict for `sqs_quality`.
    """
    if n_structures < 1:
        raise SQSError("--n-structures must be at least 1")
    if n_steps < 1:
        raise SQSError("--steps must be at least 1")
    targets, _ = site_targets(comp, parent)
    active = sorted(sub for sub, fr in targets.items() if len(fr) > 1)
    cutoffs = list(cutoffs) if cutoffs else default_cutoffs(parent, active)
    if any(c <= 0 for c in cutoffs):
        raise SQSError(f"cutoffs must be positive Å, got {cutoffs}")
    cs = cluster_space(parent, targets, cutoffs)
    supercell = make_supercell(parent, np.array(option.matrix))
    conc = icet_concentrations(cs, parent, option.counts)
    n_runs = max(n_runs or max(2 * n_structures, DEFAULT_RUNS), n_structures)
    jobs = [(i, seed * 1000 + i) for i in range(n_runs)]
    icet_cell = supercell.copy()
    for key in list(icet_cell.arrays):
        if key not in ("numbers", "positions"):
            del icet_cell.arrays[key]
    workers = max(1, min(n_workers or n_cores(), n_runs))
    ctx = mp.get_context("fork")
    queue = ctx.Queue() if progress else None
    _SHARED.update(cs=cs, supercell=icet_cell, conc=conc, n_steps=n_steps, queue=queue)
    done = [0] * n_runs
    results: list[tuple[int, list[str]]] = []
    try:
        if workers == 1:
            for job in jobs:
                results.append(_anneal(job))
                _drain(queue, done, progress, n_steps * n_runs)
        else:
            with ctx.Pool(workers) as pool:
                pending = pool.map_async(_anneal, jobs)
                while not pending.ready():
                    _drain(queue, done, progress, n_steps * n_runs)
                    time.sleep(0.1)
                results = pending.get()
        _drain(queue, done, progress, n_steps * n_runs)
    finally:
        _SHARED.clear()
    from icet.tools.structure_generation import _get_sqs_cluster_vector
    from mchammer.calculators.target_vector_calculator import compare_cluster_vectors

    target_cv = _get_sqs_cluster_vector(cs, conc)
    scored = []
    for s, symbols in results:
        trial = icet_cell.copy()
        trial.set_chemical_symbols(symbols)
        cv = cs.get_cluster_vector(trial)
        scored.append((float(compare_cluster_vectors(cv, target_cv, cs.as_list)), s, symbols, cv))
    scored.sort(key=lambda t: (t[0], t[1]))
    kept: list[tuple] = []
    for item in scored:
        if not any(_same_structure(icet_cell, item, k) for k in kept):
            kept.append(item)
        if len(kept) == n_structures:
            break
    structures = []
    for score, s, symbols, _ in kept:
        atoms = supercell.copy()
        atoms.set_chemical_symbols([sym if sym != ICET_VACANCY else "H" for sym in symbols])
        vac = [i for i, sym in enumerate(symbols) if sym == ICET_VACANCY]
        del atoms[vac]
        atoms.info.update(seed=s, icet_score=score, vacancies=len(vac), prototype=comp.prototype.name)
        if "conventional_cell" in parent.info:
            atoms.info["conventional_cell"] = parent.info["conventional_cell"]
        atoms.info.pop("provenance", None)
        structures.append(atoms)
    context = {"cluster_space": cs, "supercell": icet_cell, "concentrations": conc,
               "target_cv": target_cv, "cutoffs": cutoffs, "active": active,
               "symbols": [k[2] for k in kept], "n_runs": n_runs, "n_steps": n_steps,
               "distinct_found": len(kept), "sublattice_array": supercell.arrays[SUBLATTICE].copy()}
    return structures, context


def _drain(queue, done: list[int], progress, total: int) -> None:
    if queue is None:
        return
    changed = False
    while True:
        try:
            run, step = queue.get_nowait()
        except Exception:
            break
        done[run] = max(done[run], step)
        changed = True
    if changed and progress:
        progress(sum(done), total)


def _same_structure(cell: Atoms, a: tuple, b: tuple) -> bool:
    """Same occupation up to the symmetry of the supercell (pymatgen StructureMatcher)."""
    if abs(a[0] - b[0]) > 1e-6 or not np.allclose(a[3], b[3], atol=1e-8):
        return False
    if a[2] == b[2]:
        return True
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.io.ase import AseAtomsAdaptor

    structs = []
    for symbols in (a[2], b[2]):
        t = cell.copy()
        t.set_chemical_symbols([s if s != ICET_VACANCY else "He" for s in symbols])
        structs.append(AseAtomsAdaptor.get_structure(t))
    return StructureMatcher(primitive_cell=False, scale=False, attempt_supercell=False).fit(*structs)


def sqs_quality(context: dict, index: int, n_random: int = 50, seed: int = 0) -> dict:
    """Quality of SQS number `index`: icet score, deviation per orbit, Warren-Cowley α.

    Each number is given for the SQS and for `n_random` random occupations of the same
    supercell with the same counts (mean and standard deviation).
    """
    from icet.tools.structure_generation import occupy_structure_randomly
    from mchammer.calculators.target_vector_calculator import compare_cluster_vectors

    cs, cell, conc, target = (context[k] for k in ("cluster_space", "supercell", "concentrations",
                                                    "target_cv"))
    sqs = cell.copy()
    sqs.set_chemical_symbols(context["symbols"][index])
    orbits = cs.as_list
    cv = cs.get_cluster_vector(sqs)
    rng_scores, rng_dev = [], []
    for r in range(n_random):
        rand = cell.copy()
        occupy_structure_randomly(rand, cs, conc, random_seed=seed * 100003 + r)
        rcv = cs.get_cluster_vector(rand)
        rng_scores.append(compare_cluster_vectors(rcv, target, orbits))
        rng_dev.append(np.abs(rcv - target))
    rng_dev_arr = np.array(rng_dev)
    per_orbit = {}
    for k, entry in enumerate(orbits):
        if entry["order"] < 1:
            continue
        o = per_orbit.setdefault(entry["orbit_index"], {
            "orbit_index": int(entry["orbit_index"]), "order": int(entry["order"]),
            "radius_A": float(entry["radius"]), "sublattices": entry["sublattices"],
            "elements": []})
        o["elements"].append(k)
    orbit_rows = []
    for o in per_orbit.values():
        ks = o.pop("elements")
        o["sqs_mean_abs_deviation"] = float(np.mean(np.abs(cv[ks] - target[ks])))
        o["random_mean_abs_deviation"] = float(np.mean(rng_dev_arr[:, ks]))
        o["random_std_abs_deviation"] = float(np.std(rng_dev_arr[:, ks].mean(axis=1)))
        orbit_rows.append(o)
    alphas = {sub: warren_cowley(sqs, cell_sub_mask(context, sub)) for sub in context["active"]}
    rand = cell.copy()
    random_alpha = {}
    for sub in context["active"]:
        vals = []
        for r in range(min(n_random, 20)):
            occupy_structure_randomly(rand, cs, conc, random_seed=seed * 100003 + r)
            vals.append([s["mean_abs_alpha"] for s in warren_cowley(rand, cell_sub_mask(context, sub))])
        random_alpha[sub] = np.mean(vals, axis=0).tolist() if vals else []
    return {
        "icet_score": float(compare_cluster_vectors(cv, target, orbits)),
        "random_score_mean": float(np.mean(rng_scores)),
        "random_score_std": float(np.std(rng_scores)),
        "cv_deviation_norm": float(np.linalg.norm(cv - target)),
        "random_cv_deviation_norm_mean": float(np.mean(np.linalg.norm(rng_dev_arr, axis=1))),
        "orbits": orbit_rows,
        "warren_cowley": alphas,
        "random_mean_abs_alpha": random_alpha,
        "n_random": n_random,
    }


def cell_sub_mask(context: dict, sub: str) -> np.ndarray:
    return np.asarray(context["sublattice_array"]) == sub


def warren_cowley(atoms: Atoms, mask: np.ndarray, n_shells: int = 2) -> list[dict]:
    """Warren-Cowley α_ij = 1 - P(j | neighbour of i) / c_j for the first `n_shells` shells.

    Computed on the sites in `mask` (one sublattice, vacancies 'X' counted as a species);
    shells are the distinct distances between those sites (Å, ±0.05). Returns per shell
    the distance, the α matrix and the mean |α| over all species pairs (0 = random).
    """
    sub = atoms[np.flatnonzero(mask)]
    symbols = np.array(sub.get_chemical_symbols())
    species = sorted(set(symbols))
    conc = {s: float(np.mean(symbols == s)) for s in species}
    i, j, d = neighbor_list("ijd", sub, 12.0)
    shells = _shells(d)[:n_shells]
    rows = []
    for r in shells:
        sel = np.abs(d - r) < SHELL_TOL
        alpha = {}
        for a in species:
            centre = sel & (symbols[i] == a)
            n_all = int(centre.sum())
            for b in species:
                p = np.sum(symbols[j[centre]] == b) / n_all if n_all else 0.0
                alpha[f"{a}-{b}"] = float(1 - p / conc[b])
        rows.append({"distance_A": r, "alpha": alpha,
                     "mean_abs_alpha": float(np.mean(np.abs(list(alpha.values()))))})
    return rows
