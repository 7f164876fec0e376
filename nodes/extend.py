"""Extend Zoom and Regenerate Zoom Levels: continue a finished zoom, or redo some of its levels.

Both hand the samplers a ZOOM whose other levels are fixed (docs/design.md, "Fixed
levels"): the samplers hold those at the latent's values and sample
the rest to continue them (:mod:`~..sampler.fixed`).
"""

import dataclasses

import torch
from comfy_api.latest import io

from .latent import parse_targets
from .schema import CATEGORY, MAX_LEVELS, level_range, level_range_error, range_inputs, schema_error, zoom_input
from .types import Zoom

EXTEND, REGENERATE = "Extend Zoom", "Regenerate Zoom Levels"
DIRECTIONS = ["deeper", "wider"]


class ExtendZoom(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="P10_ExtendZoom",
            display_name=EXTEND,
            category=CATEGORY,
            description=(
                "Adds levels to a finished zoom: deeper (new levels continue into the deepest one, at its target) "
                "or wider (a new level 0 holds the old level 0, at the first target). The old levels are held "
                "fixed: sample the output with Zoom Prompts (one line per new level, or per level) and Zoom "
                "KSampler, and only the new levels and their neighbours take part."
            ),
            inputs=[
                io.Latent.Input("latent", tooltip="The finished zoom's latent, e.g. from Zoom KSampler."),
                zoom_input(),
                io.Int.Input("levels", default=4, min=1, max=MAX_LEVELS - 1, tooltip="How many levels to add."),
                io.Combo.Input(
                    "direction",
                    options=DIRECTIONS,
                    default="deeper",
                    tooltip="deeper: zoom further in. wider: zoom further out.",
                ),
                io.String.Input(
                    "targets",
                    default="",
                    multiline=True,
                    optional=True,
                    tooltip="Where the new levels sit, as on Empty Zoom Latent: one 'x, y' line per new level (for "
                    "wider, the last one places the old level 0), or one line for all. Empty: the zoom's own "
                    "deepest (deeper) or first (wider) target.",
                ),
            ],
            outputs=[
                io.Latent.Output(display_name="latent", tooltip="The old levels in place, the new ones empty."),
                Zoom.Output(display_name="zoom", tooltip="All the levels, the old ones fixed."),
            ],
        )

    @classmethod
    def validate_inputs(cls, levels=None, direction=None, targets=None) -> bool | str:
        error = schema_error(cls, levels=levels, direction=direction)
        if not error and targets is not None and levels is not None:
            error = new_targets_error(targets, levels)
        return error or True

    @classmethod
    def execute(cls, latent, zoom, levels, direction, targets="") -> io.NodeOutput:
        if zoom.layout.cyclic:
            raise ValueError(f"{EXTEND}: a looping zoom has no deepest or widest level to extend")
        samples = latent["samples"]
        zoom.check_count(samples.shape[0], EXTEND, "the latent")
        total = zoom.levels + levels
        if total > MAX_LEVELS:
            raise ValueError(
                f"{EXTEND}: {zoom.levels} + {levels} levels is {total}, above the most a zoom has, {MAX_LEVELS}"
            )
        empty = samples.new_zeros(levels, *samples.shape[1:])
        if direction == "deeper":
            stacked, old = torch.cat([samples, empty]), range(zoom.levels)
        else:
            stacked, old = torch.cat([empty, samples]), range(levels, total)
        layout = dataclasses.replace(
            zoom.layout, targets=extended_targets(zoom.layout.targets, zoom.levels, levels, direction, targets)
        ).aligned(*samples.shape[-2:])
        extended = dataclasses.replace(zoom, levels=total, layout=layout, fixed=frozenset(old))
        return io.NodeOutput({"samples": stacked}, extended)


def new_targets_error(text: str, added: int) -> str | None:
    """Why ``text`` cannot place ``added`` new levels (one line per new level, one for all, or none), or None."""
    if not text.strip():
        return None
    try:
        count = len(parse_targets(EXTEND, text))
    except ValueError as error:
        return str(error)
    if count not in (1, added):
        return f"{EXTEND}: targets has {count} lines for {added} new levels; give one per new level or one"
    return None


def extended_targets(old: tuple, levels: int, added: int, direction: str, text: str) -> tuple:
    """The targets of a zoom of ``levels`` levels with ``added`` more ``direction``, new ones from ``text``."""
    error = new_targets_error(text, added)
    if error:
        raise ValueError(error)
    if len(old) == 1 and not text.strip():
        return old
    per_level = old if len(old) > 1 else old * (levels - 1)
    new = parse_targets(EXTEND, text) if text.strip() else (per_level[-1] if direction == "deeper" else per_level[0],)
    if len(new) == 1:
        new *= added
    return per_level + new if direction == "deeper" else new + per_level


class RegenerateZoomLevels(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="P10_RegenerateZoomLevels",
            display_name=REGENERATE,
            category=CATEGORY,
            description=(
                "Marks one level or a range to sample again, with new prompts and/or seed, while every other level "
                "stays exactly as it is: for fixing one bad scale. Sample the finished latent with this zoom "
                "through Zoom Prompts and Zoom KSampler; the same seed and prompts give back the original closely."
            ),
            inputs=[zoom_input(), *range_inputs("sample again")],
            outputs=[Zoom.Output(display_name="zoom", tooltip="The same zoom, all other levels fixed.")],
        )

    @classmethod
    def validate_inputs(cls, first_level=None, last_level=None) -> bool | str:
        return level_range_error(cls, first_level, last_level) or True

    @classmethod
    def execute(cls, zoom, first_level, last_level) -> io.NodeOutput:
        first, last = level_range(REGENERATE, zoom.levels, first_level, last_level)
        kept = frozenset(level for level in range(zoom.levels) if not first <= level <= last)
        return io.NodeOutput(dataclasses.replace(zoom, fixed=kept))
