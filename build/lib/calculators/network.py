"""The vacancy-hop network of a cell: an NEB per symmetry-distinct hop, then percolation.

`run_network(atoms, "chgnet", directory="run")` runs `calculators.neb.run_neb` for every
symmetry-distinct hop (`structures.hops.distinct_hops`, folders `hop-NN/`, each resumable),
turns the barriers into effective ones on a common energy zero, and asks
`structures.hops.percolation_barriers` for the lowest barrier that carries a vacancy across
the cell along a, b and c. The result, a `calculators.results.HopNetwork`, is written
atomically to `network.json`. Energies eV, lengths Å.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from ase import Atoms

from calculators.neb import NEBInputError, check_cell, run_neb
from calculators.results import HopNetwork
from structures.io import write_json

RECONSTRUCTION_A = 1.0  # an endpoint atom (other than the hopping one) that moved farther has
#                         relaxed into another site: the endpoint is not the state the hop assumed

# the keys of an NEB result a network hop entry keeps
HOP_KEYS = ("forward_barrier_eV", "reverse_barrier_eV", "reaction_energy_eV", "saddle", "converged",
            "endpoint_energies_eV", "force_calls", "endpoint_max_displacement_A")


def run_network(atoms: Atoms, calculator, *, species: str = "Na", cutoff: float = 5.0,
                directory: str | Path | None = None, progress: Callable[[str], None] | None = None,
                **neb_kwargs) -> HopNetwork:
    """NEB for every symmetry-distinct `species` vacancy hop up to `cutoff` Å, and the
    percolation barrier along a, b, c (structures.hops.percolation_barriers).

    Each hop's weight is its saddle energy minus the lowest endpoint energy found in the
    network (eV): the barrier a vacancy in its most stable site must overcome to make that
    hop. Endpoints in which another atom moved more than RECONSTRUCTION_A between the two
    relaxed states (a neighbour that slid into another site) are flagged `reconstructed`
    and neither set that reference nor enter the percolation analysis. Hops whose endpoints
    relax into each other are recorded (`skipped`: why) and left out.
    """
    from structures.hops import crystal_axes, distinct_hops, percolation_barriers

    classes = distinct_hops(atoms, species, cutoff)
    check_cell(atoms, max((c["hop"] for c in classes), key=lambda h: h.length))
    run_dir = Path(directory) if directory is not None else None
    hops = []
    for k, cls in enumerate(classes):
        if progress:
            progress(f"hop {k + 1}/{len(classes)}: {cls['hop'].name}, {cls['hop'].length:.2f} Å")
        hops.append(_hop_entry(atoms, k, cls, calculator,
                               run_dir / f"hop-{k:02d}" if run_dir else None, neb_kwargs))
    e_ref, edges = _effective_barriers(hops, classes)
    axes = crystal_axes(atoms)
    result = HopNetwork(
        species=species, cutoff_A=cutoff, n_atoms=len(atoms), reference_energy_eV=e_ref, hops=hops,
        percolation_barrier_eV=percolation_barriers(atoms, edges, axes),
        axes_A=np.round(axes, 4).tolist(), converged=all(h.get("converged", True) for h in hops))
    if run_dir is not None:
        write_json(run_dir / "network.json", result.to_json())
    return result


def _hop_entry(atoms: Atoms, k: int, cls: dict, calculator, directory: Path | None,
               neb_kwargs: dict) -> dict:
    """The network's entry for hop class `k`: its NEB's key numbers, or why it was skipped."""
    hop = cls["hop"]
    entry = {"class": k, "multiplicity": cls["multiplicity"], **hop.as_dict()}
    try:
        result = run_neb(atoms, hop, calculator, directory=directory, **neb_kwargs)
    except NEBInputError as exc:
        entry["skipped"] = str(exc)
        return entry
    doc = result.to_json()
    entry.update({key: doc[key] for key in HOP_KEYS})
    entry["saddle_energy_eV"] = result.saddle_energy_eV
    return entry


def _effective_barriers(hops: list[dict], classes: list[dict]) -> tuple[float, list]:
    """Flag reconstructed endpoints, set each hop's `effective_barrier_eV` (saddle energy minus
    the lowest clean endpoint energy); returns (that reference energy, percolation edges)."""
    done = [h for h in hops if "saddle_energy_eV" in h]
    if not done:
        raise NEBInputError("no hop of the network gave a barrier")
    for h in done:
        h["reconstructed"] = (h.get("endpoint_max_displacement_A") or 0.0) > RECONSTRUCTION_A
    clean = [h for h in done if not h["reconstructed"]] or done
    e_ref = min(min(h["endpoint_energies_eV"]) for h in clean)
    edges = []
    for h in done:
        h["effective_barrier_eV"] = h["saddle_energy_eV"] - e_ref
        if not h["reconstructed"]:  # a reconstructed endpoint means another process, not this hop
            edges += [(m, h["effective_barrier_eV"]) for m in classes[h["class"]]["members"]]
    return e_ref, edges
