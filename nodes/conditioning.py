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


@dataclass(frozen=True)
class Probe:
    """What the model's own conditioning path does with one kind of conditioning entry.

    Attributes:
        repeats: the text is cross-attention, where repeating a token sequence
            to stack it with a longer one is exact.
        stacks: the values the model derives for a whole call (ComfyUI's
            ``CONDConstant``) are the same for the entry stacked with another as
            for the entry alone. Lumina 2 and Z-Image count the text tokens of the
            call's attention mask (``num_tokens``), which stacking two rows doubles,
            so such levels run in calls of their own.
    """

    repeats: bool
    stacks: bool


INEXACT = Probe(repeats=False, stacks=False)
"""For a conditioning the probe cannot build: one call per level, exact for any model."""


def probe_conditioning(model_patcher, entry, node: str, level: int) -> Probe:
    """Ask the model's conditioning path (``extra_conds``) how one of the level's entries batches.

    A cross-attention UNet wraps the text as ``CONDCrossAttn``, which ComfyUI
    itself pads by repetition; joint-attention models (SD3, Flux, Qwen-Image)
    wrap it as a plain ``CONDRegular``, whose text tokens attend with the image
    tokens, so a repeated sequence weighs more and lengths must match. The
    entry is also probed stacked with itself, which must leave every per-call
    constant as it is (:class:`Probe`).

    Raises:
        ValueError: naming ``node`` and the level when the conditioning lacks a
            ``pooled_output`` the model needs (SDXL, SD3, Flux), instead of a
            KeyError from deep inside ComfyUI.
    """
    import comfy.conds

    tensor, options = entry
    channels = model_patcher.get_model_object("latent_format").latent_channels

    def conds(rows: int) -> dict:
        stacked = {
            key: torch.cat([value] * rows) if isinstance(value, torch.Tensor) else value
            for key, value in options.items()
        }
        noise = tensor.new_zeros(rows, channels, 8, 8)
        probe = {**stacked, "cross_attn": torch.cat([tensor] * rows), "device": tensor.device, "noise": noise}
        return model_patcher.model.extra_conds(**probe)

    def constants(found: dict) -> dict:
        return {key: cond.cond for key, cond in found.items() if isinstance(cond, comfy.conds.CONDConstant)}

    try:
        alone = conds(1)
    except KeyError as error:
        if error.args == ("pooled_output",):
            family = type(model_patcher.model).__name__
            raise ValueError(
                f"{node}: level {level}'s conditioning has no pooled_output, which {family} models need; encode it "
                "with CLIP Text Encode (or a node that keeps pooled_output)"
            ) from None
        return INEXACT
    except Exception:  # a conditioning this probe cannot build: keep to what is exact for any model
        return INEXACT
    try:
        stacks = constants(conds(2)) == constants(alone)
    except Exception:
        stacks = False
    return Probe(repeats=isinstance(alone.get("c_crossattn"), comfy.conds.CONDCrossAttn), stacks=stacks)


def batch_signature(conditioning: list, repeats: bool) -> tuple | None:
    """What must match for two levels' CONDITIONINGs to stack into one batch, or None if it cannot stack.

    Tensors must be single-row, and have the same token count unless ``repeats``
    (see :func:`probe_conditioning`); other options must be the same object or an
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


def probe_key(entry) -> tuple:
    """What :func:`probe_conditioning` can tell apart in one conditioning entry: its tensor's layout and which options
    it carries, of which types. Entries alike in these give the same answer, so one probe serves them all."""
    tensor, options = entry
    carried = tuple(
        sorted(
            (key, type(value).__name__, tuple(value.shape) if isinstance(value, torch.Tensor) else None)
            for key, value in options.items()
        )
    )
    return tuple(tensor.shape[2:]), tensor.dtype, tensor.device, carried


class Chunk:
    """Levels of one model call in the making, with what the next level's lengths must fit (:data:`REPEAT_LIMIT`).

    Per token-sequence column it keeps the lengths' least common multiple and
    the shortest: adding a level then costs one step per column, however many
    levels the chunk holds.
    """

    def __init__(self, index: int, lengths: tuple[int, ...]):
        self.indices = [index]
        self.lcms, self.mins = list(lengths), list(lengths)

    def takes(self, lengths: tuple[int, ...]) -> bool:
        return all(
            math.lcm(lcm, length) // min(shortest, length) <= REPEAT_LIMIT
            for lcm, shortest, length in zip(self.lcms, self.mins, lengths)
        )

    def add(self, index: int, lengths: tuple[int, ...]) -> None:
        self.indices.append(index)
        self.lcms = [math.lcm(lcm, length) for lcm, length in zip(self.lcms, lengths)]
        self.mins = [min(shortest, length) for shortest, length in zip(self.mins, lengths)]


def group_levels(plan, default_model, node: str, max_batch: int | None = None) -> list[LevelGroup]:
    """Group a plan's levels by model and batchable conditioning, in level order.

    Each level goes into the first chunk of its model and signature that has
    room (``max_batch``) and whose token lengths it fits, else starts a chunk.
    Linear in the levels: the model's conditioning is probed once per model and
    kind of entry (:func:`probe_key`), chunks keep their lengths' summary
    (:class:`Chunk`), and only chunks with room are looked at.

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
    probes: dict[tuple, Probe] = {}
    repeats: dict[int, bool] = {}
    stacks: dict[int, bool] = {}
    sampled = [(index, level) for index, level in enumerate(plan.levels) if level is not None]
    for index, level in sampled:
        model = level.model if level.model is not None else default_model
        stacks[index] = True
        for entry in (*level.positive, *level.negative):
            key = (id(model), probe_key(entry))
            if key not in probes:
                probes[key] = probe_conditioning(model, entry, node, index)
            repeats[id(model)] = repeats.get(id(model), True) and probes[key].repeats
            stacks[index] = stacks[index] and probes[key].stacks
    chunks: dict[tuple, list[Chunk]] = {}
    open_chunks: dict[tuple, list[Chunk]] = {}
    for index, level in sampled:
        model = level.model if level.model is not None else default_model
        allowed = repeats[id(model)]
        positive, negative = batch_signature(level.positive, allowed), batch_signature(level.negative, allowed)
        batchable = stacks[index] and positive is not None and negative is not None
        key = (id(model), positive, negative) if batchable else (id(model), "alone", index)
        lengths = token_lengths(level)
        candidates = open_chunks.setdefault(key, [])
        home = next((chunk for chunk in candidates if chunk.takes(lengths)), None)
        if home is None:
            home = Chunk(index, lengths)
            chunks.setdefault(key, []).append(home)
            candidates.append(home)
        else:
            home.add(index, lengths)
        if max_batch is not None and len(home.indices) >= max_batch:
            candidates.remove(home)
    result = []
    for indices in (chunk.indices for keyed in chunks.values() for chunk in keyed):
        levels = [plan.levels[i] for i in indices]
        model = levels[0].model if levels[0].model is not None else default_model
        if len(levels) == 1:
            positive, negative = levels[0].positive, levels[0].negative
        else:
            positive = stack_conditioning([level.positive for level in levels])
            negative = stack_conditioning([level.negative for level in levels])
        result.append(LevelGroup(tuple(indices), model, positive, negative))
    return result
