"""Figures of a voltage study (`workflows.studies.voltage`): the voltage profile (steps from the
hull of E(Na_x), one line per host and potential, the average voltage marked) and the strain
on desodiation (volume per host atom and conventional lattice parameters vs Na content,
relative to the sodiated end). A `comparison` block (pristine vs high-entropy) is drawn beside
in black."""

from __future__ import annotations

from pathlib import Path

from workflows.report.plotting import COLOURS, figure, save

STYLES = ["-", "--", ":", "-."]


def _series(doc: dict) -> list[tuple[str, str, str, dict]]:
    """(label, colour, linestyle, electrode) for the study's electrodes and the pristine ones."""
    calcs = doc["calculators"]
    hosts = [h["name"] for h in doc["hosts"]]
    out = []
    for e in doc["electrodes"]:
        colour = COLOURS[calcs.index(e["calculator"]) % len(COLOURS)]
        style = STYLES[hosts.index(e["host"]) % len(STYLES)]
        out.append((f"{doc['formula']} {e['host']} ({e['calculator']})", colour, style, e))
    comp = doc.get("comparison")
    if comp:
        for k, e in enumerate(comp["pristine"]["electrodes"]):
            out.append((f"{comp['pristine']['formula']} {e['host']} ({e['calculator']})", "black",
                        STYLES[k % len(STYLES)], e))
    return out


def _steps_xy(steps: list[dict]) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for st in sorted(steps, key=lambda s: s["na_low_per_fu"]):
        xs += [st["na_low_per_fu"], st["na_high_per_fu"]]
        ys += [st["voltage_V"], st["voltage_V"]]
    return xs, ys


def plot_voltage(doc: dict, path: str | Path) -> Path:
    """Voltage (V vs Na+/Na) against Na per formula unit from a voltage.json document."""
    fig, ax = figure()
    for label, colour, style, e in _series(doc):
        xs, ys = _steps_xy(e["voltage_steps"])
        ax.plot(xs, ys, color=colour, ls=style, lw=1.8,
                label=f"{label}: average {e['average_voltage_V']:.2f} V")
        ax.axhline(e["average_voltage_V"], color=colour, ls=style, lw=0.6, alpha=0.5)
    ax.set_xlabel("Na per formula unit (x in Na_x)")
    ax.set_ylabel("voltage (V vs Na+/Na)")
    ax.set_title(f"{doc['formula']} ({doc['prototype']}): voltage from the hull of E(Na_x)", fontsize=9)
    ax.legend(fontsize=6)
    return save(fig, path)


def plot_strain(doc: dict, path: str | Path) -> Path:
    """Volume per host atom and conventional lattice parameters vs Na content, percent change
    from the sodiated end state (lowest state per content)."""
    fig, (ax_v, ax_l) = figure(ncols=2, size=(11, 4.2))
    series = _series(doc)
    for label, colour, style, e in series:
        rows = sorted(e["profile"], key=lambda r: -r["na_per_fu"])
        v0, l0 = rows[0]["volume_per_host_atom_A3"], rows[0]["lattice"]
        na = [r["na_per_fu"] for r in rows]
        ax_v.plot(na, [100 * (r["volume_per_host_atom_A3"] - v0) / v0 for r in rows], "o", color=colour,
                  ls=style, label=f"{label}: ΔV {e['volume_change_percent']:+.2f}%")
        for k, (axis, marker) in enumerate((("a", "s"), ("b", "^"), ("c", "v"))):
            ax_l.plot(na, [100 * (r["lattice"][axis] - l0[axis]) / l0[axis] for r in rows], marker=marker,
                      color=colour, ls=style, lw=1.0, alpha=1.0 - 0.25 * k,
                      label=f"{axis}: {label}" if len(series) < 3 else None)
    for ax, what in ((ax_v, "volume per host atom"), (ax_l, "lattice parameter (conventional cell)")):
        ax.axhline(0.0, color="0.5", lw=0.6)
        ax.set_xlabel("Na per formula unit")
        ax.set_ylabel(f"{what} change (%)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
    ax_v.set_title(f"{doc['formula']}: strain on desodiation", fontsize=9)
    ax_l.set_title("a (■), b (▲), c (▼); lines as in the volume panel", fontsize=9)
    return save(fig, path)


__all__ = ["plot_strain", "plot_voltage"]
