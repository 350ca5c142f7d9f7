"""Calculator presets: `configs/calculators/<name>.yaml`, validated on load.

A preset file maps preset names to settings; `default` is required and every other preset
overrides it key by key (mappings such as `hubbard_u` are merged element by element).
Keyword overrides passed to `get_calculator` are validated against the same schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from structures.errors import HecathodeInputError
from structures.settings import CALCULATOR_DIR

CALCULATORS = ("chgnet", "sevenn", "gpaw", "vasp")
# cheap ASE potentials for tests and smoke runs of whole workflows (never for cathode numbers):
# EMT covers a few fcc metals only (`calculators.get_calculator` refuses other elements)
TEST_CALCULATORS = ("emt",)

_NUM = (int, float)
_MAP = dict
_LIST = list
_OPT_INT = (int, type(None))

# key -> accepted Python types, per calculator
SCHEMA: dict[str, dict[str, tuple | type]] = {
    "chgnet": {"model": str, "device": str, "threads": _OPT_INT},
    "sevenn": {"model": str, "device": str, "threads": _OPT_INT},
    "gpaw": {
        "xc": str, "ecut": _NUM, "kpoint_density": _NUM, "spinpol": (bool, str),
        "smearing_width": _NUM, "convergence_energy": _NUM, "maxiter": int, "txt": str,
        "hubbard_u_anions": _LIST, "hubbard_u": _MAP, "magmom_default": _NUM, "magmoms": _MAP,
    },
    "vasp": {
        "xc": str, "encut": _NUM, "ediff_per_atom": _NUM, "ediffg": _NUM, "ismear": int,
        "sigma": _NUM, "algo": str, "prec": str, "lreal": (str, bool), "lasph": bool,
        "lorbit": int, "lwave": bool, "nelm": int, "nsw": int, "ibrion": int, "isif": int,
        "reciprocal_density": _NUM, "hubbard_u_anions": _LIST, "hubbard_u": _MAP,
        "magmom_default": _NUM, "magmoms": _MAP, "potcars": _MAP,
    },
    "emt": {},
}


class CalculatorConfigError(HecathodeInputError):
    """An unknown calculator, preset or preset key, or a value of the wrong type."""


def check_calculator_name(name: str) -> str:
    """Return the lower-case calculator name; raise CalculatorConfigError if unknown."""
    key = str(name).strip().lower()
    if key not in CALCULATORS + TEST_CALCULATORS:
        raise CalculatorConfigError(
            f"unknown calculator {name!r} (allowed: {', '.join(CALCULATORS)}) or, for tests, "
            f"{', '.join(TEST_CALCULATORS)}")
    return key


def _type_name(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    names = {int: "integer", float: "number", str: "string", bool: "true/false", dict: "mapping",
             list: "list", type(None): "null"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def validate_settings(name: str, settings: dict, where: str) -> dict:
    """Check every key and value type of `settings` against SCHEMA[name]; `where` names the source."""
    if not isinstance(settings, dict):
        raise CalculatorConfigError(f"{where}: expected a mapping of settings, got {type(settings).__name__}")
    schema = SCHEMA[name]
    for key, value in settings.items():
        if key not in schema:
            raise CalculatorConfigError(
                f"{where}: unknown key {key!r} for {name} (allowed: {', '.join(sorted(schema))})")
        types = schema[key]
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in (
            types if isinstance(types, tuple) else (types,)))
        if not ok:
            raise CalculatorConfigError(
                f"{where}: {key} must be a {_type_name(types)}, got {value!r}")
    return settings


def _merge(base: dict, extra: dict) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def load_presets(name: str, path: str | Path | None = None) -> dict[str, dict]:
    """All presets of calculator `name` from its YAML file, each validated (not yet merged)."""
    name = check_calculator_name(name)
    path = Path(path) if path else CALCULATOR_DIR / f"{name}.yaml"
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise CalculatorConfigError(f"cannot read preset file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise CalculatorConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict) or "default" not in doc:
        raise CalculatorConfigError(f"{path}: expected a mapping of presets with a 'default' preset")
    for preset, settings in doc.items():
        validate_settings(name, settings or {}, f"{path.name}: preset {preset!r}")
    return {preset: settings or {} for preset, settings in doc.items()}


def resolve_settings(name: str, preset: str | None = None, **overrides: Any) -> tuple[str, dict]:
    """Return (preset label, settings): `default`, the named preset over it, then `overrides`.

    `preset` is a preset name from configs/calculators/<name>.yaml, or the path of a YAML file
    holding one mapping of settings (applied over `default`).
    """
    name = check_calculator_name(name)
    presets = load_presets(name)
    settings = dict(presets["default"])
    label = preset or "default"
    if preset and preset not in presets:
        candidate = Path(preset)
        if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
            try:
                extra = yaml.safe_load(candidate.read_text()) or {}
            except yaml.YAMLError as exc:
                raise CalculatorConfigError(
                    f"{candidate}: not valid YAML ({str(exc).splitlines()[0]})") from None
            settings = _merge(settings, validate_settings(name, extra, str(candidate)))
        else:
            raise CalculatorConfigError(
                f"unknown {name} preset {preset!r} (allowed: {', '.join(presets)}, or a .yaml file)")
    elif preset:
        settings = _merge(settings, presets[preset])
    if overrides:
        settings = _merge(settings, validate_settings(name, overrides, f"{name} override"))
    return label, settings
