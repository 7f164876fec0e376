"""Batching per-level CONDITIONING so that levels sharing a model run in one model call."""

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


def batch_signature(conditioning: list) -> tuple | None:
    """What must match for two levels' CONDITIONINGs to stack into one batch, or None if it cannot stack.

    Tensors must be single-row; other options must be the same object or an
    equal hashable value. ControlNets, hooks and masks applied to one level
    are distinct objects, so such a level gets a model call of its own and its
    control applies to it alone.
    """
    signature = []
    for tensor, options in conditioning:
        if tensor.shape[0] != 1:
            return None
        items = [tuple(tensor.shape[2:])]
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
    their least common multiple, which leaves attention unchanged (ComfyUI's
    own ``CONDCrossAttn.concat`` pads the same way).
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


def group_levels(plan, default_model) -> list[LevelGroup]:
    """Group a plan's levels by model and batchable conditioning, in level order.

    Args:
        plan: a :class:`~.types.ZoomPlan`.
        default_model: the MODEL for levels the plan does not override.

    Returns:
        Groups covering every level once; the common case (one model, plain
        text prompts) is a single group of all levels.
    """
    groups: dict[tuple, list[int]] = {}
    for index, level in enumerate(plan.levels):
        model = level.model if level.model is not None else default_model
        positive, negative = batch_signature(level.positive), batch_signature(level.negative)
        batchable = positive is not None and negative is not None
        key = (id(model), positive, negative) if batchable else (id(model), "alone", index)
        groups.setdefault(key, []).append(index)
    result = []
    for indices in groups.values():
        levels = [plan.levels[i] for i in indices]
        model = levels[0].model if levels[0].model is not None else default_model
        if len(levels) == 1:
            positive, negative = levels[0].positive, levels[0].negative
        else:
            positive = stack_conditioning([level.positive for level in levels])
            negative = stack_conditioning([level.negative for level in levels])
        result.append(LevelGroup(tuple(indices), model, positive, negative))
    return result
