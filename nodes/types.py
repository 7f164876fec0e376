"""The pack's socket types and the plain objects that travel on them, defined once."""

from dataclasses import dataclass, field

import torch
from comfy_api.latest import io

from ..blending import ZoomLayout
from ..sampler import Grounding, SigmaRange


@dataclass(frozen=True)
class ZoomSpec:
    """The shape of a zoom stack: how many levels, and how they nest (the zoom factor between them).

    Made by Empty Zoom Latent, the one source of truth that prompts, samplers,
    blending, rendering, previews and videos read. Extend Zoom and Regenerate
    Zoom Levels mark some levels ``fixed``: the samplers hold them at the
    latent's values and sample the others to continue them.
    """

    levels: int
    layout: ZoomLayout
    fixed: frozenset[int] = frozenset()

    @property
    def zoom_factor(self) -> int:
        return self.layout.zoom_factor

    @property
    def sampled(self) -> tuple[int, ...]:
        """The levels the samplers sample, in order: all but the fixed ones."""
        return tuple(level for level in range(self.levels) if level not in self.fixed)

    def fixed_mask(self) -> torch.Tensor:
        """``(N,)`` bool, True for a fixed level."""
        return torch.tensor([level in self.fixed for level in range(self.levels)], dtype=torch.bool)

    def check_count(self, count: int, node: str, what: str) -> None:
        """Raise a ValueError naming ``node`` unless ``count`` (of ``what``) equals the number of levels."""
        if count != self.levels:
            raise ValueError(f"{node}: {what} has {count} levels but the zoom has {self.levels}")


@dataclass(frozen=True)
class LevelConditioning:
    """What drives one level: its CONDITIONING pair and, when overridden, its own MODEL."""

    positive: list
    negative: list
    model: object | None = None


@dataclass(frozen=True)
class ZoomPlan:
    """Per-level conditioning (and optional per-level models) for a zoom stack; None for the zoom's fixed levels."""

    zoom: ZoomSpec
    levels: tuple[LevelConditioning | None, ...]

    def with_levels(self, node: str, first: int, last: int, change) -> "ZoomPlan":
        """A copy whose sampled levels ``first … last`` (inclusive) are ``change(level)``.

        Raises:
            ValueError: naming ``node``, when every level of the range is fixed.
        """
        if all(level is None for level in self.levels[first : last + 1]):
            raise ValueError(
                f"{node}: levels {first}-{last} are all fixed (Extend Zoom, Regenerate Zoom Levels), so nothing "
                "there is sampled to change"
            )
        levels = tuple(
            change(level) if first <= index <= last and level is not None else level
            for index, level in enumerate(self.levels)
        )
        return ZoomPlan(self.zoom, levels)


@dataclass(frozen=True)
class SchedulePercent:
    """A part of the sampling schedule as ComfyUI states it: ``start_percent`` to ``end_percent``.

    The same vocabulary as ControlNet's and core's timestep ranges: 0 is the
    noisy start, 1 the clean end, measured on the model's own timesteps.
    """

    start: float = 0.0
    end: float = 1.0

    def given(self, start: float | None, end: float | None) -> "SchedulePercent":
        """This range with the ends a node was given in place of its own (None: keep this one's)."""
        return SchedulePercent(self.start if start is None else start, self.end if end is None else end)

    def sigmas(self, model_sampling) -> SigmaRange:
        """The same range in sigma, through the model's ``percent_to_sigma``."""
        return SigmaRange(
            float(model_sampling.percent_to_sigma(self.start)), float(model_sampling.percent_to_sigma(self.end))
        )


@dataclass(frozen=True)
class PhotoGrounding:
    """Photos chained by Zoom Photo Grounding: VAE latents per level (not yet in the model's space) and settings."""

    photos: dict[int, torch.Tensor] = field(default_factory=dict)
    steps: int = Grounding.steps
    strength: float = Grounding.learning_rate
    when: SchedulePercent = SchedulePercent(0.0, 0.8)
    """The paper grounds most but not all of the schedule, leaving the last steps to the model's prior."""


@dataclass(frozen=True)
class PixelConsolidation:
    """Blending and rendering through the VAE, in pixel space, for the part of the schedule ``when`` names."""

    vae: object
    when: SchedulePercent = SchedulePercent(0.7, 1.0)
    """Over the last 30% of the schedule the decoded levels agree as closely as over all of it (27.4 against
    27.0 dB on the tiny checkpoint; the last 10%: 25.8), for 70% of its time per step (docs/quality.md,
    ``benchmarks/bench_decoded_seams.py``)."""


Zoom = io.Custom("P10_ZOOM")
"""Socket carrying a :class:`ZoomSpec`."""

ZoomPlanSocket = io.Custom("P10_ZOOM_PLAN")
"""Socket carrying a :class:`ZoomPlan`."""

GroundingSocket = io.Custom("P10_GROUNDING")
"""Socket carrying a :class:`PhotoGrounding`."""

ImageOrLatent = io.Custom("IMAGE,LATENT")
"""Output socket of nodes that return what they were given: an IMAGE batch or a LATENT."""
