"""Generative Powers of Ten for ComfyUI: text-driven semantic zoom as one consistent zoom stack.

ComfyUI loads this folder as a custom-node package and calls :func:`comfy_entrypoint`.
Nothing from ComfyUI is imported at module level, so ``blending`` and
``sampler`` import and run without it. ``web/`` holds the frontend extension
(picking targets on Zoom Views Side by Side).
"""

WEB_DIRECTORY = "./web"


async def comfy_entrypoint():
    """ComfyUI's V3 entry point: the pack's extension with all its nodes."""
    from .nodes import PowersOfTenExtension

    return PowersOfTenExtension()
