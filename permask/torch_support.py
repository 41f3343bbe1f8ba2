"""What the learned trackers and depth models share about PyTorch: importing it lazily (the CPU
pipeline never needs it), choosing the device, checking the precision. Messages name the config
group (`tracker` or `depth`) the setting lives in."""

from __future__ import annotations

import importlib

from permask.errors import ConfigError, PermaskError

PRECISIONS = ("fp32", "fp16", "bf16")


def import_torch(error: type[PermaskError], group: str, fallback: str):
    """torch, or `error` saying how to install it and which CPU option (`fallback`) needs none."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        raise error(f"learned {'trackers' if group == 'tracker' else 'depth estimators'} need "
                    "PyTorch, which is not installed", key=group,
                    fix=f"pip install 'torch>=2.1' (a CUDA build on a GPU machine), or use "
                        f"{fallback}") from None


def resolve_device(device: str, error: type[PermaskError], group: str):
    """'auto' -> cuda if available else cpu; 'cuda' / 'cuda:N' / 'cpu' as given (checked)."""
    torch = import_torch(error, group, "a CPU option")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device '{device}'", key=f"{group}.device",
                          fix=f"{group}.device=auto, cuda, cuda:N or cpu") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise error(f"{group}.device asks for CUDA but no CUDA device is available",
                    key=f"{group}.device", fix=f"{group}.device=auto (or cpu)")
    return dev


def check_precision(precision: str, group: str) -> str:
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision '{precision}'", key=f"{group}.precision",
                          fix=f"{group}.precision=fp32, fp16 or bf16")
    return precision
