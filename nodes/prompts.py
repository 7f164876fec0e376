"""Per-level prompts (Zoom Prompts) and per-level overrides of conditioning and model."""

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
                level_input("first_level", "First level to override (0 is the widest)."),
                level_input("last_level", "Last level to override, inclusive.", default=DEEPEST, deepest=True),
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
        error = bounds_error(cls, first_level=first_level, last_level=last_level)
        if error:
            return error
        if None not in (first_level, last_level) and last_level != DEEPEST and last_level < first_level:
            return f"{NODE}: last_level {last_level} is before first_level {first_level}"
        return True

    @classmethod
    def execute(cls, zoom_plan, first_level, last_level, positive=None, negative=None, model=None) -> io.NodeOutput:
        levels = zoom_plan.zoom.levels
        last = resolve_level(last_level, levels)
        if max(first_level, last) >= levels:
            raise ValueError(
                f"{NODE}: levels {first_level}-{last} reach past the zoom's {levels} levels (0-{levels - 1})"
            )
        changes = {"positive": positive, "negative": negative, "model": model}
        changes = {name: value for name, value in changes.items() if value is not None}
        if not changes:
            raise ValueError(f"{NODE}: connect at least one of positive, negative or model")
        return io.NodeOutput(zoom_plan.with_override(first_level, last, **changes))
