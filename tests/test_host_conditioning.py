"""Grouping levels into model calls (nodes/conditioning.py) on the tiny SD1.5 checkpoint's own conditioning path."""

import math

import pytest
import torch


@pytest.fixture(scope="module")
def model(comfy):
    return comfy.nodes.CheckpointLoaderSimple().load_checkpoint(comfy.checkpoint_name)[0]


def text(length: int) -> list:
    return [[torch.zeros(1, length, 768), {}]]


def plan_of(comfy, lengths, models=None, fixed=()):
    """A plan whose level ``i`` has positive and negative text of ``lengths[i]`` tokens (None: fixed)."""
    types = comfy.pack.nodes.types
    zoom = types.ZoomSpec(len(lengths), comfy.pack.blending.ZoomLayout(2), frozenset(fixed))
    levels = tuple(
        None
        if index in fixed
        else types.LevelConditioning(text(length), text(length), None if models is None else models[index])
        for index, length in enumerate(lengths)
    )
    return types.ZoomPlan(zoom, levels)


def check_first_fit(groups, lengths, max_batch, limit):
    """Every sampled level in one group, in level order, each group within the repeat limit and ``max_batch``;
    and each group's first level fitted no earlier group of its model when it was placed (greedy first fit)."""
    placed = sorted(level for group in groups for level in group.levels)
    assert placed == sorted(set(placed)), "a level in two groups"

    def fits(levels):
        return math.lcm(*(lengths[i] for i in levels)) // min(lengths[i] for i in levels) <= limit

    for number, group in enumerate(groups):
        assert list(group.levels) == sorted(group.levels)
        assert fits(group.levels) and (max_batch is None or len(group.levels) <= max_batch)
        first = group.levels[0]
        for earlier in groups[:number]:
            before = [level for level in earlier.levels if level < first]
            if earlier.model is group.model and before:
                room = max_batch is None or len(before) < max_batch
                assert not (room and fits([*before, first])), f"level {first} fits group {earlier.levels}"
    return placed


@pytest.mark.parametrize("max_batch", [None, 1, 3])
def test_levels_group_first_fit_within_the_repeat_limit_and_max_batch(comfy, model, max_batch):
    conditioning = comfy.pack.nodes.conditioning
    # 77 and 154 stack (lcm 154), 77 and 385 do not (5 repeats), 154 and 385 neither (lcm 770, 10).
    lengths = [77, 154, 385, 77, 231, 385, 154, 77, 308, 77, 385, 231]
    plan = plan_of(comfy, lengths, fixed={4})
    groups = conditioning.group_levels(plan, model, "test", max_batch)
    placed = check_first_fit(groups, lengths, max_batch, conditioning.REPEAT_LIMIT)
    assert placed == [level for level in range(len(lengths)) if level != 4]
    assert max_batch == 1 or len(groups) < len(placed), "some levels share a call"


def test_override_models_group_apart(comfy, model):
    conditioning = comfy.pack.nodes.conditioning
    other = model.clone()
    lengths = [77] * 6
    models = [None, other, None, other, None, None]
    groups = conditioning.group_levels(plan_of(comfy, lengths, models), model, "test")
    assert [(group.levels, group.model is other) for group in groups] == [((0, 2, 4, 5), False), ((1, 3), True)]


def test_grouping_probes_the_model_once_per_kind_of_entry(comfy, model, monkeypatch):
    conditioning = comfy.pack.nodes.conditioning
    probes = []
    extra_conds = model.model.extra_conds

    def counted(**kwargs):
        probes.append(kwargs["cross_attn"].shape)
        return extra_conds(**kwargs)

    monkeypatch.setattr(model.model, "extra_conds", counted)
    lengths = [77, 154] * 512
    groups = conditioning.group_levels(plan_of(comfy, lengths), model, "test")
    # One kind of entry (text of 768 channels, no options): one probe for 1024 levels (the entry alone and stacked
    # with itself), and one call.
    assert [tuple(shape) for shape in probes] == [(1, 77, 768), (2, 77, 768)]
    assert [len(group.levels) for group in groups] == [1024]
