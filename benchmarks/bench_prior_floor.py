"""What exact joint sampling gives on the exact 1/f² prior: the floor the sampler figures are read against.

``bench_sampler_quality.py`` holds every level of a sampled zoom against
independent samples of ``tests/helpers.FieldPrior``. That field has reflective
boundaries, so it is not stationary: a sample has more coarse energy near its
borders than inside, and its box-shrunk whole does not look like a sample's
middle. This benchmark prints, per zoom factor, both halves of that:

- the band energy of a sample box-shrunk by ``p`` over that of its own central
  ``1/p`` window, octave by octave (1 where the prior is the same at every scale);
- exact consistent stacks (``FieldPrior.consistent_stack``: the deepest level an
  exact sample, each coarser ring drawn given its footprint by Gaussian
  conditioning) over independent samples, every octave of every deeper level,
  pooled over seeds. A perfect joint sampler that keeps the deepest level exact reaches these figures.

    python benchmarks/bench_prior_floor.py [--zoom-factors 2 4 8] [--seeds 16] [--channels 64] [--levels 4]
        [--size 64] [--threads N]

Plain PyTorch (the pack for its layout); about 2 minutes per zoom factor with the defaults on one core.
"""

import argparse
import sys

import torch
from common import REPO_ROOT, load_pack, log, parse_arguments

sys.path.insert(0, str(REPO_ROOT / "tests"))
from helpers import FieldPrior, band_energy  # noqa: E402


def shrink_over_window(prior: FieldPrior, zoom_factor: int, samples: int, generator: torch.Generator) -> torch.Tensor:
    """Band energy of samples box-shrunk by ``zoom_factor`` over that of their central window of the same size."""
    views = prior.sample((samples, *prior.spectrum.shape), generator)[:, None]
    side = views.shape[-1] // zoom_factor
    start = (views.shape[-1] - side) // 2
    window = views[..., start : start + side, start : start + side]
    shrunk = torch.nn.functional.avg_pool2d(views, zoom_factor)
    octaves = side.bit_length() - 2
    return band_energy(shrunk, octaves).mean(0) / band_energy(window, octaves).mean(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoom-factors", type=int, nargs="*", default=[2, 4, 8])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--channels", type=int, default=64, help="independent fields per level")
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--size", type=int, default=64)
    args = parse_arguments(parser)
    load_pack()  # the stacks' layout
    prior = FieldPrior(args.size, args.size)
    octaves = args.size.bit_length() - 2
    for zoom_factor in args.zoom_factors:
        generator = torch.Generator().manual_seed(zoom_factor)
        ratio = shrink_over_window(prior, zoom_factor, args.seeds * args.channels, generator)
        cells = " ".join(f"{value:.2f}" for value in ratio.tolist())
        log.info("zoom factor %d | box-shrunk sample over its central window, octaves 0..: %s", zoom_factor, cells)
        exact = independent = 0
        for _ in range(args.seeds):
            stack = prior.consistent_stack(args.levels, args.channels, zoom_factor, generator)
            exact = exact + band_energy(stack, octaves)
            shape = (args.levels, args.channels, args.size, args.size)
            independent = independent + band_energy(prior.sample(shape, generator), octaves)
        for level, row in enumerate((exact / independent)[1:].tolist(), start=1):
            cells = " ".join(f"{value:.2f}" for value in row)
            log.info("zoom factor %d | exact consistent stacks, level %d, octaves 0..: %s", zoom_factor, level, cells)


if __name__ == "__main__":
    main()
