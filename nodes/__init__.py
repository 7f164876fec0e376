"""ComfyUI nodes: thin glue that converts ComfyUI formats and calls ``blending`` and ``sampler``.

- :mod:`.types`: socket types (ZOOM, ZOOM_PLAN) and the objects they carry.
- :mod:`.latent`: Empty Zoom Latent.
- :mod:`.prompts`: Zoom Prompts, Zoom Level Override, Zoom Flux Guidance.
- :mod:`.extend`: Extend Zoom and Regenerate Zoom Levels.
- :mod:`.grounding`: Zoom Photo Grounding.
- :mod:`.guider`: the joint multi-scale GUIDER (a ``CFGGuider`` subclass) and its node.
- :mod:`.ksampler`: Zoom KSampler.
- :mod:`.stack`: Blend/Render Zoom Stack and the side-by-side views.
- :mod:`.video`: Zoom Video Frames and Save Zoom Video.
- :mod:`.beats`: Zoom Beats (level times on a track's beats).
"""

from comfy_api.latest import ComfyExtension, io

from .beats import ZoomBeats
from .extend import ExtendZoom, RegenerateZoomLevels
from .grounding import ZoomPhotoGrounding
from .guider import ZoomGuiderNode
from .ksampler import ZoomKSampler
from .latent import EmptyZoomLatent
from .prompts import ZoomFluxGuidance, ZoomLevelOverride, ZoomPrompts
from .stack import BlendZoomStack, RenderZoomStack, UpscaleZoomLatent, ZoomViews
from .video import SaveZoomVideo, ZoomVideoFrames


class PowersOfTenExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [
            EmptyZoomLatent,
            ZoomPrompts,
            ZoomLevelOverride,
            ZoomFluxGuidance,
            ZoomPhotoGrounding,
            ZoomGuiderNode,
            ZoomKSampler,
            BlendZoomStack,
            RenderZoomStack,
            ZoomViews,
            UpscaleZoomLatent,
            ZoomVideoFrames,
            SaveZoomVideo,
            ZoomBeats,
            ExtendZoom,
            RegenerateZoomLevels,
        ]
