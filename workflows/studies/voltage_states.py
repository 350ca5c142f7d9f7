"""The cells of a voltage study: the as-made host(s) and their desodiated orderings.

- `na_contents`: the Na contents (per formula unit) asked for with `--na` or `--x`, checked
  against [residual Na, as-made Na] (residual: `residual_na` of configs/prototypes/*.yaml);
- `pristine_host`: a composition with one species per sublattice on the prototype's parent
  cell; `sqs_hosts`: K SQS of a mixed composition (`workflows.studies.sqs_set.build_sqs_set`,
  reused when `out/sqs` holds the same request);
- `desodiated`: at one Na content, the Na/vacancy orderings of a host pre-ranked by Ewald
  energy (`structures.orderings`): every symmetry-distinct one in the smallest supercell of a
  pristine host (`rank_orderings`), or an Ewald search in the P1 SQS cell (`search_orderings`),
  each candidate saying which search produced it.

Ewald charges: the as-made oxidation states of the cell (`structures.rules`); the charge of
the removed Na spread evenly over the transition-metal sites (a mean-field background used
only to rank orderings). Units: Na per formula unit; Ewald energies eV per cell.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from structures.composition import SiteComposition, assign_sublattices
from structures.constants import SITE_LABEL, SUBLATTICE, TRANSITION_METALS
from structures.errors import HecathodeInputError
from structures.io import read_structure
from structures.orderings import DEFAULT_MAX_ORDERINGS, OrderingCandidate, rank_orderings, search_orderings
from structures.prototypes import parent_cell
from structures.sqs import ICET_VACANCY, site_targets

TOL = 1e-6  # Na per formula unit


class VoltageInputError(HecathodeInputError):
    """A voltage request the study cannot meet; the message names the bad part."""


@dataclass
class Host:
    """An as-made cell: name (pristine, sqs-000), labelled atoms, formula units, composition."""

    name: str
    atoms: Atoms
    n_fu: float
    composition: SiteComposition  # of this cell (an SQS holds the nearest representable one)
    kind: str  # "pristine" or "sqs"
    start_structure: str  # relative to the study folder

    @property
    def alkali(self) -> str:
        return self.composition.role("alkali")[0].label

    @property
    def na_per_fu(self) -> float:
        on = self.atoms.arrays[SUBLATTICE] == self.alkali
        return float(np.sum(np.array(self.atoms.get_chemical_symbols())[on] == "Na")) / self.n_fu

    @property
    def na_labels(self) -> tuple[str, ...]:
        on = self.atoms.arrays[SUBLATTICE] == self.alkali
        return tuple(sorted({str(x) for x in self.atoms.arrays[SITE_LABEL][on]}))


# ------------------------------------------------------------------ Na contents

def na_contents(comp: SiteComposition, na: Sequence[float] | None = None,
                x: Sequence[float] | None = None) -> list[float]:
    """Na per formula unit, highest first: `na` as given, or `x` × the as-made Na content.

    Raises VoltageInputError for both or neither given, fewer than two distinct contents, or a
    content outside [residual Na, as-made Na]."""
    if (na is None) == (x is None):
        raise VoltageInputError("give the Na contents either as --na (Na per formula unit, e.g. 3,1) "
                                "or as --x (fraction of the as-made Na, e.g. 1,0.5,0), not both")
    made = float(sum(o.species.get("Na", 0.0) for o in comp.role("alkali")))
    residual = comp.prototype.residual_na
    values = [float(v) for v in (na if na is not None else [made * float(f) for f in x])]
    for v, given in zip(values, na if na is not None else x, strict=True):
        if not residual - TOL <= v <= made + TOL:
            what = f"--na {given:g}" if na is not None else f"--x {given:g} (Na{v:g})"
            raise VoltageInputError(
                f"{what}: Na content outside [{residual:g}, {made:g}] per formula unit of "
                f"{comp.formula} on {comp.prototype.name} (residual Na {residual:g} stays in the host, "
                f"configs/prototypes/{comp.prototype.name}.yaml; as-made Na {made:g})")
    out = sorted({round(v, 9) for v in values}, reverse=True)
    if len(out) < 2:
        raise VoltageInputError(f"a voltage needs two Na contents at least, got {', '.join(map(str, out))}")
    return out


# ------------------------------------------------------------------ hosts

def is_ordered(comp: SiteComposition, parent: Atoms) -> bool:
    """True when every sublattice of the parent cell holds one species (no SQS needed)."""
    targets, _ = site_targets(comp, parent)
    return all(len(fr) == 1 for fr in targets.values())


def pristine_host(comp: SiteComposition) -> Host:
    """The prototype's parent cell holding `comp` (one species per sublattice)."""
    parent = parent_cell(comp.prototype.name)
    targets, _ = site_targets(comp, parent)
    symbols = parent.get_chemical_symbols()
    subs = parent.arrays[SUBLATTICE].astype(str)
    for label, fr in targets.items():
        if len(fr) != 1 or ICET_VACANCY in fr:
            raise VoltageInputError(f"{comp.formula}: the {label} sublattice of the {comp.prototype.name} "
                                    f"parent cell would hold {', '.join(sorted(fr))}: not a single-species "
                                    "(pristine) host; give it as the main composition to build SQS")
        el = next(iter(fr))
        symbols = [el if s == label else sym for s, sym in zip(subs, symbols, strict=True)]
    parent.set_chemical_symbols(symbols)
    n_fu = float(parent.info["formula_units"])
    return Host("pristine", parent, n_fu, comp, "pristine", "pristine.extxyz")


def cell_composition(atoms: Atoms, comp: SiteComposition) -> SiteComposition:
    """The composition an SQS cell holds, each element kept on the sublattice it sits on."""
    mixing = comp.role("mixing")[0]
    subs = atoms.arrays[SUBLATTICE].astype(str)
    n_fu = float(np.sum(subs == mixing.label)) / mixing.sites
    counts: dict[tuple[str, str], int] = {}
    for el, sub in zip(atoms.get_chemical_symbols(), subs, strict=True):
        counts[(sub, el)] = counts.get((sub, el), 0) + 1
    formula = "".join(f"{el}{n / n_fu:.6g}" for (_, el), n in counts.items())
    site_map = {el: sub for (sub, el) in counts}
    return assign_sublattices(formula, comp.prototype.name, site_map=site_map)


def sqs_hosts(comp: SiteComposition, out_dir: Path, request: dict,
              progress: Callable[[str], None] | None = None) -> tuple[list[Host], dict]:
    """K SQS of `comp` in out_dir/sqs (reused when built with the same `request`: formula,
    prototype, n_sqs, seed, max_atoms, min_width_A, sqs_steps, composition_options)."""
    from workflows.studies.sqs_set import reuse_or_build_sqs_set

    sqs_dir = out_dir / "sqs"
    doc = reuse_or_build_sqs_set(sqs_dir, request, progress, error=VoltageInputError)
    hosts = []
    for entry in doc["structures"]:
        atoms = read_structure(sqs_dir / entry["extxyz"])
        cell_comp = cell_composition(atoms, comp)
        n_fu = float(np.sum(atoms.arrays[SUBLATTICE] == comp.role("mixing")[0].label)) \
            / comp.role("mixing")[0].sites
        hosts.append(Host(Path(entry["extxyz"]).stem, atoms, n_fu, cell_comp, "sqs",
                          f"sqs/{entry['extxyz']}"))
    return hosts, doc


# ------------------------------------------------------------------ orderings

def ewald_charges(host: Host, na_per_fu: float) -> dict[str, float]:
    """Element -> charge (e) of the transition metals at `na_per_fu`: as made plus the removed Na
    charge spread evenly over the transition-metal sites of the mixing sublattice."""
    from structures.rules import guess_oxidation_states

    mixing = host.composition.role("mixing")[0]
    ox = guess_oxidation_states(host.composition)
    if not ox.charge_balanced:
        raise VoltageInputError(f"no neutral oxidation-state assignment for {host.composition.formula}")
    states = ox.states.get(mixing.label, {})
    tm_sites = sum(a for el, a in mixing.species.items() if el in TRANSITION_METALS)
    if tm_sites <= 0:
        raise VoltageInputError(f"{host.composition.formula}: no transition metal on {mixing.label} to be "
                                "oxidised when Na leaves")
    shift = (host.na_per_fu - na_per_fu) / tm_sites
    return {el: float(q) + shift for el, q in states.items() if el in TRANSITION_METALS}


def tm_oxidation_state(host: Host, na_per_fu: float) -> float:
    """Mean formal oxidation state of the transition metals at `na_per_fu` (charge balance)."""
    mixing = host.composition.role("mixing")[0]
    charges = ewald_charges(host, na_per_fu)
    amounts = {el: a for el, a in mixing.species.items() if el in charges}
    return sum(a * charges[el] for el, a in amounts.items()) / sum(amounts.values())


@dataclass
class Desodiated:
    """The candidates at one Na content (lowest Ewald first) and how they were found."""

    na_per_fu: float
    candidates: list[OrderingCandidate]
    n_fu: list[float]  # formula units of each candidate's cell
    n_found: int  # orderings enumerated (pristine) or distinct states reached (SQS)
    method: str  # rank_orderings (enumeration), search_orderings, as-made, fully desodiated
    wall_s: float


def desodiated(host: Host, na_per_fu: float, *, n_relax: int | None, seed: int = 0,
               max_orderings: int = DEFAULT_MAX_ORDERINGS, max_atoms: int = 400) -> Desodiated:
    """The `n_relax` lowest-Ewald orderings of `host` at `na_per_fu` (None: every ordering found).

    Raises OrderingError (structures.orderings: no supercell holds the content, more orderings
    than `max_orderings`, with how many and how to raise it) or VoltageInputError (an SQS cell
    that holds no whole number of Na at this content)."""
    if abs(na_per_fu - host.na_per_fu) < TOL:
        cand = OrderingCandidate(0, float("nan"), host.atoms.copy(), np.eye(3, dtype=int).tolist(),
                                 "as-made (no vacancy to order)")
        return Desodiated(na_per_fu, [cand], [host.n_fu], 1, "as-made", 0.0)
    charges = ewald_charges(host, na_per_fu)
    n_keep = na_per_fu * host.n_fu
    if abs(n_keep) < TOL:
        pairs = zip(host.atoms.arrays[SUBLATTICE], host.atoms.get_chemical_symbols(), strict=True)
        empty = host.atoms[[not (sub == host.alkali and el == "Na") for sub, el in pairs]]
        cand = OrderingCandidate(0, float("nan"), empty, np.eye(3, dtype=int).tolist(),
                                 "every Na removed (nothing to order)")
        return Desodiated(na_per_fu, [cand], [host.n_fu], 1, "fully desodiated", 0.0)
    if host.kind == "pristine":
        res = rank_orderings(host.atoms, host.na_labels, n_keep, oxidation_states=charges,
                             composition=host.composition, max_orderings=max_orderings, max_atoms=max_atoms)
        method = "rank_orderings (symmetry-distinct enumeration, icet)"
    else:
        if abs(n_keep - round(n_keep)) > TOL:
            raise VoltageInputError(f"{host.name} holds {host.n_fu:g} formula units: Na{na_per_fu:g} is "
                                    f"{n_keep:g} Na per cell, not a whole number; choose contents in steps "
                                    f"of {1 / host.n_fu:g} or a larger SQS (--max-atoms)")
        n_return = n_relax if n_relax is not None else max_orderings
        res = search_orderings(host.atoms, host.na_labels, round(n_keep), oxidation_states=charges,
                               composition=host.composition, n_return=n_return, seed=seed,
                               n_starts=max(4, 3 * (n_relax or 2)))
        method = "search_orderings (Ewald minimizer / annealing in the P1 cell)"
    cands = res.candidates if n_relax is None else res.candidates[:n_relax]
    n_fu = [abs(round(float(np.linalg.det(np.array(c.supercell_matrix))))) * host.n_fu for c in cands]
    return Desodiated(na_per_fu, cands, n_fu, res.n_found, method, res.wall_s)


__all__ = ["Desodiated", "Host", "VoltageInputError", "cell_composition", "desodiated", "ewald_charges",
           "is_ordered", "na_contents", "pristine_host", "sqs_hosts", "tm_oxidation_state"]
