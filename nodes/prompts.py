"""Per-level prompts (Zoom Prompts) and per-level overrides of conditioning and model."""

from comfy_api.latest import io

from .types import LevelConditioning, Zoom, ZoomPlan, ZoomPlanSocket


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
            category="powers_of_ten",
            description=(
                "One prompt per zoom level, widest view first: write one line per level (blank lines are "
                "ignored). Prefix and suffix are added to every line; the negative prompt is shared."
            ),
            inputs=[
                io.Clip.Input("clip", tooltip="The text encoder, e.g. from Load Checkpoint."),
                Zoom.Input("zoom", tooltip="From Empty Zoom Latent: the number of levels to write prompts for."),
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


class ZoomLevelOverride(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="P10_ZoomLevelOverride",
            display_name="Zoom Level Override",
            category="powers_of_ten",
            description=(
                "Replaces, for one level or a range of levels, the positive and/or negative conditioning and/or "
                "the model (e.g. a LoRA-loaded or different checkpoint for some scales). Chain several to "
                "override several ranges. ControlNet or hooks applied to the conditioning act on these levels only."
            ),
            inputs=[
                ZoomPlanSocket.Input(
                    "zoom_plan", tooltip="The zoom plan to change, from Zoom Prompts or another override."
                ),
                io.Int.Input(
                    "first_level", default=0, min=0, max=63, tooltip="First level to override (0 is the widest)."
                ),
                io.Int.Input(
                    "last_level",
                    default=-1,
                    min=-1,
                    max=63,
                    tooltip="Last level to override, inclusive; -1 overrides first_level only.",
                ),
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
    def validate_inputs(cls, first_level, last_level) -> bool | str:
        if last_level != -1 and last_level < first_level:
            return f"Zoom Level Override: last_level {last_level} is before first_level {first_level}"
        return True

    @classmethod
    def execute(cls, zoom_plan, first_level, last_level, positive=None, negative=None, model=None) -> io.NodeOutput:
        last = first_level if last_level == -1 else last_level
        levels = zoom_plan.zoom.levels
        if last >= levels:
            raise ValueError(
                f"Zoom Level Override: levels {first_level}-{last} reach past the zoom's "
                f"{levels} levels (0-{levels - 1})"
            )
        changes = {"positive": positive, "negative": negative, "model": model}
        changes = {name: value for name, value in changes.items() if value is not None}
        if not changes:
            raise ValueError("Zoom Level Override: connect at least one of positive, negative or model")
        return io.NodeOutput(zoom_plan.with_override(first_level, last, **changes))
