"""The one place every hecathode figure is made and saved: one style, one atomic PNG write.

    fig, ax = figure()              # or figure(ncols=2, size=(11, 4.2))
    ...draw...
    save(fig, path)                 # tight layout, 130 dpi PNG, written atomically, freed

Matplotlib runs headless (Agg); nothing here opens a window.
"""

from __future__ import annotations

from pathlib import Path

from structures.io import atomic_write

DPI = 130
SIZE_IN = (6.5, 4.2)
COLOURS = ["tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange", "tab:brown", "tab:pink",
           "tab:olive", "tab:cyan", "tab:gray"]


def figure(ncols: int = 1, size: tuple[float, float] | None = None):
    """A new figure and its axes (one Axes, or an array of `ncols`), headless."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=size or SIZE_IN)


def save(fig, path: str | Path) -> Path:
    """Write `fig` to `path` as PNG atomically (an interrupted write leaves no half file); free it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    written = atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=DPI, format="png"))
    plt.close(fig)
    return Path(written)
