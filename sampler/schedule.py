"""Noise schedules: validating one, and saying where in it something runs."""

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SigmaRange:
    """The part of a schedule where something runs: every sigma from ``start`` down to ``end``, both included.

    ComfyUI states such ranges as ``start_percent`` / ``end_percent`` (ControlNet,
    timestep ranges); the model's ``percent_to_sigma`` turns them into this.
    A sampler's intermediate evaluations (Heun, SDE, 2S) fall into the range by
    their own sigma, so no step index is needed.
    """

    start: float = math.inf
    end: float = 0.0

    def __post_init__(self):
        if not self.start >= self.end >= 0:
            raise ValueError(f"a sigma range needs start >= end >= 0; got start {self.start}, end {self.end}")

    def __contains__(self, sigma: float) -> bool:
        return self.end <= sigma <= self.start


def check_sigmas(sigmas: torch.Tensor) -> None:
    """Validate a noise schedule: 1-D, finite, strictly decreasing, positive until a final 0.

    Raises:
        ValueError: naming the first entry that breaks the rule.
    """
    if not isinstance(sigmas, torch.Tensor) or sigmas.ndim != 1 or sigmas.numel() < 2:
        shape = tuple(sigmas.shape) if isinstance(sigmas, torch.Tensor) else type(sigmas).__name__
        raise ValueError(f"sigmas must be a 1-D tensor with at least 2 entries; got {shape}")
    values = sigmas.detach().double().cpu()
    if not torch.isfinite(values).all():
        raise ValueError(f"sigmas must be finite; got {values.tolist()}")
    if values[-1] != 0:
        raise ValueError(f"sigmas must end in 0; the last of {len(values)} is {values[-1].item():g}")
    steps = values[1:] - values[:-1]
    if (steps >= 0).any():
        index = int(torch.nonzero(steps >= 0)[0])
        raise ValueError(
            f"sigmas must be strictly decreasing; sigmas[{index}] = {values[index].item():g} is followed by "
            f"sigmas[{index + 1}] = {values[index + 1].item():g}"
        )
