"""Latent-space against pixel-space consolidation, on real photos with the real TAESD.

For each of four scikit-image photos, cuts a perfectly consistent zoom stack
(level i: the central 1/2^i of the photo, area-resized), encodes every level
with TAESD (SD1.x latent space), and prints how well the decoded views agree
(each level's centre against its finer neighbour box-shrunk, PSNR in dB):
as encoded, after latent-space consolidation (blend + render the latents),
and after pixel-space consolidation (decode, blend + render, encode only the
change) once and five times, as over sampling steps. Then prints the cost of
one step of each mode. Boots ComfyUI in-process to load TAESD with its own
VAE loader.

    python benchmarks/bench_pixel_consolidation.py [--levels 4] [--size 256] [--repeats 3]
"""

import argparse
import logging
import math
import statistics
import time

import torch
from common import boot_comfyui

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
log = logging.getLogger("powers_of_ten.benchmarks")


def photo_stack(array, levels, size, box_downsample):
    """Level i: the central 1/2^i of the photo's centre square, area-resized to size x size."""
    image = torch.from_numpy(array).float().div(255).movedim(-1, 0)[None]
    side = min(image.shape[-2:])
    top, left = (image.shape[-2] - side) // 2, (image.shape[-1] - side) // 2
    full = size * 2 ** (levels - 1)
    image = torch.nn.functional.interpolate(image[..., top : top + side, left : left + side], (full, full), mode="area")
    crops = []
    for level in range(levels):
        crop = full // 2**level
        offset = (full - crop) // 2
        crops.append(box_downsample(image[..., offset : offset + crop, offset : offset + crop], crop // size))
    return torch.cat(crops)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--size", type=int, default=256, help="pixels per level side")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    log.setLevel(logging.INFO)
    host = boot_comfyui()
    from skimage import data

    pack = host.pack
    blending = pack.blending
    vae = host.nodes.VAELoader().load_vae("taesd")[0]

    def decode(latents):
        return vae.decode(latents).movedim(-1, 1)

    def encode(images):
        return vae.encode(images.movedim(1, -1))

    def consistency_db(views):
        return 10 * math.log10(1 / blending.overlap_difference(views, 2).pow(2).mean().item())

    def pixel_step(latents):
        return blending.consolidate_through_codec(latents, 2, decode, encode)

    def latent_step(latents):
        return blending.consolidate_estimates(latents, 2)

    log.info(
        "%d levels of %d px, TAESD on %s; view consistency in dB (higher: views agree better):",
        args.levels,
        args.size,
        vae.device,
    )
    log.info("%-10s %8s %8s %8s %9s", "photo", "encoded", "latent", "pixel", "pixel x5")
    for name in PHOTOS:
        latents = encode(photo_stack(getattr(data, name)(), args.levels, args.size, blending.box_downsample))
        repeated = latents
        for _ in range(5):
            repeated = pixel_step(repeated)
        log.info(
            "%-10s %8.1f %8.1f %8.1f %9.1f",
            name,
            consistency_db(decode(latents)),
            consistency_db(decode(latent_step(latents))),
            consistency_db(decode(pixel_step(latents))),
            consistency_db(decode(repeated)),
        )

    for label, step in (("latent", latent_step), ("pixel", pixel_step)):
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            step(latents)
            times.append(time.perf_counter() - start)
        log.info("cost of one %s-space consolidation step: median %.1f ms", label, 1e3 * statistics.median(times))


if __name__ == "__main__":
    # As in ComfyUI's executor: outside it, the VAE would record autograd graphs across passes.
    with torch.inference_mode():
        main()
