"""Targets in a real ComfyUI: refused at validation with node, line and value; aligned on latent pixels; drawn."""

import pytest
import torch
from helpers import run_node, validation_messages


def latent_graph(comfy, targets: str, levels: int = 4, loop: bool = False, extend: str | None = None) -> dict:
    """Empty Zoom Latent (and optionally Extend Zoom by 2 levels) into an output: cheap to validate and run."""
    graph = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": comfy.checkpoint_name}},
        "2": {
            "class_type": "P10_EmptyZoomLatent",
            "inputs": {
                "width": 128,
                "height": 128,
                "levels": levels,
                "zoom_factor": "2",
                "loop": loop,
                "targets": targets,
            },
        },
        "3": {"class_type": "VAEDecode", "inputs": {"samples": ["2", 0], "vae": ["1", 2]}},
        "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}},
    }
    if extend is not None:
        graph["5"] = {
            "class_type": "P10_ExtendZoom",
            "inputs": {"latent": ["2", 0], "zoom": ["2", 1], "levels": 2, "direction": "deeper", "targets": extend},
        }
        graph["3"]["inputs"]["samples"] = ["5", 0]
    return graph


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"targets": "0.5, 0.5\n1.3, 0.2\n0.5, 0.5"}, "Empty Zoom Latent: targets line 2: x 1.3 is outside 0-1"),
        ({"targets": "0.25 0.5\n0.5, -0.1\n0.5, 0.5"}, "Empty Zoom Latent: targets line 2: y -0.1 is outside 0-1"),
        ({"targets": "0.5, 0.5\n\nthe face, 0.2"}, "Empty Zoom Latent: targets line 3 'the face, 0.2' is not 'x, y'"),
        ({"targets": "0.5, 0.5, 0.5"}, "Empty Zoom Latent: targets line 1 '0.5, 0.5, 0.5' is not 'x, y'"),
        ({"targets": " \n"}, "Empty Zoom Latent: targets is empty"),
        ({"targets": "0.5, 0.5\n0.2, 0.2"}, "the zoom has 4 levels, so its layout takes 1 target or 3; got 2"),
        ({"targets": "0.1, 0.1\n0.2, 0.2\n0.3, 0.3", "loop": True}, "looping layout takes 1 target or 4; got 3"),
        ({"extend": "0.5, 0.5\n0.1, 0.1\n0.2, 0.2"}, "Extend Zoom: targets has 3 lines for 2 new levels"),
        ({"extend": "0.5, 2"}, "Extend Zoom: targets line 1: y 2 is outside 0-1"),
    ],
)
def test_bad_targets_are_refused_at_validation_naming_node_line_and_value(comfy, changes, message):
    targets = changes.pop("targets", "0.5, 0.5")
    result = comfy.execute(latent_graph(comfy, targets, **changes))
    assert result.validation_error is not None, "nothing may run"
    assert message in validation_messages(result)


def test_good_targets_validate(comfy):
    for targets, loop in (("0.5, 0.5", False), ("0, 0\n1, 1\n0.3, 0.7", False), ("0.2, 0.8", True)):
        # A looping zoom has no end to extend: Extend Zoom refuses it when it runs, not at validation.
        comfy.execute(latent_graph(comfy, targets, loop=loop, extend=None if loop else "0.1, 0.9")).raise_for_error()


def test_footprints_sit_on_the_same_latent_pixels_in_the_decoded_images(comfy):
    # 0.3 of a 16-pixel latent is 4.8, so level 1 (8 pixels) starts at latent column 1; at 128 image pixels the
    # nearest start would be column 6, not 8. Aligned on the latent, the images' footprints are the latent's x 8.
    targets = "0.3, 0.7\n0.9, 0.05\n0.55, 0.45"
    latent, zoom = run_node(
        comfy, "P10_EmptyZoomLatent", width=128, height=128, levels=4, zoom_factor="2", targets=targets
    )
    assert not zoom.layout.centred
    for level in range(3):
        small, large = zoom.layout.child_window(16, 16, level), zoom.layout.child_window(128, 128, level)
        assert (large.top, large.left, large.height, large.width) == tuple(
            8 * v for v in (small.top, small.left, small.height, small.width)
        )
    ZoomLayout = comfy.pack.blending.ZoomLayout
    unaligned = ZoomLayout(2, targets=((0.3, 0.7), (0.9, 0.05), (0.55, 0.45)))
    for level in range(3):
        assert zoom.layout.child_window(16, 16, level) == unaligned.child_window(16, 16, level)
    assert ZoomLayout(2, targets=((0.3, 0.7),)).child_window(128, 128, 0).left == 6
    # One target for every level stays one; the centre stays the centre.
    _, one = run_node(
        comfy, "P10_EmptyZoomLatent", width=128, height=128, levels=4, zoom_factor="2", targets="0.5, 0.5"
    )
    assert one.layout == ZoomLayout(2)


def test_zoom_views_outline_each_footprint_where_it_is(comfy):
    _, zoom = run_node(
        comfy, "P10_EmptyZoomLatent", width=128, height=128, levels=3, zoom_factor="2", targets="0.2, 0.2\n0.85, 0.6"
    )
    images = torch.full((3, 128, 128, 3), 0.5)
    (canvas,) = run_node(comfy, "P10_ZoomViews", images=images, zoom=zoom, gap=8, outline=True)
    red = torch.tensor([1.0, 0.0, 0.0])
    for level in range(2):
        window = zoom.layout.child_window(128, 128, level)
        view = canvas[0, :, level * (128 + 8) : level * (128 + 8) + 128]
        is_red = (view == red).all(-1)
        expected = torch.zeros(128, 128, dtype=torch.bool)
        expected[window.rows, window.cols] = True
        expected[window.top + 1 : window.top + window.height - 1, window.left + 1 : window.left + window.width - 1] = (
            False
        )
        assert torch.equal(is_red, expected)
    assert (window.top, window.left) != (32, 32), "the footprint is off-centre"
