"""The test host: a real ComfyUI checkout, run in this process (:mod:`.in_process`) or as a server (:mod:`.server`).

:mod:`.layout` finds the checkout and prepares the private folders and tiny
models both use. Tests get the in-process host from the ``comfy`` fixture.
"""
