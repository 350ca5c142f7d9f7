"""The review's compositions (configs/datasets/review_cathodes.yaml) and its claims.

`evaluate_entry` computes ΔS_config (R), its class and the theoretical capacity
(mA h g⁻¹) of one printed composition; `review_notes` says plainly where the
review's label "high-entropy" disagrees with its own ΔS >= 1.5 R criterion.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml

from structures.composition import VACANCY, SiteComposition, assign_sublattices
from structures.entropy import EntropyResult, configurational_entropy
from structures.rules import check_composition
from structures.settings import DATASET_DIR

DATASET = DATASET_DIR / "review_cathodes.yaml"
CAPACITY_SLACK = 0.05  # reported capacities carry a few % (active mass, carbon, capacitive)
FAMILY = {1: "layered oxide", 2: "Prussian blue analogue", 3: "polyanion"}


@cache
def load_dataset(path: str | Path = DATASET) -> list[dict]:
    """Entries of the review's Tables 1-3, as printed."""
    return yaml.safe_load(Path(path).read_text())["entries"]


def parse_retention(text: str) -> tuple[float | None, int | None]:
    """'83% (500 cycles 3C)' -> (83.0, 500)."""
    pct = re.search(r"([\d.]+)\s*%", text)
    cyc = re.search(r"\(([\d\s]+)\s*cycles", text)
    return (float(pct.group(1)) if pct else None,
            int(cyc.group(1).replace(" ", "")) if cyc else None)


def evaluate_entry(entry: dict) -> dict:
    """ΔS_config, class and theoretical vs reported capacity of one dataset entry."""
    comp = assign_sublattices(entry["formula"], entry["prototype"],
                              normalize=entry.get("normalize", False))
    s = configurational_entropy(comp)
    rules = check_composition(comp)
    theo = rules["theoretical_capacity_mAh_g"]
    retention, cycles = parse_retention(entry.get("retention", ""))
    mixing = next(o for o in comp.sublattices.values() if o.sublattice.role == "mixing")
    return {
        "table": entry["table"],
        "ref": entry["ref"],
        "family": FAMILY[entry["table"]],
        "formula": entry["formula"],
        "prototype": entry["prototype"],
        "reading": comp.reading,
        "elements_on_mixing_site": len([e for e in mixing.species if e != VACANCY]),
        "entropy_R": s.total_R,
        "entropy_class": s.entropy_class,
        "theoretical_capacity_mAh_g": theo,
        "reported_capacity_mAh_g": entry["initial_mAh_g"],
        "reported_over_theoretical": entry["initial_mAh_g"] / theo if theo else float("inf"),
        "capacity_exception": entry.get("capacity_exception", ""),
        "voltage_V": entry["voltage_V"],
        "retention_percent": retention,
        "retention_cycles": cycles,
        "charge_balanced": rules["charge_balanced"],
        "warnings": comp.warnings,
    }


@cache
def _dataset_compositions() -> list[tuple[dict, dict[str, float]]]:
    out = []
    for e in load_dataset():
        comp = assign_sublattices(e["formula"], e["prototype"], normalize=e.get("normalize", False))
        out.append((e, comp.element_amounts()))
    return out


def find_in_review(comp: SiteComposition) -> list[dict]:
    """Dataset entries with the same element amounts per formula unit (±0.002)."""
    mine = comp.element_amounts()
    hits = []
    for entry, theirs in _dataset_compositions():
        if mine.keys() == theirs.keys() and all(abs(mine[k] - theirs[k]) < 2e-3 for k in mine):
            hits.append(entry)
    return hits


def review_notes(comp: SiteComposition, entropy: EntropyResult) -> list[str]:
    """Plain statements where the review's 'high-entropy' label and ΔS_config disagree."""
    notes = []
    for e in find_in_review(comp):
        where = f"Table {e['table']}, ref. {e['ref']}"
        if entropy.entropy_class != "high":
            notes.append(
                f"The review lists this composition as a high-entropy cathode ({where}); by its "
                f"own criterion (ΔS_config >= 1.5 R) it is {entropy.entropy_class} entropy: "
                f"{entropy.total_R:.3f} R."
            )
        if "reported_entropy_R" in e:
            notes.append(f"The review reports {e['reported_entropy_R']} R ({where}); computed "
                         f"{entropy.total_R:.3f} R.")
    for occ in comp.role("mixing"):
        n = len([el for el in occ.species if el != VACANCY])
        if n >= 5 and entropy.entropy_class != "high":
            notes.append(
                f"{n} elements share site {occ.label}, yet ΔS_config = {entropy.total_R:.3f} R: "
                "'high entropy' by element count (five or more) is not high entropy by ΔS_config."
            )
    return notes
