"""Cheap barrier estimates of a hop between its relaxed endpoints (a network's screening).

- `idpp`: the highest energy along the IDPP path between the relaxed endpoints (single points,
  no optimisation; `n_images` interior images): an upper bound of the minimum-energy path's
  maximum for that path's images, usually above the CI-NEB saddle;
- `short-neb`: a climbing-image NEB with one image and a loose force criterion
  (`SHORT_NEB_FMAX_EV_PER_A`), at most `SHORT_NEB_STEPS` steps.

Each returns the estimated saddle energy (absolute, eV) and the force calls it took; the short
NEB also its climbing image, which a network's CI-NEB starts from (`calculators.band.Band`
`guide`: measured on two SQS hops, 0.71× and 0.94× the band's force calls). The images go
through `calculators.images.evaluate_images` (the band's calculator does too).
"""

from __future__ import annotations

from ase import Atoms

from calculators.band import Band, bare, optimise
from calculators.images import evaluate_images
from calculators.results import Relaxation
from structures.errors import HecathodeInputError

SCREENS = ("idpp", "short-neb", "none")
SHORT_NEB_FMAX_EV_PER_A = 0.2
SHORT_NEB_STEPS = 100
# The CI-NEB barrier of a hop lies in [estimate - margin, estimate + MARGIN_ABOVE_EV]
# (`calculators.network.hops_to_refine`: hops whose whole interval lies on one side of a
# threshold cannot change it). Both estimates mostly lie ABOVE the CI-NEB barrier (an unrelaxed
# or loosely relaxed path passes above the saddle), so the margin below (`--screen-margin`)
# must cover how far above they can lie, else a really low hop may be skipped. Measured
# (CHGNet, estimate - CI-NEB): O3 NaNiO2 hop 0.488 eV: IDPP +0.55, short NEB +0.15; pristine
# NVPF, 7 hops: short NEB +0.03..+0.08, IDPP +0.09..+1.74 (concerted hops); HE-NVPF SQS, 14
# hops: short NEB -0.03..+0.08; all 37 SQS hops refined: -0.031..+0.183, the largest on the
# hop that sets its a-axis barrier (benchmarks/bench_network.py, benchmarks/README.md). Above:
# CI-NEB was at most 0.031 eV above the short NEB and never above IDPP; 0.1 eV is 3x that.
DEFAULT_MARGIN_EV = {"idpp": 0.6, "short-neb": 0.25, "none": 0.0}
MARGIN_ABOVE_EV = {"idpp": 0.1, "short-neb": 0.1, "none": 0.0}


def default_margin(screen: str) -> float:
    """The default `--screen-margin` (eV) of a screening method."""
    return DEFAULT_MARGIN_EV[check_screen(screen)]


def check_screen(screen: str, margin_eV: float | None = None) -> str:
    """The screening method in lower case; refuses unknown ones and a negative margin."""
    name = str(screen).lower()
    if name not in SCREENS:
        raise HecathodeInputError(f"--screen {screen!r}: allowed {', '.join(SCREENS)}")
    if margin_eV is not None and not margin_eV >= 0:
        raise HecathodeInputError(f"--screen-margin must be >= 0 eV, got {margin_eV}")
    return name


def screen_hop(method: str, initial: Relaxation, final: Relaxation, calc, *, n_images: int = 3,
               spring: float = 0.1) -> dict:
    """{"method", "saddle_energy_eV" (absolute), "force_calls", "image"} of one hop's estimate;
    "image": the short NEB's climbing image (Atoms), None for IDPP."""
    image = None
    if method == "idpp":
        saddle, calls = idpp_saddle_eV(initial, final, calc, n_images=n_images)
    elif method == "short-neb":
        saddle, calls, image = short_neb_saddle_eV(initial, final, calc, spring=spring)
    else:
        raise HecathodeInputError(f"no barrier estimate {method!r} (allowed: idpp, short-neb)")
    return {"method": method, "saddle_energy_eV": saddle, "force_calls": calls, "image": image}


def _band(initial: Relaxation, final: Relaxation, calc, n_images: int, climb: bool, spring: float,
          fmax: float) -> Band:
    return Band(initial, final, calc, initial.atoms.get_initial_magnetic_moments(), n_images=n_images,
                spring=spring, fmax=fmax, climb=climb, dynamic=True, path=None)


def idpp_saddle_eV(initial: Relaxation, final: Relaxation, calc, n_images: int = 3) -> tuple[float, int]:
    """(highest energy along the IDPP path, eV; force calls = `n_images`)."""
    band = _band(initial, final, calc, n_images, climb=False, spring=0.1, fmax=0.05)
    counter = [0]
    energies, _ = evaluate_images(band.images[1:-1], calc, counter)
    return max([initial.energy_eV, final.energy_eV, *energies]), counter[0]


def short_neb_saddle_eV(initial: Relaxation, final: Relaxation, calc, spring: float = 0.1,
                        fmax: float = SHORT_NEB_FMAX_EV_PER_A,
                        steps: int = SHORT_NEB_STEPS) -> tuple[float, int, Atoms]:
    """(highest energy of a 1-image climbing NEB stopped at `fmax` eV/Å, eV; force calls; the
    climbing image, positions only)."""
    band = _band(initial, final, calc, 1, climb=True, spring=spring, fmax=fmax)
    optimise(band, "FIRE", fmax, steps, None)
    interior = [float(e) for e in band.neb.energies[1:-1]]
    return max([initial.energy_eV, final.energy_eV, *interior]), band.calls[0], bare(band.images[1])
