"""Zoom KSampler against core KSampler on the same batch: the joint process should add blending, not model calls.

Boots ComfyUI in-process (``COMFYUI_PATH`` or ``../ComfyUI``) on the tiny
SD1.5 test checkpoint and times, alternating the two in one process, a Zoom
KSampler over N levels and a plain KSampler over a batch of N latents with
the same settings. Prints both medians, their ratio (target: at most 1.05) and the ratio of the
fastest runs, which shared-machine noise disturbs least.

    python benchmarks/bench_zoom_ksampler.py [--levels 6] [--size 128] [--steps 10] [--repeats 8] [--threads N]
"""

import argparse
import statistics
import time

from common import boot_comfyui, log, parse_arguments


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=6)
    parser.add_argument("--size", type=int, default=128, help="pixels per level side")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=8)
    args = parse_arguments(parser)
    host = boot_comfyui()
    mappings, core = host.NODE_CLASS_MAPPINGS, host.nodes
    model, clip, _ = core.CheckpointLoaderSimple().load_checkpoint(host.checkpoint_name)
    latent, zoom = (
        mappings["P10_EmptyZoomLatent"]
        .execute(width=args.size, height=args.size, levels=args.levels, zoom_factor="2")
        .result
    )
    prompts = "\n".join(f"level {i} of a zoom" for i in range(args.levels))
    plan = (
        mappings["P10_ZoomPrompts"]
        .execute(clip=clip, zoom=zoom, prompts=prompts, prefix="", suffix="", negative="blurry")
        .result[0]
    )
    positive = core.CLIPTextEncode().encode(clip, "level 0 of a zoom")[0]
    negative = core.CLIPTextEncode().encode(clip, "blurry")[0]
    settings = dict(seed=0, steps=args.steps, cfg=7.0, sampler_name="euler_ancestral", scheduler="normal")

    def zoom_ksampler():
        mappings["P10_ZoomKSampler"].execute(model=model, zoom_plan=plan, latent_image=latent, denoise=1.0, **settings)

    def plain_ksampler():
        core.common_ksampler(model, positive=positive, negative=negative, latent=latent, denoise=1.0, **settings)

    runs = [("plain", plain_ksampler), ("zoom", zoom_ksampler)]
    zoom_ksampler(), plain_ksampler()  # warm-up: model loading, allocator
    times = {"zoom": [], "plain": []}
    for repeat in range(args.repeats):
        # Alternate which goes first, so drift on a shared machine hits both alike.
        for label, run in runs if repeat % 2 == 0 else runs[::-1]:
            start = time.perf_counter()
            run()
            times[label].append(time.perf_counter() - start)
    zoom_median, plain_median = (statistics.median(times[k]) for k in ("zoom", "plain"))
    log.info(
        "%d levels of %dx%d px (%dx%d latents), %d steps, euler_ancestral, cfg 7, median of %d runs:",
        args.levels,
        args.size,
        args.size,
        args.size // 8,
        args.size // 8,
        args.steps,
        args.repeats,
    )
    log.info("  KSampler, batch of %d: %.3f s", args.levels, plain_median)
    log.info("  Zoom KSampler, %d levels: %.3f s", args.levels, zoom_median)
    log.info("  ratio Zoom / plain: %.3f (target <= 1.05)", zoom_median / plain_median)
    # The fastest run of each is the least disturbed by other work on a shared machine.
    log.info("  ratio of the fastest runs: %.3f", min(times["zoom"]) / min(times["plain"]))


if __name__ == "__main__":
    main()
