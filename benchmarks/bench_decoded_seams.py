"""Seams where users look: the decoded views of latent models, through the real TAESD, for every path to them.

Two parts, ComfyUI booted in-process with the pack and the tiny test checkpoint:

1. Real photos, where the truth is known. Four scikit-image photos are cut into
   exact 4-level zoom stacks (level i: the central 1/2^i, area-resized) and
   encoded with TAESD; each path then ends as the example workflows do (VAE
   Decode -> Blend Zoom Stack -> Render Zoom Stack). Printed per path: the seam
   ratio at the paste borders relative to the same borders of the photo's own
   views (median and worst over the 48 borders: 4 photos x 3 views x 4 edges),
   and how well the views agree with the photo's own (PSNR).
2. Sampling with the tiny checkpoint (4 levels of 256 px, 20 steps,
   euler_ancestral, Karras), each path's final views: the seam ratio
   (absolute; 1 is seamless) and the time per step.

Paths: encode/decode alone; latent-space consolidation; pixel-space
consolidation through TAESD every step, or only over the last part of the
schedule; each ending with the pack's final step (Blend Zoom Stack, then Render
Zoom Stack, whose ring continues the pasted level) or with the paper's hard
paste instead.

    python benchmarks/bench_decoded_seams.py [--size 256] [--levels 4] [--steps 20] [--threads N]
"""

import argparse
import dataclasses
import statistics
import sys
import time

import torch
from common import REPO_ROOT, boot_comfyui, log, parse_arguments

sys.path.insert(0, str(REPO_ROOT / "tests"))
from helpers import photo_stack, psnr, relative_seams, seam, seam_ratio  # noqa: E402

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="pixels per level side")
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--parts", nargs="*", choices=["photos", "sampling"], default=["photos", "sampling"])
    args = parse_arguments(parser)
    host = boot_comfyui()
    pack = host.pack
    blending = pack.blending
    layout = blending.ZoomLayout(2)
    model, clip, vae = host.nodes.CheckpointLoaderSimple().load_checkpoint(host.checkpoint_name)

    def decode(latents):
        return vae.decode(latents).movedim(-1, 1)

    def encode(images):
        return vae.encode(images.movedim(1, -1))

    def final_step(images, ring):
        """What the examples do after VAE Decode: Blend Zoom Stack, Render Zoom Stack (ring continued or not)."""
        return blending.render_image(
            blending.blend(images, layout), layout, ring_width=blending.RING_WIDTH if ring else 0
        )

    log.info("TAESD on %s, torch %s, %d threads", vae.device, torch.__version__, torch.get_num_threads())
    if "photos" in args.parts:
        photos(args, blending, layout, decode, encode, final_step)
    if "sampling" in args.parts:
        sampling(args, host, model, clip, vae, blending, layout, decode, final_step)


def photos(args, blending, layout, decode, encode, final_step):
    from skimage import data

    log.info("")
    log.info(
        "1. photo stacks, %d levels of %d px: seam ratio relative to the photo's own views, and PSNR",
        args.levels,
        args.size,
    )
    stacks = [photo_stack(getattr(data, name)(), args.levels, args.size) for name in PHOTOS]
    latents = [encode(stack) for stack in stacks]
    paths = {
        "encode/decode alone": lambda z: z,
        "latent-space consolidation": lambda z: blending.consolidate_estimates(z, layout),
        "pixel-space consolidation": lambda z: blending.consolidate_through_codec(z, layout, decode, encode),
    }
    log.info("%-30s %-13s %8s %8s %8s", "path", "final step", "median", "worst", "PSNR")
    for label, path in paths.items():
        for ring in (True, False):
            relative, agreement = [], []
            for stack, z in zip(stacks, latents):
                views = final_step(decode(path(z)).clamp(0, 1), ring)
                relative.append(relative_seams(views, stack, layout))
                agreement.append(psnr(views, stack))
            relative = torch.cat(relative)
            log.info(
                "%-30s %-13s %8.2f %8.2f %8.1f",
                label,
                "pack" if ring else "hard paste",
                relative.median().item(),
                relative.max().item(),
                statistics.mean(agreement),
            )


def sampling(args, host, model, clip, vae, blending, layout, decode, final_step):
    import comfy.samplers

    guider_module = host.pack.nodes.guider
    log.info("")
    log.info(
        "2. sampling the tiny checkpoint: %d levels of %d px, %d steps, euler_ancestral, Karras, cfg 7: seam ratio "
        "of the final views (the pack's final step, or a hard paste), agreement of the raw decoded views before "
        "it (dB), and time per step",
        args.levels,
        args.size,
        args.steps,
    )
    latent, zoom = (
        host.NODE_CLASS_MAPPINGS["P10_EmptyZoomLatent"]
        .execute(width=args.size, height=args.size, levels=args.levels, zoom_factor="2")
        .result
    )
    prompts = "\n".join(f"level {i} of a zoom" for i in range(args.levels))
    plan = (
        host.NODE_CLASS_MAPPINGS["P10_ZoomPrompts"]
        .execute(clip=clip, zoom=zoom, prompts=prompts, prefix="", suffix="", negative="blurry")
        .result[0]
    )
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "karras", args.steps)
    noise = torch.randn(latent["samples"].shape, generator=torch.Generator().manual_seed(3))
    paths = {
        "latent-space consolidation": ({}, None),
        "pixel-space, every step": ({"vae": vae, "pixel_start_percent": 0.0}, 0.0),
        "pixel-space, every step, skip < 1/255": ({"vae": vae, "pixel_start_percent": 0.0}, 1 / 255),
        "pixel-space, last 30% (0.7-1)": ({"vae": vae, "pixel_start_percent": 0.7}, 0.0),
        "pixel-space, last 30%, skip < 1/255 (the default)": ({"vae": vae, "pixel_start_percent": 0.7}, 1 / 255),
        "pixel-space, last 10% (0.9-1)": ({"vae": vae, "pixel_start_percent": 0.9}, 0.0),
        "pixel-space, last 10%, skip < 1/255": ({"vae": vae, "pixel_start_percent": 0.9}, 1 / 255),
    }
    log.info("%-50s %10s %10s %10s %12s", "path", "pack final", "hard paste", "raw dB", "s per step")
    for label, (extra, tolerance) in paths.items():
        guider = guider_module.make_zoom_guider(model, plan, 7.0, "benchmark", **extra)
        if tolerance is not None:
            space = dataclasses.replace(guider.step.pixel_space, tolerance=tolerance)
            guider.step = dataclasses.replace(guider.step, pixel_space=space)
        start = time.perf_counter()
        samples = guider.sample(
            noise,
            latent["samples"],
            comfy.samplers.sampler_object("euler_ancestral"),
            sigmas,
            disable_pbar=True,
            seed=3,
        )
        per_step = (time.perf_counter() - start) / args.steps
        images = decode(samples).clamp(0, 1)
        agreement = seam(images, layout, measure="db")
        log.info(
            "%-50s %10.2f %10.2f %10.1f %12.2f",
            label,
            seam_ratio(final_step(images, True), layout),
            seam_ratio(final_step(images, False), layout),
            agreement,
            per_step,
        )
    # Seams are measured at the footprint's border, a multiple of 8 px: TAESD's own texture there, nothing pasted.
    log.info("%-50s %10.2f", "reference: decoded levels, nothing pasted", seam_ratio(images, layout))


if __name__ == "__main__":
    # As in ComfyUI's executor: outside it, the VAE would record autograd graphs across passes.
    with torch.inference_mode():
        main()
