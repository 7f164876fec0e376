"""Depth, fixed levels and loops in a real ComfyUI on the tiny SD1.5 checkpoint.

Extend Zoom (deeper, wider) and Regenerate Zoom Levels hold some levels fixed
while Zoom KSampler samples the rest; a looping zoom wraps around; ``max_batch``
chunks the model calls without changing the result.
"""

import logging

import pytest
import torch
from helpers import kept_above, recording, run_node, seam

PROMPTS = ["a spiral galaxy", "a planet", "a city", "a street", "a face", "an eye"]
SIZE, STEPS = 128, 3


class Zoom:
    """The tiny checkpoint, and Zoom KSampler runs that record every UNet call's batch."""

    def __init__(self, comfy):
        self.comfy = comfy
        self.blending = comfy.pack.blending
        self.model, self.clip, _ = comfy.nodes.CheckpointLoaderSimple().load_checkpoint(comfy.checkpoint_name)
        self.calls: list = []
        self.counting = recording(self.model, self.calls)

    @property
    def rows(self) -> list[int]:
        """The batch of every model call since the last :meth:`sample`."""
        return [len(call.input) for call in self.calls]

    def run(self, node_id, **inputs):
        return run_node(self.comfy, node_id, **inputs)

    def empty(self, levels, zoom_factor=2, loop=False, targets="0.5, 0.5"):
        return self.run(
            "P10_EmptyZoomLatent",
            width=SIZE,
            height=SIZE,
            levels=levels,
            zoom_factor=str(zoom_factor),
            loop=loop,
            targets=targets,
        )

    def plan(self, zoom, prompts):
        text = "\n".join(prompts)
        return self.run("P10_ZoomPrompts", clip=self.clip, zoom=zoom, prompts=text, prefix="", suffix="", negative="")[
            0
        ]

    def sample(self, zoom, latent, prompts, seed=1, max_batch=0, sampler="euler_ancestral", **extra):
        self.calls.clear()
        return self.run(
            "P10_ZoomKSampler",
            model=self.counting,
            zoom_plan=self.plan(zoom, prompts),
            latent_image=latent,
            seed=seed,
            steps=STEPS,
            cfg=7.0,
            sampler_name=sampler,
            scheduler="karras",
            max_batch=max_batch,
            **{"denoise": 1.0} | extra,
        )[0]

    def finished(self, levels, zoom_factor=2):
        latent, zoom = self.empty(levels, zoom_factor)
        return self.sample(zoom, latent, PROMPTS[:levels]), zoom


@pytest.fixture(scope="module")
def zoom(comfy):
    return Zoom(comfy)


def outside(samples, window):
    """Everything of ``samples`` (C, H, W) outside ``window``."""
    mask = torch.ones(samples.shape[-2:], dtype=torch.bool)
    mask[window.rows, window.cols] = False
    return samples[:, mask]


def test_chunked_model_calls_give_the_unchunked_result(zoom):
    latent, spec = zoom.empty(5)
    whole = zoom.sample(spec, latent, PROMPTS[:5])["samples"]
    assert zoom.rows == [10] * STEPS
    chunked = zoom.sample(spec, latent, PROMPTS[:5], max_batch=2)["samples"]
    assert zoom.rows == [4, 4, 2] * STEPS
    # Batches of other sizes round differently in the UNet's convolutions: measured 7e-5 after 3 steps.
    torch.testing.assert_close(chunked, whole, rtol=0, atol=5e-4)


def test_the_films_depth_runs_in_calls_of_the_batch_cap(zoom):
    # 45 levels at zoom factor 8 span 8^45 ~ 10^40, the film's range; benchmarks/bench_depth.py measures its memory.
    latent, spec = zoom.empty(45, zoom_factor=8)
    prompts = [f"scale {level} of a zoom from a galaxy to a cell" for level in range(45)]
    result = zoom.sample(spec, latent, prompts, max_batch=4)["samples"]
    # 45 levels x (cond, uncond) per step, in calls of at most 4 levels.
    assert zoom.rows == ([8] * 11 + [2]) * STEPS
    assert torch.isfinite(result).all()
    assert seam(result, spec.layout, comfy=zoom.comfy) < 1e-4


def test_extending_deeper_samples_only_the_new_levels_and_keeps_the_old(zoom):
    # Zoom factor 4 at 16 latent pixels: a level blends with one coarser level, so only the old deepest takes part.
    finished, spec = zoom.finished(4, zoom_factor=4)
    old = finished["samples"]
    latent, extended = zoom.run("P10_ExtendZoom", latent=finished, zoom=spec, levels=2, direction="deeper")
    assert extended.levels == 6 and extended.fixed == frozenset(range(4))
    result = zoom.sample(extended, latent, PROMPTS[4:6])["samples"]
    # Only the two new levels are evaluated: one call of 2 levels x (cond, uncond) per step.
    assert zoom.rows == [4] * STEPS
    # Each old level is exactly as it was but for the pixels level 4 falls in (a 4 x 4 block of level 3, one
    # pixel of level 2, part of one of levels 0 and 1), where the new levels are pasted in.
    assert kept_above(result, old, extended.layout)
    assert seam(result, 4, comfy=zoom.comfy) < 1e-4
    assert result[4:].std() > 0.1


def test_an_offcentre_zoom_extends_with_each_level_at_its_own_target(zoom):
    # Only levels 3-5 take part, so the sampler steps a 3-level stack: its layout must be those levels' targets.
    latent, spec = zoom.empty(4, zoom_factor=4, targets="0.2, 0.3\n0.8, 0.7\n0.25, 0.75")
    finished = zoom.sample(spec, latent, PROMPTS[:4])
    latent, extended = zoom.run(
        "P10_ExtendZoom", latent=finished, zoom=spec, levels=2, direction="deeper", targets="0.7, 0.2\n0.4, 0.6"
    )
    plan = zoom.plan(extended, PROMPTS[4:6])
    guider = zoom.comfy.pack.nodes.guider.make_zoom_guider(zoom.model, plan, 7.0, "test")
    window = zoom.comfy.pack.sampler.SamplingWindow.around(extended.layout, 16, 16, extended.fixed_mask())
    assert window.levels == range(3, 6)
    step = window.joint_step(guider.step, window.cut(latent["samples"]))
    for level in range(2):
        assert step.layout.child_window(16, 16, level) == extended.layout.child_window(16, 16, 3 + level)
    result = zoom.sample(extended, latent, PROMPTS[4:6])["samples"]
    assert zoom.rows == [4] * STEPS
    assert kept_above(result, finished["samples"], extended.layout)
    assert seam(result, extended.layout, comfy=zoom.comfy) < 1e-4


def test_extending_wider_keeps_every_old_level_exactly(zoom):
    finished, spec = zoom.finished(3)
    latent, extended = zoom.run("P10_ExtendZoom", latent=finished, zoom=spec, levels=2, direction="wider")
    # A line for every level works too: the fixed levels' lines are not used.
    result = zoom.sample(extended, latent, ["a galaxy cluster", "the universe", *PROMPTS[:3]])["samples"]
    assert zoom.rows == [4] * STEPS
    assert torch.equal(result[2:], finished["samples"])
    assert seam(result, 2, comfy=zoom.comfy) < 1e-4


def test_a_photo_on_a_fixed_level_is_refused_naming_the_node(zoom):
    finished, spec = zoom.finished(3)
    regenerate = zoom.run("P10_RegenerateZoomLevels", zoom=spec, first_level=1, last_level=1)[0]
    grounding = zoom.comfy.pack.nodes.types.PhotoGrounding({2: finished["samples"][2]})
    with pytest.raises(ValueError, match="Zoom Photo Grounding: level 2 is fixed"):
        zoom.sample(regenerate, finished, PROMPTS[1:2], grounding=grounding)


def test_regenerating_a_level_with_the_same_seed_and_prompts_gives_it_back(zoom):
    finished, spec = zoom.finished(4)
    old = finished["samples"]
    regenerate = zoom.run("P10_RegenerateZoomLevels", zoom=spec, first_level=1, last_level=1)[0]
    same = zoom.sample(regenerate, finished, PROMPTS[1:2])["samples"]
    assert zoom.rows == [2] * STEPS
    other = zoom.sample(regenerate, finished, PROMPTS[1:2], seed=2)["samples"]
    new_prompt = zoom.sample(regenerate, finished, ["a red desert planet"])["samples"]
    # Levels 2 and 3 are not covered by a sampled finer level: bit-identical; level 0 changes only inside level 1.
    footprint = zoom.blending.ZoomLayout(2).covering_window(SIZE // 8, SIZE // 8, 0, 1)
    for result in (same, other, new_prompt):
        assert torch.equal(result[2:], old[2:])
        assert torch.equal(outside(result[0], footprint), outside(old[0], footprint))
        assert seam(result, 2, comfy=zoom.comfy) < 1e-4

    def distance(result):
        return (result[1] - old[1]).pow(2).mean().sqrt().item()

    logging.getLogger(__name__).info(
        "level 1 moved: %.2f same seed, %.2f other seed, %.2f other prompt (std %.2f)",
        distance(same),
        distance(other),
        distance(new_prompt),
        old[1].std().item(),
    )
    # Measured (root mean square, level 1's std 2.6): 0.14 with the same seed and prompt, 2.08 with another seed,
    # 0.32 with another prompt (the tiny model's prompts move little).
    assert distance(same) < 0.2 * distance(other)
    assert distance(new_prompt) > distance(same)


def test_prompt_counts_and_ranges_are_checked_against_the_zoom(zoom):
    finished, spec = zoom.finished(3)
    latent, extended = zoom.run("P10_ExtendZoom", latent=finished, zoom=spec, levels=2, direction="deeper")
    with pytest.raises(ValueError, match="Zoom Prompts: 3 prompts .* the zoom has 5 levels of which 2 are sampled"):
        zoom.plan(extended, PROMPTS[:3])
    with pytest.raises(ValueError, match=r"Extend Zoom: the latent has 5 levels but the zoom has 3"):
        zoom.run("P10_ExtendZoom", latent=latent, zoom=spec, levels=1, direction="deeper")
    with pytest.raises(ValueError, match=r"Regenerate Zoom Levels: levels 2-3 reach past the zoom's 3 levels"):
        zoom.run("P10_RegenerateZoomLevels", zoom=spec, first_level=2, last_level=3)
    plan = zoom.plan(extended, PROMPTS[3:5])
    with pytest.raises(ValueError, match="Zoom Level Override: levels 1-2 are all fixed"):
        zoom.run("P10_ZoomLevelOverride", zoom_plan=plan, first_level=1, last_level=2, model=zoom.model)
    looping = zoom.empty(3, loop=True)
    with pytest.raises(ValueError, match="Extend Zoom: a looping zoom has no deepest or widest level"):
        zoom.run("P10_ExtendZoom", latent=looping[0], zoom=looping[1], levels=1, direction="deeper")


def test_a_looping_zoom_agrees_around_the_loop_and_its_video_repeats(zoom):
    latent, spec = zoom.empty(4, loop=True)
    result = zoom.sample(spec, latent, ["a galaxy", "a planet", "a cell", "a galaxy in a drop of water"])
    wrap = zoom.blending.overlap_difference(result["samples"], spec.layout)
    assert wrap.shape[0] == 4 and wrap.abs().max() < 1e-4
    images = torch.rand(4, SIZE, SIZE, 3) * 0.2 + torch.linspace(0, 0.8, SIZE)[None, :, None, None]
    views = zoom.run("P10_RenderZoomStack", stack=images, zoom=spec)[0]
    options = dict(width=64, height=0, fps=8.0, seconds_per_level=0.5, easing="linear", direction="in")
    timing = dict(hold_start=0, hold_end=0, first_level=0, last_level=-1)
    frames = zoom.run("P10_ZoomVideoFrames", images=views, zoom=spec, loop=True, **options, **timing)[0]
    assert frames.shape[0] == 4 * 4
    steps = (frames[1:] - frames[:-1]).pow(2).mean(dim=(1, 2, 3))
    restart = (frames[0] - frames[-1]).pow(2).mean()
    # Playing the file again crosses from the last frame to the first like any other pair of frames.
    assert restart < 2 * steps.median()
    open_zoom = zoom.empty(4)[1]
    with pytest.raises(ValueError, match="Zoom Video Frames: loop needs a looping zoom"):
        zoom.run("P10_ZoomVideoFrames", images=views, zoom=open_zoom, loop=True, **options, **timing)


def test_a_hi_res_zoom_refines_an_upscaled_zoom_in_calls_of_the_batch_cap(zoom):
    finished, spec = zoom.finished(4)
    (larger,) = zoom.run("P10_UpscaleZoomLatent", latent=finished, zoom=spec, scale_by="2")
    assert larger["samples"].shape[-2:] == (2 * finished["samples"].shape[-2], 2 * finished["samples"].shape[-1])
    box_downsample = zoom.blending.box_downsample
    torch.testing.assert_close(box_downsample(larger["samples"], 2), finished["samples"], rtol=0, atol=1e-5)
    refined = zoom.sample(spec, larger, PROMPTS[:4], max_batch=2, denoise=0.5)["samples"]
    # Denoise 0.5 of 3 steps: 6 scheduled, the last 3 run, each in calls of 2 levels x (cond, uncond).
    assert zoom.rows == [4, 4] * STEPS
    assert torch.isfinite(refined).all() and seam(refined, spec.layout, comfy=zoom.comfy) < 1e-4
    assert (refined - larger["samples"]).abs().mean() > 0.05 * larger["samples"].abs().mean()
    with pytest.raises(ValueError, match="Upscale Zoom Latent: the latent has 3 levels but the zoom has 4"):
        zoom.run("P10_UpscaleZoomLatent", latent={"samples": finished["samples"][:3]}, zoom=spec, scale_by="4")
