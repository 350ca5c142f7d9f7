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
   first two neighbour shells of each active sublattice; a shell on which the SQS is
   farther from random than random occupations are is listed and warned about.

Default cluster space: pairs up to the farthest 2nd neighbour shell of the active
sublattices, each measured among its own sites (`default_cutoffs`).

Units: lengths in Å, entropies in R, concentrations as site fractions (0-1).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from collections.abc import Callable

import numpy as np
from ase import Atoms
from ase.build import make_supercell
from ase.neighborlist import neighbor_list

from structures.composition import SiteComposition
from structures.prototypes import SUBLATTICE
from structures.settings import n_cores
from structures.sqs_quality import (  # noqa: F401  (re-exported: structures.sqs is the SQS API)
    SHELL_TOL,
    SQSQualityWarning,
    cell_sub_mask,
    neighbour_shells,
    sqs_quality,
    warren_cowley,
    worse_than_random,
)
from structures.supercells import (  # noqa: F401  (re-exported)
    DEFAULT_MAX_ATOMS,
    DEFAULT_MIN_WIDTH,
    ICET_VACANCY,
    SQSError,
    SupercellOption,
    SupercellPlan,
    achieved_entropy,
    attach_sublattices,
    choose_supercell,
    formula_units,
    largest_remainder,
    perpendicular_widths,
    plan_supercells,
    site_targets,
    smallest_for_one_of_each,
    supercell_shape,
)

DEFAULT_STEPS = 20000  # Monte Carlo trial steps per annealing run
DEFAULT_RUNS = 16  # independent annealing runs (seeds); benchmarks/bench_sqs.py measured the choice


def default_cutoffs(parent: Atoms, active: list[str]) -> list[float]:
    """[pair] cutoff (Å): the farthest of the active sublattices' own 2nd shells + 0.1 Å.

    Each sublattice's shells are the distances among its own sites, so with two mixing
    sublattices every one keeps its first two shells (P2 with Na/vacancy and a mixed TM
    layer: 5.10 Å; pooling the sites would stop at the Na-TM distance, cutoff 3.35 Å, and
    leave the TM 2nd shell at 5.0 Å out). Pairs only, first two shells: what a 100-200-atom
    cell with 3-5 species can match (the Warren-Cowley α of those shells is what the SQS
    literature reports); pass `cutoffs=[pair, triplet]` to add triplets.
    """
    own = (own_shells(parent, sub) for sub in active)
    second = [shells[min(1, len(shells) - 1)] for shells in own if shells]
    if not second:
        return [6.0]
    return [round(max(second) + 0.1, 2)]


def own_shells(atoms: Atoms, sublattice: str, cutoff: float = 12.0) -> list[float]:
    """Neighbour-shell distances (Å, up to `cutoff`) among the sites of one sublattice."""
    mask = atoms.arrays[SUBLATTICE] == sublattice
    if not mask.any():
        return []
    return neighbour_shells(neighbor_list("d", atoms[mask], cutoff))


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
    icet_cell = _bare_cell(supercell)
    results = _anneal_all(cs, icet_cell, conc, n_steps, [(i, seed * 1000 + i) for i in range(n_runs)],
                          n_workers, progress)
    kept, target_cv = _best_distinct(cs, icet_cell, conc, results, n_structures)
    structures = [_sqs_atoms(supercell, parent, comp, score, s, symbols) for score, s, symbols, _ in kept]
    context = {"cluster_space": cs, "supercell": icet_cell, "concentrations": conc,
               "target_cv": target_cv, "cutoffs": cutoffs, "active": active,
               "symbols": [k[2] for k in kept], "n_runs": n_runs, "n_steps": n_steps,
               "distinct_found": len(kept), "sublattice_array": supercell.arrays[SUBLATTICE].copy()}
    return structures, context


def _bare_cell(atoms: Atoms) -> Atoms:
    """A copy with positions and numbers only (what icet's structure container accepts)."""
    bare = atoms.copy()
    for key in list(bare.arrays):
        if key not in ("numbers", "positions"):
            del bare.arrays[key]
    return bare


def _anneal_all(cs, icet_cell: Atoms, conc: dict, n_steps: int, jobs: list[tuple[int, int]],
                n_workers: int | None, progress) -> list[tuple[int, list[str]]]:
    """Run every annealing job (run index, seed), in parallel over the cores; [(seed, symbols)]."""
    n_runs = len(jobs)
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
    return results


def _best_distinct(cs, icet_cell: Atoms, conc: dict, results: list[tuple[int, list[str]]],
                   n_structures: int) -> tuple[list[tuple], np.ndarray]:
    """The `n_structures` lowest-score distinct occupations [(score, seed, symbols, cv)] and the
    target cluster vector."""
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
    return kept, target_cv


def _sqs_atoms(supercell: Atoms, parent: Atoms, comp: SiteComposition, score: float, seed: int,
               symbols: list[str]) -> Atoms:
    """The SQS as labelled Atoms: vacancies removed, seed, score and prototype in `info`."""
    atoms = supercell.copy()
    atoms.set_chemical_symbols([sym if sym != ICET_VACANCY else "H" for sym in symbols])
    vac = [i for i, sym in enumerate(symbols) if sym == ICET_VACANCY]
    del atoms[vac]
    atoms.info.update(seed=seed, icet_score=score, vacancies=len(vac), prototype=comp.prototype.name)
    if "conventional_cell" in parent.info:
        atoms.info["conventional_cell"] = parent.info["conventional_cell"]
    atoms.info.pop("provenance", None)
    return atoms


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
