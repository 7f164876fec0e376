"""The nodes in a real ComfyUI on the tiny SD1.5 checkpoint: registration, per-level prompts, overrides, errors."""

import pytest
import torch
from helpers import recording, run_node, validation_messages

NODE_IDS = {
    "P10_EmptyZoomLatent",
    "P10_ZoomPrompts",
    "P10_ZoomLevelOverride",
    "P10_ZoomFluxGuidance",
    "P10_ZoomPhotoGrounding",
    "P10_ZoomGuider",
    "P10_ZoomKSampler",
    "P10_BlendZoomStack",
    "P10_RenderZoomStack",
    "P10_ZoomViews",
    "P10_UpscaleZoomLatent",
    "P10_ZoomVideoFrames",
    "P10_SaveZoomVideo",
    "P10_ZoomBeats",
    "P10_ExtendZoom",
    "P10_RegenerateZoomLevels",
}
PROMPTS = "a spiral galaxy\na planet\na city\na street"


def test_every_node_registers_without_import_errors(comfy):
    assert set(comfy.pack_node_ids()) == NODE_IDS
    assert comfy.custom_import_failures == []
    assert "Traceback" not in comfy.pack_log()
    for node_id in NODE_IDS:
        schema = comfy.NODE_CLASS_MAPPINGS[node_id].GET_SCHEMA()
        assert schema.description, f"{node_id} has no description"
        assert schema.category == "powers_of_ten"


class Pack:
    """The pack's nodes and guider as ComfyUI loaded them, and the tiny checkpoint."""

    def __init__(self, comfy):
        self.comfy = comfy
        self.guider = comfy.pack.nodes.guider
        self.core = comfy.nodes
        self.model, self.clip, self.vae = comfy.nodes.CheckpointLoaderSimple().load_checkpoint(comfy.checkpoint_name)

    def run(self, node_id, **inputs):
        return run_node(self.comfy, node_id, **inputs)

    def zoom(self, levels=4, size=128):
        return self.run("P10_EmptyZoomLatent", width=size, height=size, levels=levels, zoom_factor="2")

    def plan(self, zoom, prompts=PROMPTS):
        return self.run(
            "P10_ZoomPrompts", clip=self.clip, zoom=zoom, prompts=prompts, prefix="", suffix="", negative="blurry"
        )[0]


@pytest.fixture(scope="module")
def pack(comfy):
    return Pack(comfy)


def sample(pack, model, plan, latent, steps=2, sampler="euler_ancestral", seed=3, zoom=True):
    """Sample with the Zoom guider, or (``zoom=False``) with core's CFGGuider on level 0's prompt."""
    import comfy.samplers

    noise = torch.randn(latent["samples"].shape, generator=torch.Generator().manual_seed(seed))
    sigmas = comfy.samplers.KSampler(model, steps=steps, device="cpu", sampler=sampler, scheduler="normal").sigmas
    if zoom:
        guider = pack.guider.ZoomGuider(model, plan, 7.0, node="Zoom Guider")
    else:
        guider = comfy.samplers.CFGGuider(model)
        guider.set_conds(plan.levels[0].positive, plan.levels[0].negative)
        guider.set_cfg(7.0)
    return guider.sample(noise, latent["samples"], comfy.samplers.sampler_object(sampler), sigmas, seed=seed)


def test_a_levels_prompt_changes_that_levels_raw_estimate_first(pack):
    latent, zoom = pack.zoom()
    runs = []
    for prompts in (PROMPTS, PROMPTS.replace("a street", "a red sports car")):
        calls = []
        result = sample(pack, recording(pack.model, calls), pack.plan(zoom, prompts), latent, steps=1)
        runs.append((calls[0], result))
    (first_call, first_result), (second_call, second_result) = runs
    assert len(first_call.output) == 8, "all 4 levels, conditional and unconditional, in one model call"
    change = (first_call.conditional() - second_call.conditional()).flatten(1).abs().amax(dim=1)
    assert change[3] > 1e-3
    assert torch.all(change[:3] < 1e-6), change
    # Blending and rendering then carry the change into the coarser levels' views.
    assert (first_result[2] - second_result[2]).abs().max() > 1e-4


def test_override_model_drives_only_its_levels(pack, comfy):
    latent, zoom = pack.zoom()
    plan = pack.plan(zoom)
    lora_name = "tiny_sd15_lora.safetensors"
    outputs = {}
    for label, strength in (("lora", 1.0), ("plain", 0.0)):
        base_calls, override_calls = [], []
        base = recording(pack.model, base_calls)
        override = pack.core.LoraLoader().load_lora(pack.model, pack.clip, lora_name, strength, 0.0)[0]
        override = recording(override, override_calls)
        overridden = pack.run("P10_ZoomLevelOverride", zoom_plan=plan, first_level=2, last_level=3, model=override)[0]
        sample(pack, base, overridden, latent, steps=1)
        assert [len(call.input) for call in base_calls] == [4], "levels 0-1, conditional and unconditional"
        assert [len(call.input) for call in override_calls] == [4], "levels 2-3, conditional and unconditional"
        outputs[label] = (base_calls[0].conditional(), override_calls[0].conditional())
    torch.testing.assert_close(outputs["lora"][0], outputs["plain"][0], rtol=0, atol=1e-6)
    assert (outputs["lora"][1] - outputs["plain"][1]).abs().max() > 1e-3, "the LoRA's weights drove levels 2-3"


def test_separately_loaded_identical_model_gives_the_same_stack(pack, comfy):
    latent, zoom = pack.zoom()
    plan = pack.plan(zoom)
    other = comfy.nodes.CheckpointLoaderSimple().load_checkpoint(comfy.checkpoint_name)[0]
    overridden = pack.run("P10_ZoomLevelOverride", zoom_plan=plan, first_level=1, last_level=2, model=other)[0]
    reference = sample(pack, pack.model, plan, latent)
    torch.testing.assert_close(sample(pack, pack.model, overridden, latent), reference, rtol=1e-4, atol=1e-4)


def api(*nodes):
    """An API prompt from ``(class_type, inputs)`` pairs numbered from "1"."""
    return {str(i): {"class_type": kind, "inputs": inputs} for i, (kind, inputs) in enumerate(nodes, 1)}


def zoom_graph(comfy, *, width=128, prompts=PROMPTS, clip=True, latent=None):
    """Checkpoint, Empty Zoom Latent, Zoom Prompts, Zoom KSampler and a preview of its latents."""
    prompt_inputs = {"zoom": ["2", 1], "prompts": prompts, "prefix": "", "suffix": "", "negative": "x"}
    if clip:
        prompt_inputs["clip"] = ["1", 1]
    return api(
        ("CheckpointLoaderSimple", {"ckpt_name": comfy.checkpoint_name}),
        ("P10_EmptyZoomLatent", {"width": width, "height": 128, "levels": 4, "zoom_factor": "2"}),
        ("P10_ZoomPrompts", prompt_inputs),
        (
            "P10_ZoomKSampler",
            {
                "model": ["1", 0],
                "zoom_plan": ["3", 0],
                "latent_image": latent or ["2", 0],
                "seed": 0,
                "steps": 1,
                "cfg": 7.0,
                "sampler_name": "euler_ancestral",
                "scheduler": "normal",
                "denoise": 1.0,
            },
        ),
        ("VAEDecode", {"samples": ["4", 0], "vae": ["1", 2]}),
        ("PreviewImage", {"images": ["5", 0]}),
    )


def test_level_count_mismatch_names_both_numbers(comfy):
    result = comfy.execute(zoom_graph(comfy, prompts="a\nb\n\nc\nd\ne"))
    assert not result.success
    assert result.execution_error["exception_type"].endswith("ValueError")
    assert (
        "Zoom Prompts: prompts (one per non-blank line) has 5 levels but the zoom has 4"
        in (result.execution_error["exception_message"])
    )


def test_latent_too_small_fails_validation(comfy):
    result = comfy.execute(zoom_graph(comfy, width=48))
    assert result.validation_error is not None, "nothing may run"
    assert "Empty Zoom Latent: width 48 px is not a multiple of 32 px" in validation_messages(result)


def test_missing_clip_fails_validation(comfy):
    result = comfy.execute(zoom_graph(comfy, clip=False))
    assert result.validation_error is not None
    assert "Required input is missing: clip" in validation_messages(result)


def test_latent_batch_mismatch_names_both_numbers(comfy):
    graph = zoom_graph(comfy, latent=["7", 0])
    graph["7"] = {"class_type": "EmptyLatentImage", "inputs": {"width": 128, "height": 128, "batch_size": 3}}
    result = comfy.execute(graph)
    assert (
        "Zoom KSampler: the latent holds 3 images of shape (4, 16, 16), but the zoom plan has 4 levels"
        in (result.execution_error["exception_message"])
    )


def conditional_estimates_by_level(calls, noise):
    """Each level's conditional UNet output from a first step, wherever its group put it.

    At the first step every level's input is its own initial noise, scaled, so the
    level of a row is the noise it is proportional to.
    """
    flat_noise = torch.nn.functional.normalize(noise.flatten(1), dim=1)
    by_level = {}
    for call in calls:
        rows_per_chunk = len(call.input) // len(call.cond_or_uncond)
        for row in range(len(call.input)):
            if call.cond_or_uncond[row // rows_per_chunk] == 0:
                direction = torch.nn.functional.normalize(call.input[row].flatten().float(), dim=0)
                by_level[int((flat_noise @ direction).argmax())] = call.output[row]
    return by_level


def first_step_change_by_level(pack, latent, plan, changed_plan):
    """How much each level's conditional UNet output at the first step differs between two plans."""
    noise = torch.randn(latent["samples"].shape, generator=torch.Generator().manual_seed(3))
    estimates = []
    for chosen in (plan, changed_plan):
        calls = []
        sample(pack, recording(pack.model, calls), chosen, latent, steps=1)
        estimates.append(conditional_estimates_by_level(calls, noise))
    assert sorted(estimates[0]) == sorted(estimates[1]) == list(range(len(plan.levels)))
    return [(estimates[0][i] - estimates[1][i]).abs().max().item() for i in range(len(plan.levels))]


def test_hook_lora_on_one_levels_conditioning_acts_on_that_level_only(pack):
    import comfy_extras.nodes_hooks as hooks_nodes

    latent, zoom = pack.zoom()
    plan = pack.plan(zoom)
    hooks = hooks_nodes.CreateHookLora().create_hook("tiny_sd15_lora.safetensors", 1.0, 0.0)[0]
    hooked = hooks_nodes.SetModelHooksOnCond().attach_hook(plan.levels[2].positive, hooks)[0]
    overridden = pack.run("P10_ZoomLevelOverride", zoom_plan=plan, first_level=2, last_level=2, positive=hooked)[0]
    change = first_step_change_by_level(pack, latent, plan, overridden)
    assert change[2] > 0.1
    # The other levels now run as a batch of 3 rather than 4: float rounding only.
    assert max(change[:2] + change[3:]) < 1e-4, change


def test_controlnet_on_one_levels_conditioning_acts_on_that_level_only(pack):
    import comfy.controlnet
    import node_helpers

    class ConstantControl(comfy.controlnet.ControlBase):
        """A stand-in ControlNet: fixed random residuals on the UNet's skip connections, through ComfyUI's control path.

        Random rather than constant: the tiny model reads each latent channel as the
        difference of two hidden channels, which a constant would leave unchanged.
        """

        def get_control(self, x_noisy, t, cond, batched_number, transformer_options):
            generator = torch.Generator().manual_seed(0)
            residual = torch.randn((1, 320, *x_noisy.shape[2:]), generator=generator).expand(len(x_noisy), -1, -1, -1)
            return {"input": [], "middle": [], "output": [residual.to(x_noisy.dtype), residual.to(x_noisy.dtype)]}

        def copy(self):
            control = ConstantControl()
            self.copy_to(control)
            return control

    latent, zoom = pack.zoom()
    plan = pack.plan(zoom)
    controlled = node_helpers.conditioning_set_values(
        plan.levels[1].positive, {"control": ConstantControl(), "control_apply_to_uncond": False}
    )
    overridden = pack.run("P10_ZoomLevelOverride", zoom_plan=plan, first_level=1, last_level=1, positive=controlled)[0]
    change = first_step_change_by_level(pack, latent, plan, overridden)
    assert change[1] > 0.1
    assert max(change[:1] + change[2:]) < 1e-4, change


def test_every_input_has_a_tooltip_and_every_node_a_description(comfy):
    for node_id in comfy.pack_node_ids():
        schema = comfy.NODE_CLASS_MAPPINGS[node_id].GET_SCHEMA()
        assert len(schema.description) > 40, f"{node_id} needs a description written for users"
        missing = [item.id for item in schema.inputs if not item.tooltip]
        assert not missing, f"{node_id}: inputs without a tooltip: {missing}"


def test_override_last_level_minus_one_reaches_the_deepest_level(pack):
    _, zoom = pack.zoom()
    plan = pack.plan(zoom)
    marker = pack.core.CLIPTextEncode().encode(pack.clip, "a marker")[0]
    overridden = pack.run("P10_ZoomLevelOverride", zoom_plan=plan, first_level=2, last_level=-1, positive=marker)[0]
    assert [level.positive is marker for level in overridden.levels] == [False, False, True, True]
    with pytest.raises(ValueError, match=r"Zoom Level Override: levels 4-3 reach past the zoom's 4 levels \(0-3\)"):
        pack.run("P10_ZoomLevelOverride", zoom_plan=plan, first_level=4, last_level=-1, positive=marker)
