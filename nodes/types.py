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


Zoom = io.Custom("P10_ZOOM")
"""Socket carrying a :class:`ZoomSpec`."""

ZoomPlanSocket = io.Custom("P10_ZOOM_PLAN")
"""Socket carrying a :class:`ZoomPlan`."""

ImageOrLatent = io.Custom("IMAGE,LATENT")
"""Output socket of nodes that return what they were given: an IMAGE batch or a LATENT."""
