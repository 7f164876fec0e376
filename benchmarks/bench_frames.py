"""Time continuous zoom frame rendering: frames per second of ``iter_zoom_frames``.

Prints the median rendering rate (frames per second, over repeats of a zoom
through the whole stack) for

- 512 x 512 frames from an 8-level 512 x 512 RGB stack (the target is >= 25 fps on CPU),
- 1280 x 720 frames from a 6-level 1280 x 720 stack,
- 1280 x 720 frames from a 6-level 640 x 360 stack (frames magnified 2x: three levels per frame).

Frames are rendered with the default chunking and dropped, as the streamed
export consumes them; encoding is not included.

    python benchmarks/bench_frames.py [--repeats 5] [--frames 60] [--device cpu] [--threads N]
"""

import argparse
import statistics
import time

import torch
from common import load_pack, log, parse_arguments

CASES = (
    ("512x512 frames, 8 levels of 512x512", 8, (512, 512), (512, 512)),
    ("1280x720 frames, 6 levels of 1280x720", 6, (720, 1280), (720, 1280)),
    ("1280x720 frames, 6 levels of 640x360", 6, (360, 640), (720, 1280)),
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--frames", type=int, default=60, help="frames per repeat, spread over the whole zoom")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    args = parse_arguments(parser)
    load_pack()
    from powers_of_ten.blending import iter_zoom_frames

    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    log.info("torch %s, %d threads, device %s, dtype %s", torch.__version__, torch.get_num_threads(), device, dtype)
    generator = torch.Generator().manual_seed(0)
    for label, levels, stack_size, frame_size in CASES:
        stack = torch.rand(levels, 3, *stack_size, generator=generator).to(device, dtype)
        positions = torch.linspace(0, levels - 1, args.frames)
        rates = []
        for _ in range(args.repeats + 1):
            start = time.perf_counter()
            for _ in iter_zoom_frames(stack, 2, positions, frame_size):
                pass
            if device.type == "cuda":
                torch.cuda.synchronize()
            rates.append(args.frames / (time.perf_counter() - start))
        rates = rates[1:]  # the first run warms up allocator and caches
        log.info(
            "%s: median %.1f frames/s (min %.1f, max %.1f)", label, statistics.median(rates), min(rates), max(rates)
        )


if __name__ == "__main__":
    main()
