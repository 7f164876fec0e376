"""Per-level prompts (Zoom Prompts) and per-level overrides of conditioning and model."""

from dataclasses import replace

import node_helpers
from comfy_api.latest import io

from .schema import CATEGORY, DEEPEST, bounds_error, level_input, resolve_level, zoom_input
from .types import LevelConditioning, ZoomPlan, ZoomPlanSocket


def split_prompts(text: str) -> list[str]:
    """One prompt per non-blank line, surrounding spaces removed."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def encode(clip, text: str) -> list:
    """CLIPTextEncode's encoding: a CONDITIONING for ``text``, honouring CLIP hooks."""
    return clip.encode_from_tokens_scheduled(clip.tokenize(text))


class ZoomPrompts(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="P10_ZoomPrompts",
            display_name="Zoom Prompts",
            category=CATEGORY,
            description=(
                "One prompt per zoom level, widest view first: write one line per level (blank lines are "
                "ignored). Prefix and suffix are added to every line; the negative prompt is shared."
            ),
            inputs=[
                io.Clip.Input("clip", tooltip="The text encoder, e.g. from Load Checkpoint."),
                zoom_input(),
                io.String.Input(
                    "prompts",
                    multiline=True,
                    default="a spiral galaxy\na blue planet seen from space\na city at night from above\n"
                    "a busy street\na person's face\na close-up of a human eye",
                    tooltip="One line per level, level 0 (the widest view) first.",
                ),
                io.String.Input("prefix", default="", tooltip="Text put before every level's prompt."),
                io.String.Input(
                    "suffix", default=", highly detailed photograph", tooltip="Text put after every level's prompt."
                ),
                io.String.Input(
                    "negative",
                    multiline=True,
                    default="blurry, low quality, text, watermark",
                    tooltip="Negative prompt shared by all levels.",
                ),
            ],
            outputs=[
                ZoomPlanSocket.Output(display_name="zoom_plan", tooltip="Per-level conditioning for the zoom samplers.")
            ],
        )

    @classmethod
    def execute(cls, clip, zoom, prompts, prefix, suffix, negative) -> io.NodeOutput:
        lines = split_prompts(prompts)
        zoom.check_count(len(lines), "Zoom Prompts", "prompts (one per non-blank line)")
        negative_conditioning = encode(clip, negative)
        levels = tuple(
            LevelConditioning(encode(clip, f"{prefix}{line}{suffix}"), negative_conditioning) for line in lines
        )
        return io.NodeOutput(ZoomPlan(zoom, levels))


NODE = "Zoom Level Override"
GUIDANCE = "Zoom Flux Guidance"


def level_range_error(node: type[io.ComfyNode], first_level, last_level) -> str | None:
    """What a ``first_level`` / ``last_level`` pair alone shows to be wrong, for ``validate_inputs``."""
    error = bounds_error(node, first_level=first_level, last_level=last_level)
    if error or None in (first_level, last_level):
        return error
    if last_level != DEEPEST and last_level < first_level:
        return f"{node.define_schema().display_name}: last_level {last_level} is before first_level {first_level}"
    return None


def level_range(node: str, zoom_plan, first_level: int, last_level: int) -> tuple[int, int]:
    """``(first, last)`` of a zoom plan's levels, the deepest for :data:`~.schema.DEEPEST`; checked against the zoom."""
    levels = zoom_plan.zoom.levels
    last = resolve_level(last_level, levels)
    if max(first_level, last) >= levels:
        raise ValueError(f"{node}: levels {first_level}-{last} reach past the zoom's {levels} levels (0-{levels - 1})")
    return first_level, last


def range_inputs(verb: str) -> list:
    """``first_level`` and ``last_level``: one level or a range, -1 reaching the deepest."""
    return [
        level_input("first_level", f"First level to {verb} (0 is the widest)."),
        level_input("last_level", f"Last level to {verb}, inclusive.", default=DEEPEST, deepest=True),
    ]


class ZoomLevelOverride(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="P10_ZoomLevelOverride",
            display_name=NODE,
            category=CATEGORY,
            description=(
                "Replaces, for one level or a range of levels, the positive and/or negative conditioning and/or "
                "the model (e.g. a LoRA-loaded or different checkpoint for some scales). Chain several to "
                "override several ranges. ControlNet or hooks applied to the conditioning act on these levels only."
            ),
            inputs=[
                ZoomPlanSocket.Input(
                    "zoom_plan", tooltip="The zoom plan to change, from Zoom Prompts or another override."
                ),
                *range_inputs("override"),
                io.Conditioning.Input("positive", optional=True, tooltip="New positive conditioning for these levels."),
                io.Conditioning.Input("negative", optional=True, tooltip="New negative conditioning for these levels."),
                io.Model.Input(
                    "model",
                    optional=True,
                    tooltip="Model for these levels; it must use the same latent space as the sampler's model.",
                ),
            ],
            outputs=[ZoomPlanSocket.Output(display_name="zoom_plan")],
        )

    @classmethod
    def validate_inputs(cls, first_level=None, last_level=None) -> bool | str:
        return level_range_error(cls, first_level, last_level) or True

    @classmethod
    def execute(cls, zoom_plan, first_level, last_level, positive=None, negative=None, model=None) -> io.NodeOutput:
        first, last = level_range(NODE, zoom_plan, first_level, last_level)
        changes = {"positive": positive, "negative": negative, "model": model}
        changes = {name: value for name, value in changes.items() if value is not None}
        if not changes:
            raise ValueError(f"{NODE}: connect at least one of positive, negative or model")
        return io.NodeOutput(zoom_plan.with_levels(first, last, lambda level: replace(level, **changes)))


class ZoomFluxGuidance(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="P10_ZoomFluxGuidance",
            display_name=GUIDANCE,
            category=CATEGORY,
            description=(
                "Core FluxGuidance for a zoom plan: sets the guidance that Flux-dev models read from the positive "
                "conditioning, for every level or a range (chain several for different ranges). Levels with "
                "different guidance run in separate model calls. Models without guidance ignore it."
            ),
            inputs=[
                ZoomPlanSocket.Input(
                    "zoom_plan", tooltip="The zoom plan, from Zoom Prompts or another zoom plan node."
                ),
                io.Float.Input(
                    "guidance",
                    default=3.5,
                    min=0.0,
                    max=100.0,
                    step=0.1,
                    tooltip="Flux guidance for these levels, as core FluxGuidance (3.5 is Flux-dev's usual).",
                ),
                *range_inputs("guide"),
            ],
            outputs=[ZoomPlanSocket.Output(display_name="zoom_plan")],
        )

    @classmethod
    def validate_inputs(cls, guidance=None, first_level=None, last_level=None) -> bool | str:
        return bounds_error(cls, guidance=guidance) or level_range_error(cls, first_level, last_level) or True

    @classmethod
    def execute(cls, zoom_plan, guidance, first_level, last_level) -> io.NodeOutput:
        first, last = level_range(GUIDANCE, zoom_plan, first_level, last_level)

        def guided(level):
            return replace(level, positive=node_helpers.conditioning_set_values(level.positive, {"guidance": guidance}))

        return io.NodeOutput(zoom_plan.with_levels(first, last, guided))
