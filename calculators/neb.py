"""Climbing-image NEB for a Na vacancy hop between labelled sites, resumable.

`run_neb(atoms, hop, "chgnet", directory="run")`, in four stages:
1. endpoints: the hop's end site is emptied (initial state); the moving atom is put on
   it (final state); both are rattled by `rattle` Å (relaxations started from perfectly
   symmetric positions stall on saddle points) and relaxed at fixed cell with the same
   calculator (`calculators.relax.relax`, trajectories `initial.traj`, `final.traj`); when
   a space-group operation swaps the two sites, the final state is the relaxed initial one
   mapped by it (`structures.hops.reversing_operation`), which its relax confirms in one call;
2. band: images by IDPP between the relaxed endpoints, or the last complete band of
   `band-<N>images.traj` when resuming (another N starts a new band from IDPP); ASE's DyNEB
   (converged images are not recomputed) with a climbing image and
   `method="improvedtangent"`, spring `spring` eV/Å²;
3. optimise: FIRE (or BFGS, or ODE on the whole band); every step appends the whole band to
   the band trajectory;
4. summarise: a `calculators.results.NebHop`, written atomically to `neb.json`.

The result: forward and reverse barrier, reaction energy, hop length, image energies and
reaction coordinate, max force, the converged flag, where the maximum is (interior saddle or
an endpoint), force calls, wall time, the metals around the path, and the band's images.
Energies eV, forces eV/Å, lengths Å, time s. Stages 2 and 3 are `calculators.band`; the hop
network is `calculators.network`; VASP NEB folders are `calculators.vasp_calc.write_vasp_neb`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from calculators.band import Band, optimise
from calculators.results import NebHop, Relaxation, band_name
from structures.constants import SITE_LABEL
from structures.errors import HecathodeInputError
from structures.hops import (
    Hop,
    local_environment,
    map_state,
    required_image_distance,
    reversing_operation,
    shortest_image_distance,
)
from structures.io import ensure_site_labels, write_json

NEB_OPTIMIZERS = ("FIRE", "BFGS", "ODE")
DEFAULT_IMAGES = 5  # interior images
# The review (Chem. Sci. 16, 17058) reports these NVPF Na(2)->Na(1) barriers; first-principles
# studies give 0.2-0.45 eV for Na diffusion in NVPF along the crystal axes.
NVPF_REVIEW_EV = {"pristine": 1.984, "high-entropy": 0.963}
NVPF_LITERATURE_EV = (0.2, 0.45)


class NEBInputError(HecathodeInputError):
    """Bad NEB settings: cell too small for the hop, endpoints that relax into each other."""


def check_settings(n_images: int = DEFAULT_IMAGES, fmax: float = 0.05, spring: float = 0.1,
                   optimizer: str = "FIRE", **_) -> str:
    """Validate NEB settings before any work; returns the optimizer name in capitals."""
    opt_name = str(optimizer).upper()
    if opt_name not in NEB_OPTIMIZERS:
        raise NEBInputError(f"unknown NEB optimizer {optimizer!r} (allowed: {', '.join(NEB_OPTIMIZERS)})")
    if not (isinstance(n_images, int) and n_images >= 1):
        raise NEBInputError(f"--images must be at least 1, got {n_images!r}")
    if not fmax > 0 or not spring > 0:
        raise NEBInputError(f"fmax and spring must be positive, got {fmax} eV/Å and {spring} eV/Å²")
    return opt_name


def endpoints(atoms: Atoms, hop: Hop) -> tuple[Atoms, Atoms, int]:
    """(initial, final, index of the moving atom): vacancy on `hop.end`, then the atom moved."""
    initial = atoms.copy()
    ensure_site_labels(initial)
    moving = hop.start - (1 if hop.end < hop.start else 0)
    target = atoms.positions[hop.start] + hop.vector
    del initial[hop.end]
    final = initial.copy()
    final.positions[moving] = target
    final.arrays[SITE_LABEL][moving] = hop.end_label
    return initial, final, moving


def check_cell(atoms: Atoms, hop: Hop) -> None:
    """Refuse a cell in which the hopping atom could be nearer a periodic image of its vacancy."""
    need = required_image_distance(hop.length)
    have = shortest_image_distance(atoms.cell)
    if have < need - 1e-6:
        raise NEBInputError(f"the cell's shortest lattice vector is {have:.2f} Å but a {hop.length:.2f} Å "
                            f"hop needs >= {need:.2f} Å (2 × hop + 0.5 Å); use a supercell")


def _finished(path: Path, hop: Hop, n_images: int, fmax: float) -> NebHop | None:
    """A converged result already on disk for the same hop and settings (a rerun skips it)."""
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    same = (doc.get("converged") and doc.get("n_images") == n_images and doc.get("fmax_eV_per_A") == fmax
            and doc["hop"]["start_index"] == hop.start and doc["hop"]["end_index"] == hop.end)
    if not same:
        return None
    result = NebHop.from_json(path)
    if result.endpoint_max_displacement_A is None and result.images:
        moving = hop.start - (1 if hop.end < hop.start else 0)
        result.endpoint_max_displacement_A = _displacements(result.images[0], result.images[-1], moving)
    return result


def _displacements(initial: Atoms, final: Atoms, moving: int | None) -> float:
    """Largest displacement (Å, mic) between the two relaxed endpoints, the hopping atom excluded."""
    from ase.geometry import find_mic

    d, _ = find_mic(final.positions - initial.positions, initial.cell, initial.pbc)
    norms = np.linalg.norm(d, axis=1)
    if moving is not None:
        norms[moving] = 0.0
    return float(norms.max())


def _reaction_coordinate(images: list[Atoms]) -> list[float]:
    from ase.geometry import find_mic

    s = [0.0]
    for a, b in zip(images[:-1], images[1:], strict=True):
        d, _ = find_mic(b.positions - a.positions, a.cell, a.pbc)
        s.append(s[-1] + float(np.linalg.norm(d)))
    return s


def run_neb(atoms: Atoms, hop: Hop, calculator, *, n_images: int = DEFAULT_IMAGES, fmax: float = 0.05,
            steps: int = 500, optimizer: str = "FIRE", spring: float = 0.1, climb: bool = True,
            rattle: float = 0.05, seed: int = 0, endpoint_fmax: float | None = None,
            use_symmetry: bool = True, dynamic: bool = True, directory: str | Path | None = None,
            preset: str | None = None, callback: Callable[[dict], None] | None = None,
            relaxed_ends: tuple[Relaxation, Relaxation] | None = None, guide: Atoms | None = None,
            **overrides) -> NebHop:
    """Relax the endpoints of `hop`, then run a climbing-image NEB (see module docstring).

    calculator: a name (chgnet, sevenn, gpaw) built with `preset` and `overrides`, or an ASE
    calculator (shared by all images). Returns a `calculators.results.NebHop` (its `images`:
    the band). A converged result already in `directory` for the same hop and settings is
    returned without recomputing. `relaxed_ends`: the two endpoints already relaxed (atom
    order of `endpoints(atoms, hop)`, e.g. shared by a hop network): stage 1 is skipped and
    the hop's `force_calls` are the band's alone. `guide`: an image near the saddle (a
    network's short-NEB estimate), the middle of the first band (`calculators.band.Band`).
    """
    t0 = time.perf_counter()
    opt_name = check_settings(n_images, fmax, spring, optimizer)
    check_cell(atoms, hop)
    run_dir = Path(directory) if directory is not None else None
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        done = _finished(run_dir / "neb.json", hop, n_images, fmax)
        if done is not None:
            return done

    initial, final, moving = _rattled_endpoints(atoms, hop, rattle, seed)
    calc, name, preset_label = _neb_calculator(calculator, preset, initial, run_dir, overrides)
    if relaxed_ends is not None:
        _check_apart(relaxed_ends[0].atoms, relaxed_ends[1].atoms, moving, hop)
        ends = _Ends(relaxed_ends[0], relaxed_ends[1], moving, False, calls=0)
    else:
        ends = _relax_endpoints(atoms, hop, initial, final, moving, calc, use_symmetry=use_symmetry,
                                fmax=endpoint_fmax or fmax, steps=steps, run_dir=run_dir,
                                callback=callback)
    # DyNEB (Lindgren et al., JCTC 15, 5787 (2019)) does not recompute images already below
    # fmax; the ODE solver moves all images together and gets the plain NEB
    band = Band(ends.initial, ends.final, calc, initial.get_initial_magnetic_moments(),
                n_images=n_images, spring=spring, fmax=fmax, climb=climb,
                dynamic=dynamic and opt_name != "ODE",
                path=run_dir / band_name(n_images) if run_dir else None, guide=guide)
    converged, neb_steps = optimise(band, opt_name, fmax, steps, callback)
    result = _summarise(atoms, hop, ends, band, calculator=name, preset=preset_label,
                        fmax_eV_per_A=fmax, converged=converged, n_images=n_images,
                        spring_eV_per_A2=spring, optimizer=opt_name, climbing_image=climb,
                        neb_steps=neb_steps, guided=band.guided, wall_time_s=time.perf_counter() - t0)
    if run_dir is not None:
        write_json(run_dir / "neb.json", result.to_json())
    return result


def _rattled_endpoints(atoms: Atoms, hop: Hop, rattle: float, seed: int) -> tuple[Atoms, Atoms, int]:
    """`endpoints`, both shaken by the same Gaussian displacements (`rattle` Å)."""
    initial, final, moving = endpoints(atoms, hop)
    rng = np.random.default_rng(seed)
    shake = rng.normal(0.0, rattle, initial.positions.shape) if rattle > 0 else 0.0
    initial.positions += shake
    final.positions += shake
    return initial, final, moving


def _neb_calculator(calculator, preset: str | None, initial: Atoms, run_dir: Path | None,
                    overrides: dict):
    """(calculator, its name, its preset label); refuses VASP, whose NEBs run on a cluster."""
    from calculators import get_calculator

    if isinstance(calculator, str):
        name = calculator
        calc = get_calculator(name, preset, atoms=initial, directory=run_dir, **overrides)
    else:
        calc = calculator
        name = (getattr(calc, "hecathode", None) or {}).get("calculator", type(calc).__name__.lower())
    preset_label = (getattr(calc, "hecathode", None) or {}).get("preset", preset)
    if name == "vasp":
        raise NEBInputError("VASP NEBs are not run from here: use --write-inputs to write the "
                            "00…0N image folders and run VASP (VTST) on the cluster")
    return calc, name, preset_label


@dataclass
class _Ends:
    """The two relaxed endpoints of a hop."""

    initial: Relaxation
    final: Relaxation
    moving: int  # the hopping atom's index in the endpoint cells
    from_symmetry: bool  # the final state was the relaxed initial one mapped by a symmetry
    calls: int  # force calls spent on the endpoints for this hop (0: relaxed elsewhere, shared)


def _relax_endpoints(atoms: Atoms, hop: Hop, initial: Atoms, final: Atoms, moving: int, calc, *,
                     use_symmetry: bool, fmax: float, steps: int, run_dir: Path | None,
                     callback: Callable[[dict], None] | None) -> _Ends:
    """Stage 1: both endpoints relaxed at fixed cell. A hop whose two sites a space-group
    operation swaps has equivalent endpoints: the relaxed final state is the relaxed initial
    one mapped by it (checked by relax: one force call). Refuses endpoints that relaxed into
    each other."""
    from calculators.relax import relax

    swap = reversing_operation(atoms, hop) if use_symmetry else None
    mapped = None
    done: dict[str, Relaxation] = {}
    for tag, state in (("initial", initial), ("final", final)):
        if tag == "final" and swap is not None:
            mapped = map_state(done["initial"].atoms, swap, final)
            state = mapped if mapped is not None else state
        done[tag] = relax(state, calc, fmax=fmax, steps=steps, relax_cell=False,
                          trajectory=run_dir / f"{tag}.traj" if run_dir else None, optimizer="BFGS",
                          callback=(lambda info, tag=tag: callback({**info, "stage": tag}))
                          if callback else None)
    _check_apart(done["initial"].atoms, done["final"].atoms, moving, hop)
    calls = sum(end.steps + 1 for end in done.values())
    return _Ends(done["initial"], done["final"], moving, mapped is not None, calls=calls)


def _check_apart(a: Atoms, b: Atoms, moving: int, hop: Hop) -> None:
    """Refuse endpoints that relaxed into each other (the moving atom less than half a hop apart)."""
    from ase.geometry import find_mic

    moved, _ = find_mic(b.positions[moving] - a.positions[moving], a.cell, a.pbc)
    if np.linalg.norm(moved) < 0.5 * hop.length:
        raise NEBInputError(f"the endpoints relaxed into each other (the moving atom ends "
                            f"{np.linalg.norm(moved):.2f} Å apart for a {hop.length:.2f} Å hop): "
                            "no barrier to compute for this hop")


ENDPOINT_MAXIMUM_NOTE = (
    "the band's maximum is at an endpoint: the hop is downhill or barrierless in this direction; "
    "the 'barrier' is the reaction energy, and long-range transport is limited by other hops "
    "(run --network)")


def _summarise(atoms: Atoms, hop: Hop, ends: _Ends, band: Band, **run) -> NebHop:
    """Stage 4: barriers and the facts of the run (`run`: calculator, settings, steps, time)."""
    energies = np.array(band.neb.energies, dtype=float)
    energies[0], energies[-1] = ends.initial.energy_eV, ends.final.energy_eV
    k_max = int(np.argmax(energies))
    interior = 0 < k_max < len(band.images) - 1
    a, b = ends.initial.atoms, ends.final.atoms
    return NebHop(
        hop={**hop.as_dict(), "environment": hop.environment or local_environment(atoms, hop)},
        forward_barrier_eV=float(energies.max() - energies[0]),
        reverse_barrier_eV=float(energies.max() - energies[-1]),
        reaction_energy_eV=float(energies[-1] - energies[0]),
        saddle="interior" if interior else "endpoint",
        maximum_image=k_max,
        image_energies_eV=(energies - energies[0]).tolist(),
        reaction_coordinate_A=_reaction_coordinate(band.images),
        max_force_eV_per_A=band.max_force(),
        resumed=band.resumed is not None,
        force_calls=band.calls[0] + ends.calls,
        band_force_calls=band.calls[0],
        endpoint_energies_eV=[float(energies[0]), float(energies[-1])],
        endpoint_relax_steps=[ends.initial.steps, ends.final.steps],
        final_from_symmetry=ends.from_symmetry,
        moving_index=ends.moving,
        endpoint_max_displacement_A=_displacements(a, b, ends.moving),
        n_atoms=len(a),
        notes=[] if interior else [ENDPOINT_MAXIMUM_NOTE],
        images=band.images,
        **run,
    )


def nvpf_comparison(barrier_eV: float, material: str = "pristine") -> str:
    """One line that puts an NVPF barrier beside the review's value and the DFT literature."""
    lo, hi = NVPF_LITERATURE_EV
    review = NVPF_REVIEW_EV.get(material, NVPF_REVIEW_EV["pristine"])
    where = "within" if lo <= barrier_eV <= hi else ("below" if barrier_eV < lo else "above")
    return (f"computed {barrier_eV:.3f} eV; the review reports {review:.3f} eV ({material} NVPF, "
            f"{review / max(barrier_eV, 1e-3):.0f}× this), first-principles literature "
            f"{lo}-{hi} eV for Na diffusion in NVPF (computed value {where} that range)")


def neb_supercell(atoms: Atoms, hop_length: float, max_cells: int = 64) -> Atoms:
    """`atoms` itself, or the smallest supercell (labels kept) whose shortest lattice vector
    is at least 2 × `hop_length` + 0.5 Å."""
    from ase.build import make_supercell

    from structures.sqs import supercell_shape

    need = required_image_distance(hop_length)
    if shortest_image_distance(atoms.cell) >= need - 1e-6:
        return atoms
    for n in range(2, max_cells + 1):
        P, _ = supercell_shape(atoms, n)
        cell = np.array(P) @ atoms.cell[:]
        if shortest_image_distance(cell) >= need - 1e-6:
            big = make_supercell(atoms, np.array(P))
            big.info.update(atoms.info)
            big.info["supercell_of_input"] = np.array(P).tolist()
            return big
    raise NEBInputError(f"no supercell of up to {max_cells} cells is long enough for a "
                        f"{hop_length:.2f} Å hop")


def longest_hop_A(atoms: Atoms, species: str, cutoff: float) -> float:
    """Length (Å) of the longest `species` hop up to `cutoff` Å (pair distances, no symmetry
    search); NEBInputError when there is none."""
    from ase.neighborlist import neighbor_list

    i, j, d = neighbor_list("ijd", atoms, cutoff)
    symbols = np.array(atoms.get_chemical_symbols())
    lengths = d[(symbols[i] == species) & (symbols[j] == species)]
    if not len(lengths):
        raise NEBInputError(f"no {species} hop up to {cutoff:g} Å in the {len(atoms)}-atom cell")
    return float(lengths.max())


def network_supercell(atoms: Atoms, species: str = "Na", cutoff: float = 5.0) -> Atoms:
    """`atoms`, or the smallest supercell in which its longest `species` hop up to `cutoff` Å
    stays clear of its periodic images (`neb_supercell`)."""
    return neb_supercell(atoms, longest_hop_A(atoms, species, cutoff))
