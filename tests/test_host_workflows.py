"""The example workflows: what ships beside each, model download links, and the joint sampler's point in one of them.

That every example loads in the real frontend and runs as the frontend queues
it is ``test_host_frontend.py``'s job.
"""

import logging

import pytest
from helpers import WORKFLOW_NAMES, WORKFLOWS, at_test_scale, load_workflow, node_id, seam, seam_ratio

# The folder each model-loading node reads its file from, by the widget that names the file.
MODEL_WIDGETS = {
    "CheckpointLoaderSimple": {"ckpt_name": "checkpoints"},
    "LoraLoader": {"lora_name": "loras"},
    "VAELoader": {"vae_name": "vae"},
    "UNETLoader": {"unet_name": "diffusion_models"},
    "CLIPLoader": {"clip_name": "text_encoders"},
}
# Load VAE's built-in TAESD entries are two files each, which the workflow's own model list names.
TAESD_NAMES = {"taesd", "taesdxl", "taesd3", "taef1"}


def test_the_promised_workflows_exist():
    promised = {"text_zoom", "zoom_guider_custom_sampler", "per_level_lora", "photo_zoom", "zoom_video"}
    promised |= {"sdxl_zoom", "flux_zoom", "deep_zoom", "loop_zoom", "offcentre_zoom"}
    promised |= {"zimage_zoom", "flux2_zoom", "qwen_image_zoom"}
    assert promised <= set(WORKFLOW_NAMES)
    for name in WORKFLOW_NAMES:
        assert (WORKFLOWS / f"{name}.jpg").is_file(), f"{name} has no thumbnail"
        assert (WORKFLOWS / "api" / f"{name}.json").is_file(), f"{name} has no API-format copy"


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_every_model_a_user_must_fetch_has_a_download_link(name):
    workflow = load_workflow(name)
    for node in workflow["nodes"]:
        widgets = MODEL_WIDGETS.get(node["type"], {})
        links = {model["name"]: model for model in node.get("properties", {}).get("models", [])}
        for (widget, folder), value in zip(widgets.items(), node.get("widgets_values", [])):
            if node["type"] == "VAELoader" and value in TAESD_NAMES:
                names = {model["name"] for model in workflow.get("models", []) if model["directory"] == "vae_approx"}
                assert {f"{value}_encoder.pth", f"{value}_decoder.pth"} <= names, f"{name}: {value} has no links"
                continue
            assert value in links, f"{name}: {node['type']}.{widget} = {value} has no download link"
            assert links[value]["directory"] == folder
            assert links[value]["url"].startswith("https://")
    for model in workflow.get("models", []):
        assert model["url"].startswith("https://") and model["directory"], model


def test_zoom_ksampler_is_consistent_where_plain_ksampler_is_not(comfy):
    prompt = at_test_scale(
        load_workflow("text_zoom", api=True), CheckpointLoaderSimple={"ckpt_name": comfy.checkpoint_name}
    )
    zoom_sampler = prompt[node_id(prompt, "P10_ZoomKSampler")]["inputs"]
    prompt["90"] = {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "a spiral galaxy"}}
    prompt["91"] = {
        "class_type": "KSampler",
        "inputs": {
            key: zoom_sampler[key]
            for key in ("model", "latent_image", "seed", "steps", "cfg", "denoise", "sampler_name", "scheduler")
        }
        | {"positive": ["90", 0], "negative": ["90", 0]},
    }
    prompt["92"] = {"class_type": "VAEDecode", "inputs": {"samples": ["91", 0], "vae": ["1", 2]}}
    prompt["93"] = {"class_type": "PreviewImage", "inputs": {"images": ["92", 0]}}
    result = comfy.execute(prompt, capture=[node_id(prompt, "P10_ZoomKSampler"), "91"]).raise_for_error()
    joint = result.node_output(node_id(prompt, "P10_ZoomKSampler"))["samples"]
    plain = result.node_output("91")["samples"]
    assert seam(joint, comfy=comfy) < 1e-4
    assert seam(plain, comfy=comfy) > 0.5
    assert joint.isfinite().all()


@pytest.mark.parametrize("name", ["text_zoom", "offcentre_zoom", "loop_zoom"])
def test_the_examples_final_views_are_seamless(comfy, name):
    # The examples' ending: VAE Decode (TAESD on the tiny checkpoint), Blend Zoom Stack, Render Zoom Stack.
    # The decoded levels of a latent model do not continue each other at the paste borders; the final views do.
    # Measured at 8 steps: 0.70-0.82 against 15-19 for a hard paste of the decoded levels.
    prompt = at_test_scale(
        load_workflow(name, api=True),
        CheckpointLoaderSimple={"ckpt_name": comfy.checkpoint_name},
        P10_ZoomKSampler={"steps": 8},
    )
    kinds = ("P10_EmptyZoomLatent", "VAEDecode", "P10_RenderZoomStack")
    latent, decode, render = (node_id(prompt, kind) for kind in kinds)
    result = comfy.execute(prompt, capture=[(latent, 1), decode, render]).raise_for_error()
    layout = result.node_output(latent, 1).layout
    decoded = result.node_output(decode).movedim(-1, 1)
    views = result.node_output(render).movedim(-1, 1)
    pasted = comfy.pack.blending.render_image(decoded, layout, ring_width=0)
    logging.getLogger(__name__).info(
        "%s: seam ratio %.2f, hard paste %.2f", name, seam_ratio(views, layout), seam_ratio(pasted, layout)
    )
    assert seam_ratio(views, layout) < 1.3 < 2 < seam_ratio(pasted, layout)
    assert seam(views, layout, comfy=comfy) < 1e-5
