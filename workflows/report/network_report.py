"""The "Hop networks" section of a campaign report (report.md), its rows of the "Every number"
table and its "missing" lines, from the materials' `network` entries of analysis.json
(`workflows.report.analysis`: per cell the percolation barrier along a, b, c, and per axis the
summary over the cells). Missing keys and None values are reported as missing, never raised.
Barriers eV.
"""

from __future__ import annotations

from workflows.report.campaign_plots import num

DASH = "–"
AXES = "abc"
INTRO = ("Percolation barrier (eV) along each crystal axis: the lowest barrier at which the CI-NEB "
         "vacancy hops connect the crystal along that axis (calculators.network; – no path within the "
         "cutoff). With several cells (SQS): their mean ± spread (max − min).")


def _f(value, digits: int = 3) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    v = num(value)
    return DASH if v is None else f"{v:.{digits}f}"


def _cells(m: dict) -> list[dict]:
    net = m.get("network")
    cells = net.get("structures") if isinstance(net, dict) else None
    return [c for c in cells if isinstance(c, dict)] if isinstance(cells, list) else []


def _barrier(cell: dict, axis: str):
    values = cell.get("percolation_barrier_eV")
    return values.get(axis) if isinstance(values, dict) else None


def _mean_spread(m: dict, axis: str) -> str:
    s = (m["network"].get("percolation_barrier_eV") or {}).get(axis) or {}
    if not s.get("n"):
        return DASH
    return f"{_f(s.get('mean_eV'))} ± {_f(s.get('spread_eV'))} (n = {s['n']})"


def network_section(mats: list[dict]) -> list[str]:
    """The section's Markdown lines; none when no material has a network."""
    rows = [(m, c) for m in mats for c in _cells(m)]
    if not rows:
        return []
    lines = ["## Hop networks", "", INTRO, "",
             "| material | cell | atoms | hops refined / total | a (eV) | b (eV) | c (eV) | converged |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m, c in rows:
        hops = f"{c.get('n_refined', DASH)} / {c.get('n_hops', DASH)}"
        lines.append(_row([m["name"], c.get("structure") or DASH, c.get("n_atoms") or DASH, hops,
                           *(_f(_barrier(c, a)) for a in AXES), _f(c.get("converged"))]))
    for m in mats:
        if len(_cells(m)) > 1:
            spread = [_mean_spread(m, a) for a in AXES]
            lines.append(_row([m["name"], "mean ± spread", DASH, DASH, *spread, DASH]))
    return lines + [""]


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def network_numbers(mats: list[dict], calculator: str) -> list[tuple[str, ...]]:
    """Rows of the "Every number" table: each cell's percolation barrier per axis."""
    rows = []
    for m in mats:
        for c in _cells(m):
            for axis in AXES:
                if (v := num(_barrier(c, axis))) is not None:
                    rows.append((m["name"], f"network {c.get('structure') or DASH}",
                                 f"percolation barrier along {axis}", _f(v), "eV", calculator,
                                 _f(c.get("converged"))))
    return rows


def network_missing(mats: list[dict]) -> list[str]:
    """A line per material whose network did not finish or did not converge."""
    out = []
    for m in mats:
        if m.get("network_asked") and not _cells(m):
            out.append(f"{m['name']}: hop network did not finish")
        bad = sum(1 for c in _cells(m) if c.get("converged") is False)
        if bad:
            out.append(f"{m['name']}: {bad} of {len(_cells(m))} hop networks with unconverged CI-NEB hops")
    return out
