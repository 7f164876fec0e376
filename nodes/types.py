"""The pack's socket types and the plain objects that travel on them, defined once."""

from dataclasses import dataclass, replace

from comfy_api.latest import io


@dataclass(frozen=True)
class ZoomSpec:
    """The shape of a zoom stack: how many levels and the zoom factor between them.

    Made by Empty Zoom Latent, the one source of truth that prompts, blending,
    rendering and previews read.
    """

    levels: int
    zoom_factor: int

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
    """Per-level conditioning (and optional per-level models) for a zoom stack."""

    zoom: ZoomSpec
    levels: tuple[LevelConditioning, ...]

    def with_override(self, first: int, last: int, **changes) -> "ZoomPlan":
        """A copy whose levels ``first … last`` (inclusive) take ``changes`` (positive/negative/model)."""
        levels = tuple(
            replace(level, **changes) if first <= index <= last else level for index, level in enumerate(self.levels)
        )
        return ZoomPlan(self.zoom, levels)


@dataclass(frozen=True)
class PixelConsolidation:
    """When to blend and render through the VAE in pixel space instead of in latent space.

    Attributes:
        vae: the VAE that decodes and encodes the model's latents.
        every: consolidate in pixel space on every ``every``-th step (1: every step).
        max_sigma: only at sigmas at or below this; 0 means at any sigma.
    """

    vae: object
    every: int = 1
    max_sigma: float = 0.0

    def applies(self, step: int, sigma: float) -> bool:
        return step % self.every == 0 and (self.max_sigma <= 0 or sigma <= self.max_sigma)


Zoom = io.Custom("P10_ZOOM")
"""Socket carrying a :class:`ZoomSpec`."""

ZoomPlanSocket = io.Custom("P10_ZOOM_PLAN")
"""Socket carrying a :class:`ZoomPlan`."""

GroundingSocket = io.Custom("P10_GROUNDING")
"""Socket carrying a :class:`~..sampler.Grounding` whose photos are VAE latents (not model-scaled)."""

ImageOrLatent = io.Custom("IMAGE,LATENT")
"""Output socket of nodes that return what they were given: an IMAGE batch or a LATENT."""
