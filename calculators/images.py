"""Energies and forces of a list of images: the one place band and screening evaluate them.

`evaluate_images(images, calc, counter)` returns the energy (eV) and forces (eV/Å) of each
image, one calculator call per image, in order, and adds the number of calls to `counter[0]`.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms


def evaluate_images(images: list[Atoms], calc, counter: list[int] | None = None
                    ) -> tuple[list[float], list[np.ndarray]]:
    """(energies eV, forces eV/Å, shape (n_atoms, 3)) of `images` with the calculator `calc`.

    The images are evaluated one after another on copies (the images keep their own
    calculators); each evaluation adds 1 to `counter[0]`. This is the seam for a batched
    path: on a GPU, a batched forward pass over all images (e.g. CHGNet's or SevenNet's
    batch predict) goes here and returns the same two lists. On CPU it is not used: measured
    here, one batched pass is slower than sequential calls (CHGNet 0.5-0.7×, SevenNet
    0.93-1.0× at 71-143 atoms), so the images are computed one at a time.
    """
    energies: list[float] = []
    forces: list[np.ndarray] = []
    for image in images:
        work = image.copy()
        work.calc = calc
        energies.append(float(work.get_potential_energy()))
        forces.append(np.array(work.get_forces()))
        if counter is not None:
            counter[0] += 1
    return energies, forces
