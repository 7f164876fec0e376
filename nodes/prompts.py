"""Per-level prompts (Zoom Prompts) and per-level overrides of conditioning and model."""

from dataclasses import replace

import node_helpers
from comfy_api.latest import io

from .schema import CATEGORY, level_range, level_range_error, range_inputs, schema_error, zoom_input
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
                "ignored). Prefix and suffix are added to every line; the negative prompt is shared. For a zoom "
                "from Extend Zoom or Regenerate Zoom Levels, write a line for every level (the fixed levels' lines "
                "are not used) or only for the levels to sample."
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
        sampled = zoom.sampled
        if len(lines) == zoom.levels:
            lines_by_level = {level: lines[level] for level in sampled}
        elif zoom.fixed and len(lines) == len(sampled):
            lines_by_level = dict(zip(sampled, lines))
        elif zoom.fixed:
            raise ValueError(
                f"Zoom Prompts: {len(lines)} prompts (one per non-blank line), but the zoom has {zoom.levels} levels "
                f"of which {len(sampled)} are sampled; give one line per level or one per sampled level"
            )
        else:
            zoom.check_count(len(lines), "Zoom Prompts", "prompts (one per non-blank line)")
        negative_conditioning = encode(clip, negative)
        levels = tuple(
            LevelConditioning(encode(clip, f"{prefix}{lines_by_level[level]}{suffix}"), negative_conditioning)
            if level in lines_by_level
            else None
            for level in range(zoom.levels)
        )
        return io.NodeOutput(ZoomPlan(zoom, levels))


NODE = "Zoom Level Override"
GUIDANCE = "Zoom Flux Guidance"


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
        first, last = level_range(NODE, zoom_plan.zoom.levels, first_level, last_level)
        changes = {"positive": positive, "negative": negative, "model": model}
        changes = {name: value for name, value in changes.items() if value is not None}
        if not changes:
            raise ValueError(f"{NODE}: connect at least one of positive, negative or model")
        return io.NodeOutput(zoom_plan.with_levels(NODE, first, last, lambda level: replace(level, **changes)))


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
        return schema_error(cls, guidance=guidance) or level_range_error(cls, first_level, last_level) or True

    @classmethod
    def execute(cls, zoom_plan, guidance, first_level, last_level) -> io.NodeOutput:
        first, last = level_range(GUIDANCE, zoom_plan.zoom.levels, first_level, last_level)

        def guided(level):
            return replace(level, positive=node_helpers.conditioning_set_values(level.positive, {"guidance": guidance}))

        return io.NodeOutput(zoom_plan.with_levels(GUIDANCE, first, last, guided))
