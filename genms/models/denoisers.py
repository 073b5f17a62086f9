"""The two denoiser architectures of π_lo and how a config (YAML node or bundle dict) picks one.

* ``set_transformer`` — the paper's network (:mod:`genms.models.denoiser`), ε-prediction with
  ``diffusion.process=ddpm``;
* ``periodic`` — the periodic-geometry network (:mod:`genms.models.denoiser_v2`), velocity
  prediction with ``diffusion.process=flow``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from genms.configs import to_dataclass
from genms.models.denoiser import DenoiserConfig
from genms.models.denoiser_v2 import PeriodicDenoiserConfig

AnyDenoiserConfig = DenoiserConfig | PeriodicDenoiserConfig
ARCHS: dict[str, type] = {"set_transformer": DenoiserConfig, "periodic": PeriodicDenoiserConfig}
#: the diffusion process each architecture is trained with
PROCESS_OF = {"set_transformer": "ddpm", "periodic": "flow"}


def denoiser_config(node: Mapping[str, Any] | Any) -> AnyDenoiserConfig:
    """A typed model config from a Hydra node or a bundle's ``model`` dict (no ``arch``: the
    paper's)."""
    arch = (node or {}).get("arch", "set_transformer")
    if arch not in ARCHS:
        raise ValueError(f"model.arch must be one of {sorted(ARCHS)}, got {arch!r}")
    cfg = to_dataclass(ARCHS[arch], node)
    if isinstance(cfg, DenoiserConfig):
        cfg = DenoiserConfig(**{**cfg.__dict__, "width_multipliers": tuple(cfg.width_multipliers)})
    return cfg


def check_pairing(model_cfg: AnyDenoiserConfig, process: str) -> None:
    """Each architecture predicts what one process needs; refuse a mismatched pair up front."""
    want = PROCESS_OF[model_cfg.arch]
    if process != want:
        raise ValueError(
            f"model.arch={model_cfg.arch} is trained with diffusion.process={want}, "
            f"not {process!r}; use `model=denoiser diffusion=default` (ddpm) or "
            "`model=denoiser_v2 diffusion=flow` (flow)"
        )
