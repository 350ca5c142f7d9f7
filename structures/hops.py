"""Na vacancy hops between labelled sites: geometry, symmetry-distinct hops, local
environments and percolation. No energies are computed here (see calculators.neb).

A hop `A:B` is a vacancy mechanism: the B site is emptied and the atom on the A site
moves into it. Lengths in Å; barriers in eV.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.geometry import minkowski_reduce
from ase.neighborlist import neighbor_list

from structures.constants import NON_METALS
from structures.constants import SITE_LABEL as LABEL
from structures.errors import HecathodeInputError

DEFAULT_CUTOFF = 5.0  # Å, longest hop considered
IMAGE_MARGIN = 0.5  # Å: the vacancy's nearest periodic image must be >= 2 d + margin away
ENVIRONMENT_RADIUS = 4.0  # Å around the hop midpoint


class HopError(HecathodeInputError):
    """A hop that cannot be built: unknown label, no partner within the cutoff, cell too small."""


@dataclass
class Hop:
    """The atom `start` moves into the emptied site `end` along `vector` (Å, image-correct)."""

    start: int
    end: int
    vector: np.ndarray
    start_label: str
    end_label: str
    environment: dict[str, int] = field(default_factory=dict)

    @property
    def length(self) -> float:
        return float(np.linalg.norm(self.vector))

    @property
    def name(self) -> str:
        return f"{self.start_label}({self.start})->{self.end_label}({self.end})"

    def as_dict(self) -> dict:
        return {"start_index": self.start, "end_index": self.end, "start_label": self.start_label,
                "end_label": self.end_label, "length_A": self.length,
                "vector_A": [float(x) for x in self.vector], "environment": self.environment}


def labels_of(atoms: Atoms) -> np.ndarray:
    """Site labels (the chemical symbols when the structure has none)."""
    if LABEL in atoms.arrays:
        return np.asarray(atoms.arrays[LABEL]).astype(str)
    return np.array(atoms.get_chemical_symbols())


def parse_hop(spec: str, atoms: Atoms) -> tuple[str, str]:
    """'Na2:Na1' -> ('Na2', 'Na1'), both checked against the structure's labels."""
    parts = [p.strip() for p in spec.split(":")]
    if len(parts) != 2 or not all(parts):
        raise HopError(f"--hop {spec!r}: expected FROM:TO site labels, e.g. Na2:Na1")
    labels = set(labels_of(atoms))
    for p in parts:
        if p not in labels:
            raise HopError(f"--hop {spec!r}: no site labelled {p!r} (labels: {', '.join(sorted(labels))})")
    return parts[0], parts[1]


def shortest_image_distance(cell) -> float:
    """Length (Å) of the shortest nonzero lattice vector of a periodic cell."""
    reduced, _ = minkowski_reduce(np.asarray(cell, dtype=float))
    return float(np.linalg.norm(reduced, axis=1).min())


def required_image_distance(hop_length: float) -> float:
    """Shortest lattice vector (Å) a cell needs so that the hopping atom is always nearer to
    its vacancy than to the vacancy's periodic images: 2 d + IMAGE_MARGIN."""
    return 2.0 * hop_length + IMAGE_MARGIN


def find_hops(atoms: Atoms, start_label: str, end_label: str, cutoff: float = DEFAULT_CUTOFF) -> list[Hop]:
    """All start->end pairs within `cutoff` Å, shortest first (ties by index)."""
    labels = labels_of(atoms)
    i, j, D = neighbor_list("ijD", atoms, cutoff)
    sel = (labels[i] == start_label) & (labels[j] == end_label)
    hops = [Hop(int(a), int(b), np.array(v), start_label, end_label)
            for a, b, v in zip(i[sel], j[sel], D[sel], strict=True)]
    hops.sort(key=lambda h: (round(h.length, 3), h.start, h.end))
    if not hops:
        raise HopError(f"no {end_label} site within {cutoff:g} Å of a {start_label} site; "
                       "raise --cutoff or check the labels")
    return hops


def local_environment(atoms: Atoms, hop: Hop, radius: float = ENVIRONMENT_RADIUS,
                      exclude: set[str] | None = None) -> dict[str, int]:
    """Metal atoms (other than the hopping species) within `radius` Å of the hop midpoint."""
    symbols = np.array(atoms.get_chemical_symbols())
    skip = NON_METALS | {symbols[hop.start]} | (exclude or set())
    mid = atoms.positions[hop.start] + hop.vector / 2
    probe = atoms.copy()
    probe.append("X")
    probe.positions[-1] = mid
    i, j = neighbor_list("ij", probe, radius)
    near = j[i == len(atoms)]
    return dict(sorted(Counter(str(symbols[k]) for k in near if k < len(atoms)
                               and symbols[k] not in skip).items()))


def diverse_hops(atoms: Atoms, start_label: str, end_label: str, n: int, cutoff: float = DEFAULT_CUTOFF,
                 same_type_tolerance: float = 0.3) -> list[Hop]:
    """`n` hops of the nearest type (length within `same_type_tolerance` Å of the shortest)
    chosen to cover different local metal environments first."""
    hops = find_hops(atoms, start_label, end_label, cutoff)
    shortest = hops[0].length
    candidates = [h for h in hops if h.length <= shortest + same_type_tolerance]
    seen_pairs, unique = set(), []
    for h in candidates:
        key = frozenset((h.start, h.end))
        if key not in seen_pairs:
            seen_pairs.add(key)
            h.environment = local_environment(atoms, h)
            unique.append(h)
    chosen, signatures = [], set()
    for h in unique:
        sig = tuple(h.environment.items())
        if sig not in signatures:
            signatures.add(sig)
            chosen.append(h)
    for h in unique:
        if len(chosen) >= n:
            break
        if h not in chosen:
            chosen.append(h)
    return chosen[:n]


def _species_ids(atoms: Atoms) -> list[int]:
    keys = [f"{s}:{lab}" for s, lab in zip(atoms.get_chemical_symbols(), labels_of(atoms), strict=True)]
    index = {k: n for n, k in enumerate(sorted(set(keys)))}
    return [index[k] + 1 for k in keys]


def _operations(atoms: Atoms, symprec: float) -> tuple[np.ndarray, np.ndarray]:
    """Space-group operations (rotations, translations; fractional) of the cell with sites
    told apart by element and label (spglib); the identity alone when spglib finds none."""
    import spglib

    frac = atoms.get_scaled_positions(wrap=False)
    sym = spglib.get_symmetry((atoms.cell[:], frac, _species_ids(atoms)), symprec=symprec) or {}
    return (sym.get("rotations", np.eye(3, dtype=int)[None]), sym.get("translations", np.zeros((1, 3))))


def _maps_onto(images: tuple[np.ndarray, np.ndarray], ends: tuple[np.ndarray, np.ndarray],
               atol: float = 1e-3) -> bool:
    """Whether some operation maps the hop (its end points under every operation, `images`)
    onto the hop `ends` (fractional), in either direction, up to a lattice translation."""
    rp, rq = ends
    for x, y in (images, images[::-1]):
        d1 = x - rp
        same = (np.all(np.abs(d1 - np.round(d1)) <= atol, axis=1)
                & np.all(np.abs(y - rq - d1) <= atol, axis=1))
        if same.any():
            return True
    return False


def distinct_hops(atoms: Atoms, species: str = "Na", cutoff: float = DEFAULT_CUTOFF,
                  symprec: float = 0.05) -> list[dict]:
    """Symmetry-distinct `species`-`species` vacancy hops up to `cutoff` Å.

    Returns one dict per class: `hop` (a representative Hop), `members` (every Hop of the
    cell in that class, both directions) and `multiplicity`. Symmetry from spglib on the
    cell with sites told apart by element and label.
    """

    symbols = np.array(atoms.get_chemical_symbols())
    frac = atoms.get_scaled_positions(wrap=False)
    rotations, translations = _operations(atoms, symprec)
    labels = labels_of(atoms)
    i, j, D = neighbor_list("ijD", atoms, cutoff)
    sel = (symbols[i] == species) & (symbols[j] == species)
    if not np.any(sel):
        raise HopError(f"no {species}-{species} pair within {cutoff:g} Å")
    inv = np.linalg.inv(atoms.cell[:])
    classes: list[dict] = []
    for a, b, v in sorted(zip(i[sel], j[sel], D[sel], strict=True),
                          key=lambda t: (round(float(np.linalg.norm(t[2])), 3), t[0], t[1])):
        hop = Hop(int(a), int(b), np.array(v), str(labels[a]), str(labels[b]))
        p, q = frac[a], frac[a] + v @ inv
        images = (rotations @ p + translations, rotations @ q + translations)  # every operation
        found = next((cls for cls in classes if abs(cls["hop"].length - hop.length) < 0.05
                      and _maps_onto(images, cls["_frac"])), None)
        if found is None:
            classes.append({"hop": hop, "members": [hop], "_frac": (p, q)})
        else:
            found["members"].append(hop)
    for cls in classes:
        cls.pop("_frac")
        cls["multiplicity"] = len(cls["members"])
    return classes


def crystal_axes(atoms: Atoms) -> np.ndarray:
    """The a, b, c axes (rows, Å) percolation is reported along: the conventional cell of the
    prototype the atoms come from (`atoms.info["conventional_cell"]`, kept through supercells
    and SQS files), else the cell itself."""
    conv = atoms.info.get("conventional_cell")
    if conv is not None:
        return np.asarray(conv, dtype=float).reshape(3, 3)
    return np.array(atoms.cell[:])


def percolation_barriers(atoms: Atoms, edges: list[tuple[Hop, float]],
                         axes: np.ndarray | None = None) -> dict[str, float | None]:
    """Lowest barrier (eV) at which the hops with barrier <= it connect the crystal along
    a, b and c of `axes` (default: `crystal_axes(atoms)`): a closed path in the periodic
    cell whose net translation has a nonzero component along that axis. None: no such
    path with the hops given.
    """
    axes = crystal_axes(atoms) if axes is None else np.asarray(axes)
    to_axes = atoms.cell[:] @ np.linalg.inv(axes)  # cell-fraction -> axes-fraction
    thresholds = sorted({float(w) for _, w in edges})
    frac, inv_cell = atoms.get_scaled_positions(wrap=False), np.linalg.inv(atoms.cell[:])
    # per hop: the lattice translation from the end site's home cell to where the hop lands
    links = [(h.start, h.end, np.round(frac[h.start] + h.vector @ inv_cell - frac[h.end]).astype(int), w)
             for h, w in edges]
    found: dict[int, list[bool]] = {}  # threshold index -> does it percolate along a, b, c

    def percolates(i: int) -> list[bool]:
        if i not in found:
            cycles = _cycles([link[:3] for link in links if link[3] <= thresholds[i] + 1e-12])
            # a real component is a fraction with a small denominator (the supercell's), far
            # above 1e-3; a strained cell leaves at most round-off of the strain below it
            found[i] = [any(abs((c @ to_axes)[k]) > 1e-3 for c in cycles) for k in range(3)]
        return found[i]

    result: dict[str, float | None] = {}
    for k, axis in enumerate("abc"):  # more hops open, more paths: bisect for the lowest
        lo, hi = 0, len(thresholds)
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if percolates(mid)[k] else (mid + 1, hi)
        result[axis] = thresholds[lo] if lo < len(thresholds) else None
    return result


def same_threshold(x: float | None, y: float | None) -> bool:
    """Two percolation barriers of one axis equal (None: no percolating path; inf: unbounded)."""
    return (x is None and y is None) or (x is not None and y is not None and (x == y or abs(x - y) <= 1e-9))


def _cycles(links: list[tuple[int, int, np.ndarray]]) -> list[np.ndarray]:
    """Net lattice translations (in cell fractions) of closed paths through the hop graph
    (links: start site, end site, lattice translation of the landing site)."""
    graph: dict[int, list[tuple[int, np.ndarray]]] = {}
    for start, end, n in links:
        graph.setdefault(start, []).append((end, n))
        graph.setdefault(end, []).append((start, -n))
    offset: dict[int, np.ndarray] = {}
    cycles = []
    for root in graph:
        if root in offset:
            continue
        offset[root] = np.zeros(3, int)
        queue = deque([root])
        while queue:
            u = queue.popleft()
            for w, n in graph[u]:
                target = offset[u] + n
                if w not in offset:
                    offset[w] = target
                    queue.append(w)
                elif np.any(target != offset[w]):
                    cycles.append((target - offset[w]).astype(float))
    return cycles


def reversing_operation(atoms: Atoms, hop: Hop,
                        symprec: float = 0.05) -> tuple[np.ndarray, np.ndarray] | None:
    """A space-group operation (R, t), fractional coordinates of `atoms`' cell, that swaps the
    hop's two sites (start -> end and end -> start, modulo lattice vectors), or None.

    With one, the hop's final state (vacancy on `start`, atom on `end`) is its initial state
    (vacancy on `end`) mapped by the operation: the two endpoints are the same minimum and
    need one relaxation, not two. Sites are told apart by element and label, so Na2 -> Na1
    in NVPF or any hop in an SQS (dopants break the symmetry) has none.
    """
    frac = atoms.get_scaled_positions(wrap=False)
    p, q = frac[hop.start], frac[hop.end]
    for R, t in zip(*_operations(atoms, symprec), strict=True):
        d1, d2 = R @ p + t - q, R @ q + t - p
        if np.allclose(d1, np.round(d1), atol=1e-3) and np.allclose(d2, np.round(d2), atol=1e-3):
            return np.array(R, dtype=float), np.array(t, dtype=float)
    return None


def map_state(relaxed: Atoms, operation: tuple[np.ndarray, np.ndarray], target: Atoms,
              tolerance: float = 0.6, reference: Atoms | None = None) -> Atoms | None:
    """`relaxed` mapped by `operation` onto the atom order of `target` (same cell, same
    composition; each target atom takes the mapped atom of its element nearest to it, which
    must lie within `tolerance` Å and be used once). With `reference` (the state `relaxed`
    was relaxed from, same atom order) the matching is made on the mapped reference, so atoms
    that relaxed far (Na next to a vacancy) still map one to one, and carry their relaxed
    displacement. Positions are placed next to `target`'s (minimum image), so the result
    interpolates cleanly. None when no one-to-one match exists.
    """
    from ase.geometry import find_mic

    R, t = operation

    def mapped(a: Atoms) -> np.ndarray:
        return (a.get_scaled_positions(wrap=False) @ R.T + t) @ a.cell[:]

    moved = mapped(relaxed)
    guide = mapped(reference) if reference is not None else moved
    symbols = np.array(relaxed.get_chemical_symbols())
    target_symbols = np.array(target.get_chemical_symbols())
    out = target.copy()
    taken = np.zeros(len(relaxed), dtype=bool)
    for k in range(len(target)):
        same = np.flatnonzero((symbols == target_symbols[k]) & ~taken)
        if same.size == 0:
            return None
        d, dist = find_mic(guide[same] - target.positions[k], target.cell, target.pbc)
        best = int(np.argmin(dist))
        if dist[best] > tolerance:
            return None
        j = same[best]
        taken[j] = True
        out.positions[k] = target.positions[k] + d[best] + (moved[j] - guide[j])
    return out


def site_orbits(atoms: Atoms, sites: list[int], use_symmetry: bool = True, symprec: float = 0.05
                ) -> dict[int, tuple[int, tuple[np.ndarray, np.ndarray]]]:
    """For each of `sites`: (its representative site, a space-group operation (R, t),
    fractional, that maps the representative onto it). Representatives are the first of each
    orbit among `sites` (mapped by the identity); in a cell without symmetry (an SQS) or with
    `use_symmetry` False every site is its own. A vacancy state relaxed on the representative,
    mapped by the operation (`map_state`), is the vacancy state on the site.
    """
    identity = (np.eye(3), np.zeros(3))
    ops = list(zip(*_operations(atoms, symprec), strict=True)) if use_symmetry else []
    frac = atoms.get_scaled_positions(wrap=False)
    numbers = _species_ids(atoms)
    out: dict[int, tuple[int, tuple[np.ndarray, np.ndarray]]] = {}
    reps: list[int] = []
    for s in sorted(set(sites)):
        out[s] = (s, identity)
        for r in reps:
            hit = next(((np.array(R, float), np.array(t, float)) for R, t in ops
                        if numbers[r] == numbers[s] and _same_site(R @ frac[r] + t, frac[s])), None)
            if hit is not None:
                out[s] = (r, hit)
                break
        if out[s][0] == s:
            reps.append(s)
    return out


def _same_site(p: np.ndarray, q: np.ndarray) -> bool:
    d = p - q
    return bool(np.allclose(d, np.round(d), atol=1e-3))
