"""Build a set of SQS for a composition and write them: CIF, extxyz, sqs.json, sqs.png.

`build_sqs_set` is what `hecathode sqs` and the FireWorks SQS task call. Every file is
written atomically; `sqs.json` is written last, so its presence means the set is
complete.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from ase import Atoms

from structures.composition import SiteComposition, assign_sublattices
from structures.entropy import classify, configurational_entropy
from structures.prototypes import LABEL, from_materials_project, load_structure, parent_cell
from structures.sqs import (
    DEFAULT_MAX_ATOMS,
    DEFAULT_MIN_WIDTH,
    DEFAULT_STEPS,
    achieved_entropy,
    attach_sublattices,
    choose_supercell,
    generate_sqs,
    plan_supercells,
    sqs_quality,
)
from workflows.report import atomic_write


def resolve_parent(comp: SiteComposition, structure: str | Path | None = None,
                   site_map: dict[str, str] | None = None, mp_id: str | None = None) -> Atoms:
    """The parent cell: a user file, a Materials Project entry, or the prototype's own cell."""
    if structure is not None:
        atoms = load_structure(structure, site_map)
    elif mp_id is not None:
        atoms = from_materials_project(mp_id)
    else:
        return parent_cell(comp.prototype.name)
    return attach_sublattices(atoms, comp)


def build_sqs_set(formula: str, prototype: str | None, out_dir: str | Path, *,
                  max_atoms: int = DEFAULT_MAX_ATOMS, n_structures: int = 1, n_steps: int = DEFAULT_STEPS,
                  seed: int = 0, n_runs: int | None = None, min_width: float = DEFAULT_MIN_WIDTH,
                  tolerance: float = 0.01, exact: bool = False, n_cells: int | None = None,
                  cutoffs: list[float] | None = None, structure: str | Path | None = None,
                  site_map: dict[str, str] | None = None, mp_id: str | None = None,
                  composition_options: dict | None = None, n_random: int = 50,
                  progress: Callable[[int, int], None] | None = None, plot: bool = True) -> dict:
    """Generate `n_structures` SQS and write them to `out_dir`; returns the sqs.json document.

    Lengths in Å, entropies in R, compositions as site fractions.
    """
    import icet

    comp = assign_sublattices(formula, prototype, **(composition_options or {}))
    parent = resolve_parent(comp, structure, site_map, mp_id)
    plan = plan_supercells(comp, parent, max_atoms)
    option, choice_notes = choose_supercell(plan, parent, min_width, tolerance, exact, n_cells)
    structures, context = generate_sqs(comp, parent, option, n_structures=n_structures, n_runs=n_runs,
                                       n_steps=n_steps, seed=seed, cutoffs=cutoffs, progress=progress)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    s_target = configurational_entropy(comp).total_R
    s_achieved = achieved_entropy(comp, option)
    entries = []
    for k, atoms in enumerate(structures):
        stem = f"sqs-{k:03d}"
        write_structure_files(atoms, out / stem)
        quality = sqs_quality(context, k, n_random=n_random, seed=seed)
        entries.append({"cif": f"{stem}.cif", "extxyz": f"{stem}.extxyz", "seed": atoms.info["seed"],
                        "n_atoms": len(atoms), "vacancies": atoms.info["vacancies"], **quality})
    doc = {
        "formula": comp.formula,
        "prototype": comp.prototype.name,
        "parent": parent.info.get("provenance", {}),
        "notes": comp.notes + comp.warnings + plan.notes + choice_notes,
        "target_site_fractions": plan.targets,
        "achieved_site_fractions": option.fractions(),
        "achieved_counts": option.counts,
        "max_deviation": option.max_deviation,
        "exact": option.exact,
        "entropy_target_R": s_target,
        "entropy_target_class": classify(s_target),
        "entropy_achieved_R": s_achieved,
        "entropy_achieved_class": classify(s_achieved),
        "exact_supercell": ({"n_cells": plan.exact_n_cells, "n_atoms": plan.exact_n_cells * len(parent)}
                            if plan.exact_n_cells else None),
        "supercell": {"n_cells": option.n_cells, "matrix": option.matrix, "n_atoms": option.n_atoms,
                      "min_width_A": option.min_width_A},
        "cutoffs_A": context["cutoffs"],
        "active_sublattices": context["active"],
        "n_runs": context["n_runs"],
        "n_steps": context["n_steps"],
        "seed": seed,
        "distinct_structures_found": context["distinct_found"],
        "icet_version": icet.__version__,
        "structures": entries,
    }
    if classify(s_achieved) != classify(s_target):
        doc["notes"].append(f"the SQS holds ΔS_config {s_achieved:.3f} R ({classify(s_achieved)}), not the "
                            f"target's {s_target:.3f} R ({classify(s_target)}): energies and barriers "
                            "computed on it describe the SQS composition")
    if len(structures) < n_structures:
        doc["notes"].append(f"only {len(structures)} distinct SQS found in {context['n_runs']} runs "
                            f"(asked for {n_structures}); the supercell may allow few distinct orderings")
    if plot:
        plot_sqs(doc, out / "sqs.png")
    atomic_write(out / "sqs.json", lambda tmp: Path(tmp).write_text(
        json.dumps(doc, indent=2, ensure_ascii=False, default=_jsonable)))
    return doc


def _jsonable(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def write_structure_files(atoms: Atoms, stem: Path) -> None:
    """stem.extxyz (all per-atom arrays, site labels included) and stem.cif.

    CIF labels must be unique, so the CIF's _atom_site_label is `<site_label>_<n>`
    (n counts from 1 per label); `structures.prototypes.load_structure` strips `_<n>`.
    """
    from ase.io import write
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.cif import CifWriter

    plain = atoms.copy()
    plain.info = {k: v for k, v in atoms.info.items() if isinstance(v, int | float | str)}
    if "conventional_cell" in atoms.info:  # the crystal axes percolation is reported along
        plain.info["conventional_cell"] = np.asarray(atoms.info["conventional_cell"], float).reshape(-1)
    atomic_write(stem.with_suffix(".extxyz"), lambda tmp: write(tmp, plain, format="extxyz"))
    struct = AseAtomsAdaptor.get_structure(plain)
    seen: dict[str, int] = {}
    for site, label in zip(struct, atoms.arrays[LABEL], strict=True):
        seen[str(label)] = seen.get(str(label), 0) + 1
        site.label = f"{label}_{seen[str(label)]}"
    struct.remove_site_property("site_label")
    atomic_write(stem.with_suffix(".cif"),
                 lambda tmp: CifWriter(struct, refine_struct=False).write_file(tmp))


def plot_sqs(doc: dict, path: str | Path) -> Path:
    """Two panels: mean |Δ correlation| per orbit, and mean |α| per shell, SQS vs random."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    keep = [i for i, o in enumerate(doc["structures"][0]["orbits"]) if o["order"] >= 2]
    orbits = [doc["structures"][0]["orbits"][i] for i in keep]  # singlets are fixed by composition
    x = np.arange(len(orbits))
    rnd = [o["random_mean_abs_deviation"] for o in orbits]
    err = [o["random_std_abs_deviation"] for o in orbits]
    ax1.bar(x, rnd, yerr=err, color="0.8", label=f"random ({doc['structures'][0]['n_random']} occupations)")
    for k, s in enumerate(doc["structures"]):
        ax1.plot(x, [s["orbits"][i]["sqs_mean_abs_deviation"] for i in keep], "o", ms=5,
                 label=f"sqs-{k:03d} (score {s['icet_score']:.3f})")
    ax1.set_xticks(x, [f"pair {2 * o['radius_A']:.2f}" if o["order"] == 2 else
                       f"{'triplet' if o['order'] == 3 else o['order']} r={o['radius_A']:.2f}"
                       for o in orbits], rotation=60, fontsize=7)
    ax1.set_ylabel("mean |Δ correlation| vs random alloy")
    ax1.set_xlabel("orbit (pair: distance Å; triplet: icet cluster radius Å)")
    ax1.legend(fontsize=7)
    width = 0.8 / (len(doc["structures"]) + 1)
    labels = []
    for sub in doc["active_sublattices"]:
        for shell in (0, 1):
            labels.append((sub, shell))
    xs = np.arange(len(labels))
    rand_vals = [(doc["structures"][0]["random_mean_abs_alpha"][sub] + [np.nan, np.nan])[sh]
                 for sub, sh in labels]
    ax2.bar(xs, rand_vals, width, color="0.8", label="random")
    for k, s in enumerate(doc["structures"]):
        vals = []
        for sub, sh in labels:
            shells = s["warren_cowley"][sub]
            vals.append(shells[sh]["mean_abs_alpha"] if sh < len(shells) else np.nan)
        ax2.bar(xs + (k + 1) * width, vals, width, label=f"sqs-{k:03d}")
    ax2.set_xticks(xs + width * len(doc["structures"]) / 2,
                   [f"{sub} shell {sh + 1}" for sub, sh in labels], fontsize=8)
    ax2.set_ylabel("mean |Warren-Cowley α| (0 = random)")
    ax2.legend(fontsize=7)
    fig.suptitle(f"{doc['formula']} on {doc['prototype']}: {doc['supercell']['n_atoms']} atoms, "
                 f"ΔS target {doc['entropy_target_R']:.3f} R, achieved {doc['entropy_achieved_R']:.3f} R",
                 fontsize=10)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=130, format="png"))
    plt.close(fig)
    return Path(path)
