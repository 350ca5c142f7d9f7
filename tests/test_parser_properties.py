"""Property tests: on any string the parser raises only its own error type."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from structures.composition import assign_sublattices, parse_formula
from structures.errors import FormulaError, HecathodeInputError

FORMULA_ALPHABET = st.sampled_from(
    list("NaMnFeCoNiVPOFCHLiTi()[]{},.·*/□ 0123456789₀₁₂₃xnq-_") + ["Va", "H2O", "(PO4)"]
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=40))
def test_parse_any_text_raises_only_formula_error(text):
    try:
        parse_formula(text)
    except FormulaError:
        pass


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FORMULA_ALPHABET, max_size=25).map("".join))
def test_formula_like_text_raises_only_input_errors(text):
    for prototype in (None, "o3", "nvpf", "pba"):
        try:
            assign_sublattices(text, prototype)
        except HecathodeInputError:
            pass
