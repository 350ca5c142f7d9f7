"""Climbing-image NEB for a Na vacancy hop between labelled sites, resumable.

`run_neb(atoms, hop, "chgnet", directory="run")`:
1. endpoints: the hop's end site is emptied (initial state); the moving atom is put on
   it (final state); both are rattled by `rattle` Å (relaxations started from perfectly
   symmetric positions stall on saddle points) and relaxed at fixed cell with the same
   calculator (`calculators.relax.relax`, trajectories `initial.traj`, `final.traj`); when
   a space-group operation swaps the two sites, the final state is the relaxed initial one
   mapped by it (`structures.hops.reversing_operation`), which its relax confirms in one call;
2. images by IDPP between the relaxed endpoints; ASE's DyNEB (converged images are not
   recomputed) with a climbing image and `method="improvedtangent"`, optimizer FIRE (or
   BFGS, or ODE on the whole band), spring `spring` eV/Å²;
3. every step appends the whole band to `band-<N>images.traj`; a rerun with the same N resumes
   from its last complete band (another N starts a new band from IDPP).

The result (returned and written atomically to `neb.json`): forward and reverse barrier,
reaction energy, hop length, image energies and reaction coordinate, max force, the
converged flag, where the maximum is (interior saddle or an endpoint), force calls, wall
time and the metals around the path. Energies eV, forces eV/Å, lengths Å, time s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from structures.errors import HecathodeInputError
from structures.hops import (
    Hop,
    local_environment,
    map_state,
    required_image_distance,
    reversing_operation,
    shortest_image_distance,
)
from structures.io import SITE_LABEL, atomic_write, ensure_site_labels, write_json

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


def _band_from_traj(path: Path, n_total: int) -> list[Atoms] | None:
    from ase.io import read

    if not path.is_file():
        return None
    try:
        frames = read(str(path), index=":")
    except Exception:  # a band cut short by a kill: rewrite below from the complete ones
        return None
    n_bands = len(frames) // n_total
    if n_bands == 0:
        return None
    return frames[(n_bands - 1) * n_total: n_bands * n_total]


def _finished(path: Path, hop: Hop, n_images: int, fmax: float) -> dict | None:
    """A converged result already on disk for the same hop and settings (a rerun skips it)."""
    import json

    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    same = (doc.get("converged") and doc.get("n_images") == n_images and doc.get("fmax_eV_per_A") == fmax
            and doc["hop"]["start_index"] == hop.start and doc["hop"]["end_index"] == hop.end)
    if not same:
        return None
    from ase.io import read

    band = path.parent / band_name(n_images)
    frames = read(str(band), index=":") if band.is_file() else []
    doc["images"] = frames[-(n_images + 2):] if len(frames) >= n_images + 2 else []
    if "endpoint_max_displacement_A" not in doc and doc["images"]:
        moving = hop.start - (1 if hop.end < hop.start else 0)
        doc["endpoint_max_displacement_A"] = _displacements(doc["images"][0], doc["images"][-1], moving)
    return doc


RECONSTRUCTION_A = 1.0  # an endpoint atom (other than the hopping one) that moved farther has
#                         relaxed into another site: the endpoint is not the state the hop assumed


def _displacements(initial: Atoms, final: Atoms, moving: int | None) -> float:
    """Largest displacement (Å, mic) between the two relaxed endpoints, the hopping atom excluded."""
    from ase.geometry import find_mic

    d, _ = find_mic(final.positions - initial.positions, initial.cell, initial.pbc)
    norms = np.linalg.norm(d, axis=1)
    if moving is not None:
        norms[moving] = 0.0
    return float(norms.max())


def band_name(n_images: int) -> str:
    """File of the band trajectory: all images, step after step."""
    return f"band-{n_images}images.traj"


def _bare(atoms: Atoms) -> Atoms:
    """Positions and cell only (a shared calculator must not be asked for this image again)."""
    out = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    return out


class ImageCalculator(Calculator):
    """One NEB image's view of a calculator shared by all images: it keeps the image's last
    energy and forces, so an image that did not move (DyNEB freezes converged ones) is not
    recomputed, and adds 1 to `counter[0]` per evaluation. Energy eV, forces eV/Å."""

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, shared, counter: list[int]):
        super().__init__()
        self.shared, self.counter = shared, counter

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        work = self.atoms.copy()
        work.calc = self.shared
        energy = work.get_potential_energy()
        self.results = {"energy": energy, "free_energy": energy, "forces": work.get_forces()}
        self.counter[0] += 1


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
            preset: str | None = None, callback: Callable[[dict], None] | None = None, **overrides) -> dict:
    """Relax the endpoints of `hop`, then run a climbing-image NEB (see module docstring).

    calculator: a name (chgnet, sevenn, gpaw) built with `preset` and `overrides`, or an ASE
    calculator (shared by all images). Returns the result dict (plus "images": the band).
    """
    from ase.io.trajectory import Trajectory
    from ase.mep import DyNEB
    from ase.mep.neb import NEBOptimizer
    from ase.optimize import BFGS, FIRE

    from calculators import get_calculator
    from calculators.relax import relax

    t0 = time.perf_counter()
    opt_name = check_settings(n_images, fmax, spring, optimizer)
    check_cell(atoms, hop)
    endpoint_fmax = endpoint_fmax or fmax
    run_dir = Path(directory) if directory is not None else None
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        done = _finished(run_dir / "neb.json", hop, n_images, fmax)
        if done is not None:
            return done

    initial, final, moving = endpoints(atoms, hop)
    rng = np.random.default_rng(seed)
    shake = rng.normal(0.0, rattle, initial.positions.shape) if rattle > 0 else 0.0
    initial.positions += shake
    final.positions += shake

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

    # a hop whose two sites a space-group operation swaps has equivalent endpoints: the relaxed
    # final state is the relaxed initial one mapped by it (checked by relax: one force call)
    swap = reversing_operation(atoms, hop) if use_symmetry else None
    mapped = None
    ends = {}
    for tag, state in (("initial", initial), ("final", final)):
        if tag == "final" and swap is not None:
            mapped = map_state(ends["initial"]["atoms"], swap, final)
            state = mapped if mapped is not None else state
        ends[tag] = relax(state, calc, fmax=endpoint_fmax, steps=steps, relax_cell=False,
                          trajectory=run_dir / f"{tag}.traj" if run_dir else None, optimizer="BFGS",
                          callback=(lambda info, tag=tag: callback({**info, "stage": tag}))
                          if callback else None)
    a, b = ends["initial"]["atoms"], ends["final"]["atoms"]
    from ase.geometry import find_mic

    moved, _ = find_mic(b.positions[moving] - a.positions[moving], a.cell, a.pbc)
    if np.linalg.norm(moved) < 0.5 * hop.length:
        raise NEBInputError(f"the endpoints relaxed into each other (the moving atom ends "
                            f"{np.linalg.norm(moved):.2f} Å apart for a {hop.length:.2f} Å hop): "
                            "no barrier to compute for this hop")

    n_total = n_images + 2
    band_path = run_dir / band_name(n_images) if run_dir else None
    resumed = _band_from_traj(band_path, n_total) if band_path else None
    images = [a.copy() for _ in range(n_total - 1)] + [b.copy()]
    magmoms = initial.get_initial_magnetic_moments()
    band_calls = [0]
    for img in images:
        img.set_initial_magnetic_moments(magmoms)
        img.calc = ImageCalculator(calc, band_calls)
    from ase.calculators.singlepoint import SinglePointCalculator

    for img, tag in ((images[0], "initial"), (images[-1], "final")):  # endpoints are not recomputed
        img.calc = SinglePointCalculator(img, energy=ends[tag]["energy_eV"], forces=np.zeros((len(img), 3)))
    # DyNEB (Lindgren et al., JCTC 15, 5787 (2019)) does not recompute images already below
    # fmax; the ODE solver moves all images together and gets the plain NEB
    neb = DyNEB(images, k=spring, fmax=fmax, climb=climb, method="improvedtangent",
                dynamic_relaxation=dynamic and opt_name != "ODE", allow_shared_calculator=True)
    if resumed is not None:
        for img, old in zip(images, resumed, strict=True):
            img.positions = old.positions
    else:
        neb.interpolate(method="idpp", mic=True)
    last_forces: dict[str, np.ndarray] = {}
    neb_forces = neb.get_forces

    def recorded_forces(*args, **kwargs):  # what the optimizer sees, climbing image included
        forces = neb_forces(*args, **kwargs)
        last_forces["f"] = forces
        return forces

    neb.get_forces = recorded_forces

    def max_force() -> float:
        f = last_forces.get("f")
        return float(np.sqrt((f ** 2).sum(axis=1)).max()) if f is not None else float("nan")

    if opt_name == "ODE":
        neb.get_residual = max_force  # ASE's residual leaves out the climbing image
        opt = NEBOptimizer(neb, method="ode", logfile=None)
    else:
        opt = (FIRE if opt_name == "FIRE" else BFGS)(neb, logfile=None)

    done = {"steps": 0}
    traj = None
    if band_path is not None:
        if resumed is not None:  # keep only the last complete band, then append
            from ase.io import write

            atomic_write(band_path, lambda tmp: write(tmp, [_bare(x) for x in resumed], format="traj"))
        traj = Trajectory(str(band_path), "a" if resumed is not None else "w")

    def after_step() -> None:
        if traj is not None:
            for img in images:
                traj.write(_bare(img))
        if callback is not None:
            callback({"stage": "neb", "step": done["steps"], "fmax_eV_per_A": max_force(),
                      "energy_eV": float(np.max(neb.energies))})
        done["steps"] += 1

    try:
        if opt_name == "ODE":  # NEBOptimizer drives its own ODE solver: observe its steps
            opt.attach(after_step)
            converged = bool(opt.run(fmax=fmax, steps=steps)) and max_force() <= fmax
        else:
            converged = False
            for is_converged in opt.irun(fmax=fmax, steps=steps):
                converged = is_converged
                after_step()
    finally:
        if traj is not None:
            traj.close()
    steps_done = done["steps"]

    energies = np.array(neb.energies, dtype=float)
    energies[0], energies[-1] = ends["initial"]["energy_eV"], ends["final"]["energy_eV"]
    rel = energies - energies[0]
    k_max = int(np.argmax(energies))
    interior = 0 < k_max < n_total - 1
    doc = {
        "hop": {**hop.as_dict(), "environment": hop.environment or local_environment(atoms, hop)},
        "calculator": name,
        "preset": preset_label,
        "forward_barrier_eV": float(energies.max() - energies[0]),
        "reverse_barrier_eV": float(energies.max() - energies[-1]),
        "reaction_energy_eV": float(energies[-1] - energies[0]),
        "saddle": "interior" if interior else "endpoint",
        "maximum_image": k_max,
        "image_energies_eV": rel.tolist(),
        "reaction_coordinate_A": _reaction_coordinate(images),
        "max_force_eV_per_A": max_force(),
        "fmax_eV_per_A": fmax,
        "converged": bool(converged),
        "n_images": n_images,
        "spring_eV_per_A2": spring,
        "optimizer": opt_name,
        "climbing_image": climb,
        "neb_steps": steps_done,
        "resumed": resumed is not None,
        "force_calls": band_calls[0] + sum(e.get("steps", 0) + 1 for e in ends.values()),
        "band_force_calls": band_calls[0],
        "endpoint_energies_eV": [float(energies[0]), float(energies[-1])],
        "endpoint_relax_steps": [ends["initial"].get("steps"), ends["final"].get("steps")],
        "final_from_symmetry": mapped is not None,
        "moving_index": moving,
        "endpoint_max_displacement_A": _displacements(a, b, moving),
        "n_atoms": len(initial),
        "wall_time_s": time.perf_counter() - t0,
        "notes": [] if interior else [
            "the band's maximum is at an endpoint: the hop is downhill or barrierless in this "
            "direction; the 'barrier' is the reaction energy, and long-range transport is limited "
            "by other hops (run --network)"],
    }
    if run_dir is not None:
        write_json(run_dir / "neb.json", doc)
    doc["images"] = images
    return doc


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


def run_network(atoms: Atoms, calculator, *, species: str = "Na", cutoff: float = 5.0,
                directory: str | Path | None = None, progress: Callable[[str], None] | None = None,
                **neb_kwargs) -> dict:
    """NEB for every symmetry-distinct `species` vacancy hop up to `cutoff` Å, and the
    percolation barrier along a, b, c (structures.hops.percolation_barriers).

    Each hop's weight is its saddle energy minus the lowest endpoint energy found in the
    network (eV): the barrier a vacancy in its most stable site must overcome to make that
    hop. Endpoints in which another atom moved more than RECONSTRUCTION_A between the two
    relaxed states (a neighbour that slid into another site) are flagged `reconstructed`
    and neither set that reference nor enter the percolation analysis. Hops whose endpoints
    relax into each other are recorded and left out.
    """
    from structures.hops import crystal_axes, distinct_hops, percolation_barriers

    classes = distinct_hops(atoms, species, cutoff)
    check_cell(atoms, max((c["hop"] for c in classes), key=lambda h: h.length))
    run_dir = Path(directory) if directory is not None else None
    hops = []
    for k, cls in enumerate(classes):
        hop = cls["hop"]
        if progress:
            progress(f"hop {k + 1}/{len(classes)}: {hop.name}, {hop.length:.2f} Å")
        entry = {"class": k, "multiplicity": cls["multiplicity"], **hop.as_dict()}
        try:
            doc = run_neb(atoms, hop, calculator,
                          directory=run_dir / f"hop-{k:02d}" if run_dir else None, **neb_kwargs)
        except NEBInputError as exc:
            entry["skipped"] = str(exc)
            hops.append(entry)
            continue
        doc.pop("images", None)
        entry.update({key: doc[key] for key in ("forward_barrier_eV", "reverse_barrier_eV",
                                                "reaction_energy_eV", "saddle", "converged",
                                                "endpoint_energies_eV", "force_calls",
                                                "endpoint_max_displacement_A")})
        entry["saddle_energy_eV"] = doc["endpoint_energies_eV"][0] + doc["forward_barrier_eV"]
        hops.append(entry)
    done = [h for h in hops if "saddle_energy_eV" in h]
    if not done:
        raise NEBInputError("no hop of the network gave a barrier")
    for h in done:
        h["reconstructed"] = h.get("endpoint_max_displacement_A", 0.0) > RECONSTRUCTION_A
    clean = [h for h in done if not h["reconstructed"]] or done
    e_ref = min(min(h["endpoint_energies_eV"]) for h in clean)
    edges = []
    for h in done:
        h["effective_barrier_eV"] = h["saddle_energy_eV"] - e_ref
        if not h["reconstructed"]:  # a reconstructed endpoint means another process, not this hop
            edges += [(m, h["effective_barrier_eV"]) for m in classes[h["class"]]["members"]]
    axes = crystal_axes(atoms)
    result = {
        "species": species,
        "cutoff_A": cutoff,
        "n_atoms": len(atoms),
        "reference_energy_eV": e_ref,
        "hops": hops,
        "percolation_barrier_eV": percolation_barriers(atoms, edges, axes),
        "axes_A": np.round(axes, 4).tolist(),
        "converged": all(h.get("converged", True) for h in hops),
    }
    if run_dir is not None:
        write_json(run_dir / "network.json", result)
    return result


def write_vasp_neb(initial: Atoms, final: Atoms, n_images: int, directory: str | Path,
                   preset: str | None = None, spring: float = -5.0) -> list[Path]:
    """A ready VASP NEB folder: 00 … 0N POSCARs (IDPP images between the given endpoints, in
    VASP's species order), INCAR with IMAGES/SPRING/climbing tags, KPOINTS, POTCAR.spec.

    LCLIMB and IOPT need the VTST extensions of VASP; without them set IBRION = 1 and remove
    IOPT (plain NEB, no climbing image).
    """
    from ase.io.vasp import write_vasp
    from ase.mep import NEB

    from calculators import get_calculator
    from calculators.vasp_calc import write_vasp_inputs

    directory = Path(directory)
    images = [initial.copy() for _ in range(n_images + 1)] + [final.copy()]
    NEB(images).interpolate(method="idpp", mic=True)
    calc = get_calculator("vasp", preset, atoms=images[0], directory=directory)
    written = write_vasp_inputs(calc, images[0], directory)
    (directory / "POSCAR").unlink()
    written = [p for p in written if p.name != "POSCAR"]
    order = calc.sort
    for k, img in enumerate(images):
        sub = directory / f"{k:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        write_vasp(sub / "POSCAR", img[order], symbol_count=calc.symbol_count)
        written.append(sub / "POSCAR")
    incar = directory / "INCAR"
    lines = [ln for ln in incar.read_text().splitlines()
             if ln.split("=")[0].strip().upper() not in {"IBRION", "ISIF", "NSW", "POTIM", "EDIFFG"}]
    lines += [f"IMAGES = {n_images}", f"SPRING = {spring:g}", "LCLIMB = .TRUE.", "ICHAIN = 0",
              "IBRION = 3", "POTIM = 0", "IOPT = 3", "ISIF = 2", "NSW = 300", "EDIFFG = -0.05"]
    incar.write_text("\n".join(lines) + "\n")
    return written
