"""Universal machine-learned potentials: CHGNet and SevenNet (7net-0).

Both models ship their weights inside their wheels, so nothing is downloaded. Each model is
loaded once per process (cached by model name and device); every `get_*_calculator` call
returns a fresh ASE calculator around the cached model. Energies eV, forces eV/Å, stress
eV/Å^3 (ASE units).
"""

from __future__ import annotations

import contextlib
import io
import warnings

from calculators.presets import CalculatorConfigError
from structures.settings import torch_threads

_MODELS: dict[tuple, object] = {}
_THREADS_SET: list[int] = []


def _torch_setup(threads: int | None, device: str) -> str:
    """Set torch's CPU thread count (oversubscription is 4-10x slower); resolve `device`.

    Threads: `structures.settings.torch_threads` (the preset's `threads`, else
    $HECATHODE_TORCH_THREADS, else the cores this process may run on).
    """
    import torch

    n = torch_threads(threads)
    if _THREADS_SET != [n]:
        torch.set_num_threads(n)
        _THREADS_SET[:] = [n]
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise CalculatorConfigError(f"device must be auto, cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise CalculatorConfigError("device 'cuda' requested but torch sees no GPU")
    return device


def chgnet_calculator(settings: dict):
    """An ASE calculator for CHGNet (`settings`: model, device, threads)."""
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    device = _torch_setup(settings.get("threads"), settings.get("device", "auto"))
    model_name = settings.get("model", "0.3.0")
    key = ("chgnet", model_name, device)
    # CHGNet prints its banner and device on stdout, and warns on every stress evaluation
    warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad",
                            category=UserWarning)
    with contextlib.redirect_stdout(io.StringIO()):
        if key not in _MODELS:
            try:
                _MODELS[key] = CHGNet.load(model_name=model_name, use_device=device, verbose=False)
            except ValueError:
                raise CalculatorConfigError(
                    f"unknown CHGNet model {model_name!r} (allowed: 0.3.0, 0.2.0, r2scan)") from None
        return CHGNetCalculator(model=_MODELS[key], use_device=device)


def sevenn_calculator(settings: dict):
    """An ASE calculator for SevenNet (`settings`: model, device, threads)."""
    from sevenn.calculator import SevenNetCalculator

    device = _torch_setup(settings.get("threads"), settings.get("device", "auto"))
    model_name = settings.get("model", "7net-0")
    key = ("sevenn", model_name, device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no tensor-product accelerator" notice on CPU
        if key not in _MODELS:
            try:
                calc = SevenNetCalculator(model=model_name, device=device)
            except (ValueError, FileNotFoundError, KeyError) as exc:
                raise CalculatorConfigError(
                    f"cannot load SevenNet model {model_name!r}: {str(exc).splitlines()[0]}") from None
            _MODELS[key] = (calc.model, calc.sevennet_config)
            return calc
        model, config = _MODELS[key]
        return SevenNetCalculator(model=model, file_type="model_instance", device=device,
                                  sevennet_config=config)
