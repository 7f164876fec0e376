"""Batching per-level CONDITIONING so that levels sharing a model run in as few model calls as is exact."""

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LevelGroup:
    """Levels evaluated together: one model call with their conditionings stacked row by row."""

    levels: tuple[int, ...]
    model: object
    positive: list
    negative: list


REPEAT_LIMIT = 4
"""Most times a token sequence is repeated to stack it with a longer one: ComfyUI's own limit
(``CONDCrossAttn.can_concat``); beyond it the levels run in separate calls."""


def repeats_tokens(model_patcher, entry, node: str, level: int) -> bool:
    """Whether the model's text conditioning is cross-attention, where repeating a token sequence is exact.

    Asked of the model's own conditioning path (``extra_conds``) with one of the
    level's entries: a cross-attention UNet wraps the text as ``CONDCrossAttn``,
    which ComfyUI itself pads by repetition; joint-attention models (SD3, Flux)
    wrap it as a plain ``CONDRegular``, whose text tokens attend with the image
    tokens, so a repeated sequence weighs more and lengths must match.

    Raises:
        ValueError: naming ``node`` and the level when the conditioning lacks a
            ``pooled_output`` the model needs (SDXL, SD3, Flux), instead of a
            KeyError from deep inside ComfyUI.
    """
    import comfy.conds

    tensor, options = entry
    channels = model_patcher.get_model_object("latent_format").latent_channels
    probe = {**options, "cross_attn": tensor, "device": tensor.device, "noise": tensor.new_zeros(1, channels, 8, 8)}
    try:
        conds = model_patcher.model.extra_conds(**probe)
    except KeyError as error:
        if error.args == ("pooled_output",):
            family = type(model_patcher.model).__name__
            raise ValueError(
                f"{node}: level {level}'s conditioning has no pooled_output, which {family} models need; encode it "
                "with CLIP Text Encode (or a node that keeps pooled_output)"
            ) from None
        return False
    except Exception:  # a conditioning this probe cannot build: keep to what is exact for any model
        return False
    return isinstance(conds.get("c_crossattn"), comfy.conds.CONDCrossAttn)


def batch_signature(conditioning: list, repeats: bool) -> tuple | None:
    """What must match for two levels' CONDITIONINGs to stack into one batch, or None if it cannot stack.

    Tensors must be single-row, and have the same token count unless ``repeats``
    (see :func:`repeats_tokens`); other options must be the same object or an
    equal hashable value. ControlNets, hooks and masks applied to one level are
    distinct objects, so such a level gets a model call of its own and its
    control applies to it alone; levels with different Flux guidance differ too.
    """
    signature = []
    for tensor, options in conditioning:
        if tensor.shape[0] != 1:
            return None
        items = [tuple(tensor.shape[2:] if repeats else tensor.shape[1:])]
        for key in sorted(options):
            value = options[key]
            if isinstance(value, torch.Tensor):
                if value.shape[0] != 1:
                    return None
                items.append((key, tuple(value.shape[1:]), value.dtype))
            else:
                try:
                    items.append((key, hash(value), value))
                except TypeError:
                    items.append((key, id(value)))
        signature.append(tuple(items))
    return tuple(signature)


def stack_conditioning(conditionings: list[list]) -> list:
    """Stack same-signature CONDITIONINGs so that row ``i`` of every tensor belongs to level ``i``.

    Cross-attention sequences of different token lengths are repeated up to
    their least common multiple, which leaves cross-attention unchanged
    (ComfyUI's own ``CONDCrossAttn.concat`` pads the same way).
    """
    stacked = []
    for entries in zip(*conditionings):
        tensors = [tensor for tensor, _ in entries]
        length = math.lcm(*(tensor.shape[1] for tensor in tensors))
        cross_attention = torch.cat([tensor.repeat(1, length // tensor.shape[1], 1) for tensor in tensors])
        options = dict(entries[0][1])
        for key, value in options.items():
            if isinstance(value, torch.Tensor):
                options[key] = torch.cat([entry[1][key] for entry in entries])
        stacked.append([cross_attention, options])
    return stacked


def token_lengths(level) -> tuple[int, ...]:
    return tuple(tensor.shape[1] for tensor, _ in (*level.positive, *level.negative))


def fits(lengths: list[tuple[int, ...]]) -> bool:
    """Whether sequences of these lengths stack by repetition within :data:`REPEAT_LIMIT`."""
    return all(math.lcm(*column) // min(column) <= REPEAT_LIMIT for column in zip(*lengths))


def group_levels(plan, default_model, node: str, max_batch: int | None = None) -> list[LevelGroup]:
    """Group a plan's levels by model and batchable conditioning, in level order.

    Args:
        plan: a :class:`~.types.ZoomPlan`.
        default_model: the MODEL for levels the plan does not override.
        node: the node the user placed, for error messages.
        max_batch: at most this many levels per model call (None: no cap).

    Returns:
        Groups covering every sampled level once (the zoom's fixed levels are
        not evaluated); the common case (one model, plain text prompts of one
        length) is a single group of all levels, or chunks of ``max_batch`` levels.
    """
    repeats: dict[int, bool] = {}
    groups: dict[tuple, list[list[int]]] = {}
    sampled = [(index, level) for index, level in enumerate(plan.levels) if level is not None]
    for index, level in sampled:
        model = level.model if level.model is not None else default_model
        for entry in (*level.positive, *level.negative):
            allowed = repeats_tokens(model, entry, node, index)
            repeats[id(model)] = repeats.get(id(model), allowed) and allowed
    for index, level in sampled:
        model = level.model if level.model is not None else default_model
        allowed = repeats[id(model)]
        positive, negative = batch_signature(level.positive, allowed), batch_signature(level.negative, allowed)
        batchable = positive is not None and negative is not None
        key = (id(model), positive, negative) if batchable else (id(model), "alone", index)
        chunks = groups.setdefault(key, [])
        home = next(
            (
                chunk
                for chunk in chunks
                if (max_batch is None or len(chunk) < max_batch)
                and fits([token_lengths(plan.levels[i]) for i in (*chunk, index)])
            ),
            None,
        )
        if home is None:
            chunks.append([index])
        else:
            home.append(index)
    result = []
    for indices in (chunk for chunks in groups.values() for chunk in chunks):
        levels = [plan.levels[i] for i in indices]
        model = levels[0].model if levels[0].model is not None else default_model
        if len(levels) == 1:
            positive, negative = levels[0].positive, levels[0].negative
        else:
            positive = stack_conditioning([level.positive for level in levels])
            negative = stack_conditioning([level.negative for level in levels])
        result.append(LevelGroup(tuple(indices), model, positive, negative))
    return result
