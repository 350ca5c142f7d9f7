"""Parse compositions as papers write them (no sublattices here: see structures.composition).

Amounts are per formula unit (f.u.). Handles grouped dopants `(Ca,Mg,Al,Cr,Mn)0.1`
and `(NiCoMnMgZn)0.01` (the coefficient is read "in total" or "per element",
whichever fills the host sublattice), vacancies `□`/`Va`, hydrate water `·nH2O`
or `.nH2O`, fractions `2/3`, nested `()`/`[]`, Unicode subscripts and spaces.

    >>> parsed = parse_formula("Na3V1.9(Ca,Mg,Al,Cr,Mn)0.1(PO4)2F3")
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ase.data import chemical_symbols

from structures.errors import FormulaError

VACANCY = "□"
ELEMENTS = frozenset(chemical_symbols[1:])
NONMETALS = frozenset(
    "H He B C N O F Ne Si P S Cl Ar As Se Br Kr Te I Xe At Rn".split()
)
READINGS = ("total", "per-element")
DEFAULT_TOLERANCE = 0.015  # |sum - sites| per f.u. accepted as "full"

_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_HYDRATE_SEPARATORS = "·•⋅∙*"
_VACANCY_CHARS = "□◻☐▫"
_NUMBER = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(?:/(\d+(?:\.\d*)?))?")
_HYDRATE = re.compile(r"(\d+(?:\.\d+)?(?:/\d+)?|[nxyz])?H2O")


@dataclass(frozen=True)
class Term:
    """One element (or '□') as written. For a dopant-group term, `amount` is the
    group's coefficient, still to be read in total or per element."""

    element: str
    amount: float
    unit: int
    group: int | None = None
    complex_id: int | None = None


@dataclass(frozen=True)
class DopantGroup:
    text: str
    coefficient: float
    elements: tuple[str, ...]


@dataclass
class ParsedFormula:
    """The formula as written: terms, dopant groups and hydrate water."""

    text: str
    terms: list[Term]
    groups: list[DopantGroup]
    water: float | None = None
    water_text: str | None = None

    def resolved(self, reading: str) -> list[Term]:
        """Terms with group coefficients read 'total' (c/n each) or 'per-element' (c each)."""
        out = []
        for t in self.terms:
            if t.group is not None:
                n = len(self.groups[t.group].elements)
                amount = t.amount / n if reading == "total" else t.amount
                t = Term(t.element, amount, t.unit, t.group, t.complex_id)
            out.append(t)
        return out

    def amounts(self, reading: str = "total") -> dict[str, float]:
        totals: dict[str, float] = {}
        for t in self.resolved(reading):
            totals[t.element] = totals.get(t.element, 0.0) + t.amount
        return totals


# --------------------------------------------------------------------------- parsing


def parse_formula(text: str) -> ParsedFormula:
    """Parse a formula string; raises FormulaError naming the bad part."""
    if not isinstance(text, str) or not text.strip():
        raise FormulaError("empty formula")
    s = text.translate(_SUBSCRIPTS).strip()
    s = re.sub(r"\{([0-9./]+)\}", r"\1", s).replace("_", "")
    body, water, water_text = _split_hydrate(s, text)
    body = re.sub(r"\s+", "", body)
    if not body:
        raise FormulaError(f"no framework composition before the hydrate part in {text!r}")
    parser = _Parser(body, text)
    terms = parser.parse()
    if not any(t.element != VACANCY for t in terms):
        raise FormulaError(f"no element in {text!r}")
    return ParsedFormula(text, terms, parser.groups, water, water_text)


def _split_hydrate(s: str, original: str) -> tuple[str, float | None, str | None]:
    """Split 'body·nH2O' (also '.nH2O', '*nH2O', 'body nH2O')."""
    cut = None
    for i, ch in enumerate(s):
        if ch in _HYDRATE_SEPARATORS:
            cut = i
            break
    if cut is None:
        for m in re.finditer(r"[.\s]", s):
            rest = re.sub(r"\s+", "", s[m.end():])
            if m.start() > 0 and _HYDRATE.fullmatch(rest):
                cut = m.start()
                break
    if cut is None:
        return s, None, None
    body, hydrate = s[:cut], re.sub(r"\s+", "", s[cut + 1:])
    m = _HYDRATE.fullmatch(hydrate)
    if not m:
        raise FormulaError(f"cannot read hydrate part {hydrate!r} of {original!r}: expected n·H2O")
    coef = m.group(1)
    if coef is None:
        return body, 1.0, hydrate
    if coef in "nxyz":
        return body, None, hydrate
    return body, _to_float(coef), hydrate


def _to_float(token: str) -> float:
    if "/" in token:
        a, b = token.split("/")
        return float(a) / float(b)
    return float(token)


@dataclass
class _Item:
    terms: list[tuple]  # (element, amount, group, complex_id)
    bare: str | None = None  # element written without amount


class _Parser:
    def __init__(self, s: str, original: str):
        self.s, self.original, self.i = s, original, 0
        self.groups: list[DopantGroup] = []
        self.n_complex = 0

    def fail(self, msg: str):
        raise FormulaError(f"{msg} in {self.original!r}")

    def parse(self) -> list[Term]:
        items: list[_Item] = []
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch in ")]":
                self.fail(f"unbalanced {ch!r} at position {self.i + 1}")
            if ch == ",":
                self.fail("comma outside brackets")
            self.append(items, self.item())
        return [
            Term(el, amount, unit, group, cid)
            for unit, it in enumerate(items)
            for el, amount, group, cid in it.terms
        ]

    def append(self, items: list[_Item], item: _Item) -> None:
        """Add an item; 'M(CN)6' written without brackets around M becomes a complex."""
        elements = {t[0] for t in item.terms}
        if elements == {"C", "N"} and items:
            prev = items[-1]
            prev_elements = {t[0] for t in prev.terms}
            if len(prev_elements) == 1 and not prev_elements & NONMETALS and VACANCY not in prev_elements:
                cid = self.n_complex
                self.n_complex += 1
                for it in (prev, item):
                    it.terms = [(el, a, g, cid if c is None else c) for el, a, g, c in it.terms]
        items.append(item)

    def number(self, what: str) -> float | None:
        m = _NUMBER.match(self.s, self.i)
        if not m:
            return None
        self.i = m.end()
        if m.group(2) is not None and float(m.group(2)) == 0:
            self.fail(f"division by zero in the amount of {what}")
        value = _to_float(m.group(0))
        if value <= 0:
            self.fail(f"amount of {what} is zero")
        return value

    def item(self) -> _Item:
        s, i = self.s, self.i
        ch = s[i]
        if ch in "([":
            return self.bracket()
        if ch in _VACANCY_CHARS or s.startswith("Va", i):
            self.i += 1 if ch in _VACANCY_CHARS else 2
            amount = self.number("□")
            return _Item([(VACANCY, amount if amount is not None else 1.0, None, None)])
        if ch.isupper():
            two = s[i:i + 2]
            if len(two) == 2 and two[1].islower() and two in ELEMENTS:
                el = two
            elif ch in ELEMENTS:
                el = ch
            else:
                bad = two if len(two) == 2 and two[1].islower() else ch
                self.fail(f"unknown element {bad!r}")
            self.i += len(el)
            if self.i < len(s) and s[self.i].islower():
                self.fail(f"symbolic amount {s[self.i]!r} after {el}: give a number")
            amount = self.number(el)
            if amount is None:
                return _Item([(el, 1.0, None, None)], bare=el)
            return _Item([(el, amount, None, None)])
        if ch == "-":
            self.fail(f"negative or symbolic amount at position {i + 1}")
        if ch.isdigit() or ch == ".":
            self.fail(f"number at position {i + 1} follows no element")
        if ch.islower():
            self.fail(f"unexpected {ch!r} at position {i + 1} (symbolic amounts are not supported)")
        self.fail(f"unexpected character {ch!r} at position {i + 1}")

    def bracket(self) -> _Item:
        opener = self.s[self.i]
        closer = ")" if opener == "(" else "]"
        start = self.i
        self.i += 1
        items: list[_Item] = []
        while True:
            if self.i >= len(self.s):
                self.fail(f"unbalanced {opener!r} opened at position {start + 1}")
            ch = self.s[self.i]
            if ch == closer:
                self.i += 1
                break
            if ch in ")]":
                self.fail(f"{ch!r} at position {self.i + 1} closes {opener!r} from position {start + 1}")
            if ch == ",":  # separates elements; a group is recognised by its bare metals
                self.i += 1
                continue
            self.append(items, self.item())
        text = self.s[start:self.i]
        if not items:
            self.fail(f"empty brackets {text!r}")
        mult = self.number(text)
        bare = [it.bare for it in items]
        if len(items) >= 2 and all(b is not None and b not in NONMETALS for b in bare):
            if len(set(bare)) != len(bare):
                self.fail(f"element repeated in dopant group {text!r}")
            coefficient = 1.0 if mult is None else mult
            gid = len(self.groups)
            self.groups.append(DopantGroup(f"{text}{'' if mult is None else fmt_amount(mult)}",
                                           coefficient, tuple(bare)))
            return _Item([(el, coefficient, gid, None) for el in bare])
        mult = 1.0 if mult is None else mult
        terms = [(el, a * mult, g, c) for it in items for el, a, g, c in it.terms]
        elements = {t[0] for t in terms}
        metals = [e for e in elements if e not in NONMETALS and e != VACANCY]
        if len(metals) == 1 and {"C", "N"} <= elements:
            cid = self.n_complex
            self.n_complex += 1
            terms = [(el, a, g, cid if c is None else c) for el, a, g, c in terms]
        return _Item(terms)


def fmt_amount(x: float) -> str:
    return f"{x:.6g}"
