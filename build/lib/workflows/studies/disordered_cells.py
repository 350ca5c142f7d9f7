"""The cells a relaxation, an NEB or a campaign runs on when it is given a disordered structure file.

    cells = cells_from_disordered("my.cif", "run/disordered", calculator="chgnet")
    if cells is not None:                 # None: the file is ordered, use it as it is
        atoms, note = cells.atoms[0], cells.note

Only the alkali sites disordered (NVPF P4_2/mnm, NASICON R-3c): the lowest-energy alkali
orderings (`workflows.studies.orderings`: Ewald pre-rank, fixed-cell MLIP relax of the best 5,
`n_structures` kept). A mixed site (TM): an SQS set (`workflows.studies.sqs_set`, alkali sites
ordered first when they are partially occupied). The work is written to `out_dir` and read back
when it is already there (orderings.json / sqs.json are written last), so a rerun of the relax or
NEB finds the same cell.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ase import Atoms

from structures.io import read_structure
from structures.sqs import DEFAULT_MAX_ATOMS
from workflows.studies.disordered import is_disordered_file, mixed_orbits, partial_alkali, read_source
from workflows.studies.orderings import MLIPS, OrderingOptions, order_alkali

RANKING_MLIP = "chgnet"  # ranks the orderings when the run itself uses DFT


@dataclass
class DisorderedCells:
    """The cells built from a disordered file (`files`: their extxyz), what was built ('ordering' or
    'sqs'), the study's JSON document (orderings.json or sqs.json) and a note saying so."""

    atoms: list[Atoms]
    files: list[Path]
    kind: str
    note: str
    doc: dict = field(default_factory=dict)


def cells_from_disordered(path: str | Path, out_dir: str | Path, *, formula: str | None = None,
                          prototype: str | None = None, calculator: str = RANKING_MLIP,
                          preset: str | None = None, n_structures: int = 1, sqs_options: dict | None = None,
                          notify: Callable[[str], None] | None = None) -> DisorderedCells | None:
    """The lowest alkali ordering(s) or SQS of a disordered structure file, built in `out_dir` (or
    read back from it); None for a file without partial occupancy (or not a CIF / pymatgen JSON).

    formula: another composition on the file's framework; calculator: the MLIP that ranks alkali
    orderings (a DFT calculator falls back to CHGNet); sqs_options: `build_sqs_set` keywords."""
    path, out = Path(path), Path(out_dir)
    if formula is None and not is_disordered_file(path):
        return None
    ds = read_source(path, formula, prototype)
    element, sites = partial_alkali(ds)
    mlip = calculator if calculator in MLIPS else RANKING_MLIP
    ranking = OrderingOptions(calculator=mlip, preset=preset if mlip == calculator else None,
                              n_relax=max(OrderingOptions.n_relax, n_structures), n_keep=n_structures)
    if not mixed_orbits(ds, exclude=sites):
        return _orderings(ds, out, element, sites, ranking, notify)
    sqs_options = {"n_structures": n_structures, **(sqs_options or {})}
    ranking.n_keep = 1
    ranking.max_atoms = sqs_options.get("max_atoms", DEFAULT_MAX_ATOMS)
    ranking.tolerance = sqs_options.get("tolerance", 0.01)
    return _sqs(ds, out, sites, ranking, sqs_options, notify)


def _orderings(ds, out: Path, element: str, sites: tuple[str, ...], options: OrderingOptions,
               notify: Callable[[str], None] | None) -> DisorderedCells:
    done = out / "orderings.json"
    if done.is_file():
        doc = json.loads(done.read_text())
    else:
        doc = order_alkali(ds, out, options, progress=notify).to_json()
    files = [out / f"ordering-{j:03d}.extxyz" for j in range(len(doc["kept"]))]
    best = doc["candidates"][doc["kept"][0]]
    ranked = (f", {doc['calculator']} rank {best['mlip_rank']} of the {doc['n_relax']} lowest-Ewald relaxed"
              if best["mlip_rank"] is not None else "")
    note = (f"{ds.source} is disordered ({element} over {', '.join(sites)}): ran on its lowest-energy "
            f"{element} ordering {files[0]} (Ewald rank {best['ewald_rank']} of {doc['n_found']}{ranked}; "
            f"{done})")
    return DisorderedCells([read_structure(f) for f in files], files, "ordering", note, doc)


def _sqs(ds, out: Path, sites: tuple[str, ...], ranking: OrderingOptions, options: dict,
         notify: Callable[[str], None] | None) -> DisorderedCells:
    from workflows.studies.sqs_set import build_sqs_set

    done = out / "sqs.json"
    if done.is_file():
        doc = json.loads(done.read_text())
    else:
        doc = build_sqs_set(ds, None, out, orderings=ranking, notify=notify, **options)
    files = [out / s["extxyz"] for s in doc["structures"]]
    mixed = ", ".join(mixed_orbits(ds, exclude=sites))
    first = f"; {', '.join(sites)} ordered first, orderings.json" if doc["parent"].get("ordering") else ""
    note = (f"{ds.source} is disordered ({mixed} mixed{first}): ran on SQS {files[0]} "
            f"({doc['supercell']['n_atoms']} atoms, ΔS {doc['entropy_achieved_R']:.3f} R; {done})")
    return DisorderedCells([read_structure(f) for f in files], files, "sqs", note, doc)


def structures_document(material: dict, out_dir: str | Path,
                        notify: Callable[[str], None] | None = None) -> dict:
    """The structures.json document of a campaign material given as `structure: my.cif` (with an
    optional `formula` override and `sqs` settings): its ordering(s) or SQS built in `out_dir`, or
    the file itself when it is ordered. Keys as for a formula material, plus `kind` and `structure`."""
    from structures.entropy import classify, configurational_entropy
    from structures.prototypes import load_structure
    from workflows.studies.disordered import file_composition
    from workflows.studies.sqs_set import write_structure_files

    out = Path(out_dir)
    comp = file_composition(material["structure"], material.get("formula_override"))
    s_target = configurational_entropy(comp).total_R
    doc = {"material": material["name"], "formula": comp.formula, "prototype": material["prototype"],
           "structure": str(material["structure"]), "entropy_target_R": s_target,
           "entropy_target_class": classify(s_target)}
    sqs = dict(material.get("sqs") or {})
    cells = cells_from_disordered(material["structure"], out, formula=material.get("formula_override"),
                                  n_structures=int(sqs.pop("n_structures", 1)), sqs_options=sqs,
                                  notify=notify)
    if cells is None:
        atoms = load_structure(material["structure"])
        write_structure_files(atoms, out / "cell")
        cells = DisorderedCells([atoms], [out / "cell.extxyz"], "cell", f"{material['structure']} is ordered")
    s_achieved = cells.doc.get("entropy_achieved_R", s_target)
    entries = cells.doc.get("structures") or [{} for _ in cells.files]
    doc.update(kind=cells.kind, entropy_achieved_R=s_achieved, entropy_achieved_class=classify(s_achieved),
               notes=[cells.note, *cells.doc.get("notes", [])],
               structures=[{"name": f.stem, "file": str(f), "n_atoms": len(a),
                            **({"quality": e} if e else {})}
                           for f, a, e in zip(cells.files, cells.atoms, entries, strict=True)])
    return doc
