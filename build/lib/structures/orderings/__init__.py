"""Na/vacancy orderings of a partially occupied alkali sublattice, ranked by Ewald energy.

Given a parent cell with every position present (a `DisorderedStructure`, whose primitive
`parent_atoms` is used with partially occupied alkali orbits of the same element pooled into
one sublattice as in `alkali_merge`; a pymatgen Structure; or any `ase.Atoms` with
`site_label` arrays) and the sites to order (their labels) with the number of Na to keep:

- `rank_orderings`: the smallest supercell of the parent that holds the occupancy exactly
  (within `tolerance` in site fraction and `max_atoms`), every symmetry-distinct ordering
  in it (icet's `enumerate_structures`, Hart-Forcade enumeration over all supercell
  shapes of that size), each one's Ewald energy (pymatgen `EwaldSummation`) and the list
  ranked, lowest first;
- `search_orderings`: for cells without usable symmetry (a P1 SQS: keep n of its m Na),
  pymatgen's `EwaldMinimizer` where the problem is small enough, then simulated annealing
  with a greedy swap polish on the Ewald matrix from several seeds; every state records
  which search produced it;
- `odst_orderings`: pymatgen's `OrderDisorderedStructureTransformation` on the same cell
  and charges, as the reference to compare against.

Charges (oxidation states): Na+1, P+5, O-2, F-1 and the other fixed states of
`configs/rules/redox.yaml`; the metals from `structures.rules.guess_oxidation_states`
on the composition (per sublattice); a mixed or partially occupied site that is not
ordered carries its mean charge Σ x_i q_i. `oxidation_states` overrides per element.

Energies in eV (total Ewald energy of the cell), lengths in Å. No interatomic potential
here: relaxing the best N belongs to `workflows`.

Modules: `frame` (the parent frame, charges, result types, Ewald energies), `enumeration`
(`rank_orderings`, `smallest_supercell`), `search` (`search_orderings`), `odst`
(`odst_orderings`, `rank_of`). Everything public is importable from `structures.orderings`.
"""

from structures.orderings.enumeration import (
    DEFAULT_MAX_ATOMS,
    DEFAULT_MAX_ORDERINGS,
    DEFAULT_TOLERANCE,
    rank_orderings,
    smallest_supercell,
)
from structures.orderings.frame import (
    VACANCY_SYMBOL,
    OrderingCandidate,
    OrderingError,
    OrderingResult,
    atoms_charges,
    ewald_energy,
    ewald_matrix,
)
from structures.orderings.odst import odst_orderings, rank_of
from structures.orderings.search import search_orderings

__all__ = [
    "DEFAULT_MAX_ATOMS", "DEFAULT_MAX_ORDERINGS", "DEFAULT_TOLERANCE", "VACANCY_SYMBOL", "OrderingCandidate",
    "OrderingError", "OrderingResult", "atoms_charges", "ewald_energy", "ewald_matrix", "odst_orderings",
    "rank_of", "rank_orderings", "search_orderings", "smallest_supercell",
]
