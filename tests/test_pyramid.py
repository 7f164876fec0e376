"""Box downsampling and the Laplacian pyramid used by blending."""

import pytest
import torch

from powers_of_ten.blending import box_downsample, build_laplacian_pyramid, collapse_laplacian_pyramid


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("depth", [0, 1, 4])
def test_pyramid_round_trips(depth, dtype, tolerance):
    image = torch.randn(2, 3, 48, 32, generator=torch.Generator().manual_seed(0), dtype=dtype)
    pyramid = build_laplacian_pyramid(image, depth)
    assert [tuple(band.shape[-2:]) for band in pyramid] == [(48 // 2**k, 32 // 2**k) for k in range(depth + 1)]
    torch.testing.assert_close(collapse_laplacian_pyramid(pyramid), image, rtol=0, atol=tolerance)


def test_box_shrinks_compose_and_preserve_the_mean():
    image = torch.randn(1, 2, 64, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(box_downsample(box_downsample(image, 2), 2), box_downsample(image, 4))
    torch.testing.assert_close(box_downsample(image, 8).mean(), image.mean())


@pytest.mark.parametrize("factor", [2, 3, 4, 6, 8])
def test_a_box_shrink_is_the_mean_of_each_block(factor):
    image = torch.randn(2, 3, 48, 24, generator=torch.Generator().manual_seed(3))
    blocks = image.unflatten(-1, (24 // factor, factor)).unflatten(-3, (48 // factor, factor))
    torch.testing.assert_close(box_downsample(image, factor), blocks.mean(dim=(-3, -1)), rtol=0, atol=1e-6)
    # A shrink by 2^k is k shrinks by 2 to the last bit, also in float32.
    if factor in (4, 8):
        assert torch.equal(box_downsample(image, factor), box_downsample(box_downsample(image, factor // 2), 2))


def test_pyramid_of_a_box_shrunk_image_is_the_coarse_part_of_the_full_pyramid():
    # The identity that makes consistent stacks fixed points of blending.
    image = torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    full = build_laplacian_pyramid(image, 5)
    coarse = build_laplacian_pyramid(box_downsample(image, 4), 3)
    for a, b in zip(full[2:], coarse):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
