"""Time grouping a zoom's levels into model calls (``nodes/conditioning.py``: ``group_levels``) at 45 to 1024 levels.

Each level has its own positive and negative CONDITIONING as CLIP Text Encode
gives it on SD1.5 (77 or 154 tokens of 768 channels, alternating, and a
``pooled_output``), probed through the tiny SD1.5 checkpoint's own
conditioning path in ComfyUI. Prints the median and fastest of repeated runs,
with and without ``max_batch``; grouping is linear in the levels, so 1024
levels take about 23 times as long as 45.

    python benchmarks/bench_group_levels.py [--levels 45 256 1024] [--repeats 5] [--threads 1]
"""

import argparse
import statistics
import time

import torch
from common import boot_comfyui, log, parse_arguments


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", nargs="*", type=int, default=[45, 256, 1024])
    parser.add_argument("--repeats", type=int, default=5)
    args = parse_arguments(parser, threads=1)
    host = boot_comfyui()
    pack = host.pack
    types, conditioning = pack.nodes.types, pack.nodes.conditioning
    model = host.nodes.CheckpointLoaderSimple().load_checkpoint(host.checkpoint_name)[0]

    def text(length):
        return [[torch.randn(1, length, 768), {"pooled_output": torch.randn(1, 768)}]]

    log.info("torch %s, %d threads", torch.__version__, torch.get_num_threads())
    for levels in args.levels:
        zoom = types.ZoomSpec(levels, pack.blending.ZoomLayout(2))
        plan = types.ZoomPlan(
            zoom, tuple(types.LevelConditioning(text(77 * (1 + i % 2)), text(77)) for i in range(levels))
        )
        for max_batch in (None, 8):
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                groups = conditioning.group_levels(plan, model, "benchmark", max_batch)
                times.append(time.perf_counter() - start)
            log.info(
                "%5d levels, max_batch %-4s: %3d groups, median %8.1f ms, fastest %8.1f ms",
                levels,
                max_batch,
                len(groups),
                statistics.median(times) * 1e3,
                min(times) * 1e3,
            )


if __name__ == "__main__":
    main()
