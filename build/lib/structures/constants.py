"""Names and element sets shared by every layer (structures, calculators, workflows)."""

SITE_LABEL = "site_label"  # atoms.arrays key: crystallographic label, e.g. Na1, Na2, TM, P, O
SUBLATTICE = "sublattice"  # atoms.arrays key: sublattice of structures.composition, e.g. Na, TM

ALKALI = frozenset({"Li", "Na", "K", "Rb", "Cs"})
NON_METALS = frozenset({"H", "B", "C", "N", "O", "F", "Si", "P", "S", "Cl", "Se", "Br", "I"})
# d-block metals (the redox-active and dopant transition metals of cathodes)
TRANSITION_METALS = frozenset(
    "Sc Ti V Cr Mn Fe Co Ni Cu Zn Y Zr Nb Mo Tc Ru Rh Pd Ag Cd Hf Ta W Re Os Ir Pt Au Hg".split())
