"""Every ComfyUI name the pack uses exists in the checkout under test, with a signature the pack's use fits.

The names come from parsing ``__init__.py`` and ``nodes/*.py``: every
``comfy.*`` / ``comfy_api.*`` (and ``node_helpers``, ``latent_preview``,
``folder_paths``) name they import or reach, every call of one (its
positional count and keywords), and every class built on a core class (the
methods it overrides). A new use is checked without editing this file; a
rename in ComfyUI fails one test naming the pack's file and line. What the
source cannot show (methods called on objects ComfyUI hands over, the order of
positional parameters) is in :data:`EXPECTED_PARAMETERS` and
:data:`EXPECTED_ATTRIBUTES`. ``docs/comfyui-versions.md`` records the same
names against the ComfyUI releases.
"""

import ast
import dataclasses
import importlib
import inspect
import textwrap

import pytest
import torch
from helpers import REPO_ROOT, recording, run_node

SOURCES = [REPO_ROOT / "__init__.py", *sorted((REPO_ROOT / "nodes").glob("*.py"))]
HOST_MODULES = {
    "comfy",
    "comfy_api",
    "comfy_extras",
    "comfy_execution",
    "node_helpers",
    "latent_preview",
    "folder_paths",
}

EXPECTED_PARAMETERS = {
    # "a, b; c, d": a and b are the leading parameters, in that order (the pack passes them by
    # position, or overrides the method); c and d are accepted by keyword.
    "comfy.samplers.sampling_function": "model, x, timestep, uncond, cond, cond_scale; model_options, seed",
    "comfy.samplers.CFGGuider.__init__": "self, model_patcher",
    "comfy.samplers.CFGGuider.set_cfg": "self, cfg",
    "comfy.samplers.CFGGuider.inner_set_conds": "self, conds",
    "comfy.samplers.CFGGuider.sample": (
        "self, noise, latent_image, sampler, sigmas, denoise_mask, callback, disable_pbar, seed"
    ),
    "comfy.samplers.CFGGuider.predict_noise": "self, x, timestep, model_options, seed",
    "comfy.samplers.KSAMPLER.__init__": "self, sampler_function, extra_options, inpaint_options",
    "comfy.samplers.KSampler.__init__": "self, model; steps, device, sampler, scheduler, denoise, model_options",
    "comfy.sample.prepare_noise": "latent_image, seed, noise_inds",
    "comfy.sample.fix_empty_latent_channels": "model, latent_image",
    "comfy.k_diffusion.sampling.BrownianTreeNoiseSampler.__init__": "self, x, sigma_min, sigma_max; seed, cpu",
    "comfy.k_diffusion.sampling.BrownianTreeNoiseSampler.__call__": "self, sigma, sigma_next",
    "comfy.model_patcher.create_model_options_clone": "orig_model_options",
    "comfy.model_patcher.ModelPatcher.is_clone": "self, other",
    "comfy.model_patcher.ModelPatcher.pre_run": "self",
    "comfy.model_patcher.ModelPatcher.cleanup": "self",
    "comfy.model_patcher.ModelPatcher.get_model_object": "self, name",
    "comfy.model_base.BaseModel.process_latent_in": "self, latent",
    "comfy.model_base.BaseModel.process_latent_out": "self, latent",
    "comfy.model_base.BaseModel.extra_conds": "self; cross_attn, device, noise",
    "comfy.model_management.load_models_gpu": "models",
    "comfy.utils.ProgressBar.__init__": "self, total",
    "comfy.utils.ProgressBar.update": "self, value",
    "comfy.sd.VAE.decode": "self, samples_in",
    "comfy.sd.VAE.encode": "self, pixel_samples",
    "node_helpers.conditioning_set_values": "conditioning, values",
    "latent_preview.prepare_callback": "model, steps",
    "folder_paths.get_save_image_path": "filename_prefix, output_dir, image_width, image_height",
}
"""Parameters of the callables the pack calls on objects ComfyUI hands it, or overrides."""

EXPECTED_ATTRIBUTES = {
    "comfy.samplers.CFGGuider": {"model_patcher", "model_options", "original_conds", "conds", "inner_model", "cfg"},
    "comfy.samplers.KSAMPLER": {"sampler_function", "extra_options", "inpaint_options"},
    "comfy.samplers.KSampler": {"sigmas"},
    "comfy.model_patcher.ModelPatcher": {"model", "model_options", "load_device"},
}
"""Instance attributes the pack reads on core objects: each class (or a base) assigns them in its source."""

OVERRIDES = {
    "comfy.samplers.CFGGuider": {"sample", "predict_noise"},
    "comfy_api.latest.io.ComfyNode": {"define_schema", "execute", "validate_inputs"},
    "comfy_api.latest.ComfyExtension": {"get_node_list"},
}
"""The core methods each core base class's subclasses in the pack mean to override; any other shared name is a clash."""

CALLED_WITH_INPUTS = {"execute", "validate_inputs"}
"""ComfyNode methods core calls with the node's own inputs as keywords: no fixed signature to match."""


@dataclasses.dataclass(frozen=True)
class Use:
    """One use of a host name in the pack's source."""

    name: str
    where: str
    positional: int = 0
    keywords: tuple[str, ...] = ()
    unpacked: bool = False  # the call passes *args or **kwargs, so only what it names can be checked


@dataclasses.dataclass(frozen=True)
class Subclass:
    """A pack class built on a host class."""

    name: str
    base: str
    where: str
    module: str  # the pack module that defines it, relative to the pack: "nodes.guider"
    methods: frozenset[str]
    attributes: frozenset[str]


def dotted(node: ast.AST) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None for anything but a plain name or attribute chain."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def host_aliases(tree: ast.Module) -> dict[str, str]:
    """Local names a file binds to host modules or names, by ``import`` or ``from ... import``."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                root = alias.name.split(".")[0]
                if root in HOST_MODULES:
                    aliases[alias.asname or root] = alias.name if alias.asname else root
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] in HOST_MODULES:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def self_attributes(class_node: ast.ClassDef) -> set[str]:
    """Attributes a class's methods assign on ``self``."""
    return {
        node.attr
        for node in ast.walk(class_node)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    }


def scan_pack() -> tuple[list[Use], list[Subclass]]:
    """The host names the pack uses and the pack classes built on host classes, from the source files."""
    uses, subclasses = [], []
    for path in SOURCES:
        tree = ast.parse(path.read_text(), filename=str(path))
        aliases = host_aliases(tree)
        inner = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        called = {id(node.func): node for node in ast.walk(tree) if isinstance(node, ast.Call)}
        for node in ast.walk(tree):
            where = f"{path.relative_to(REPO_ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.ClassDef):
                for base in node.bases:
                    parts = dotted(base)
                    if parts and parts[0] in aliases:
                        methods = {
                            item.name
                            for item in node.body
                            if isinstance(item, ast.FunctionDef) and not item.name.startswith("__")
                        }
                        name = ".".join([aliases[parts[0]], *parts[1:]])
                        module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
                        attributes = frozenset(self_attributes(node))
                        subclasses.append(Subclass(node.name, name, where, module, frozenset(methods), attributes))
            if not isinstance(node, (ast.Attribute, ast.Name)) or id(node) in inner:
                continue
            parts = dotted(node)
            if not parts or parts[0] not in aliases or isinstance(getattr(node, "ctx", None), ast.Store):
                continue
            name = ".".join([aliases[parts[0]], *parts[1:]])
            call = called.get(id(node))
            if call is None:
                uses.append(Use(name, where))
                continue
            unpacked = any(isinstance(arg, ast.Starred) for arg in call.args) or any(
                keyword.arg is None for keyword in call.keywords
            )
            keywords = tuple(keyword.arg for keyword in call.keywords if keyword.arg is not None)
            uses.append(Use(name, where, len(call.args), keywords, unpacked))
    return uses, subclasses


def resolve(name: str):
    """The object a dotted host name refers to, importing submodules on the way (``comfy.k_diffusion.sampling``)."""
    parts = name.split(".")
    obj = importlib.import_module(parts[0])
    for index, part in enumerate(parts[1:], start=2):
        if hasattr(obj, part):
            obj = getattr(obj, part)
        elif hasattr(obj, "__path__"):  # a package whose submodule nothing has imported yet
            obj = importlib.import_module(".".join(parts[:index]))
        else:
            raise AttributeError(f"{'.'.join(parts[: index - 1])} has no attribute {part!r}")
    return obj


def signature_of(obj) -> inspect.Signature | None:
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):  # builtins and C extensions without signature metadata
        return None


def class_source_attributes(cls) -> set[str]:
    """Attributes assigned on ``self`` anywhere in the source of ``cls`` and its Python bases."""
    names = set()
    for klass in cls.__mro__:
        if klass is object:
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        names |= self_attributes(ast.parse(source).body[0])
    return names


def class_source_names(cls) -> set[str]:
    """Every ``self.<name>`` the source of ``cls`` and its Python bases reads or assigns, and its members."""
    names = set(dir(cls))
    for klass in cls.__mro__:
        if klass is object:
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        names |= {
            node.attr
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"
        }
    return names


def parameter_errors(name: str, spec: str, signature: inspect.Signature) -> list[str]:
    """How ``signature`` fails an :data:`EXPECTED_PARAMETERS` spec (empty when it fits)."""
    leading, _, by_keyword = spec.partition(";")
    leading = [item.strip() for item in leading.split(",") if item.strip()]
    by_keyword = [item.strip() for item in by_keyword.split(",") if item.strip()]
    parameters = list(signature.parameters.values())
    positional = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in parameters)
    errors = []
    if positional[: len(leading)] != leading:
        errors.append(f"{name}{signature}: expected leading parameters ({', '.join(leading)})")
    named = {p.name for p in parameters if p.kind is not p.VAR_POSITIONAL}
    missing = [item for item in by_keyword if item not in named and not accepts_any]
    if missing:
        errors.append(f"{name}{signature}: no parameter {', '.join(missing)}")
    return errors


def override_errors(base_method, ours, label: str) -> list[str]:
    """Whether the pack's override takes every argument core passes to the base method, and needs no other."""
    theirs_signature, ours_signature = signature_of(base_method), signature_of(ours)
    if theirs_signature is None or ours_signature is None:
        return []
    theirs = list(theirs_signature.parameters.values())
    mine = list(ours_signature.parameters.values())
    mine_names = {p.name: p for p in mine}
    takes_any_positional = any(p.kind is p.VAR_POSITIONAL for p in mine)
    takes_any_keyword = any(p.kind is p.VAR_KEYWORD for p in mine)
    errors = []
    for index, parameter in enumerate(theirs):
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            fits = (index < len(mine) and mine[index].name == parameter.name) or takes_any_positional
        else:
            fits = parameter.name in mine_names or takes_any_keyword
        if not fits:
            errors.append(f"{label}{ours_signature} does not take {parameter.name!r} as core's {theirs_signature}")
    theirs_names = {p.name for p in theirs}
    for parameter in mine:
        required = parameter.default is parameter.empty and parameter.kind not in (
            parameter.VAR_POSITIONAL,
            parameter.VAR_KEYWORD,
        )
        if required and parameter.name not in theirs_names:
            errors.append(f"{label}{ours_signature} requires {parameter.name!r}, which core's {theirs_signature} lacks")
    return errors


@pytest.fixture(scope="module")
def scanned():
    return scan_pack()


def test_the_scan_finds_the_names_the_pack_is_known_to_use(scanned):
    # Guards the parser itself: if these vanish, the scan (not the pack) changed.
    uses, subclasses = scanned
    names = {use.name for use in uses}
    assert {
        "comfy.samplers.sampling_function",
        "comfy.samplers.KSAMPLER",
        "comfy.model_management.load_models_gpu",
        "comfy.k_diffusion.sampling.BrownianTreeNoiseSampler",
        "comfy_api.latest.io.Schema",
        "comfy_api.latest.ui.PreviewVideo",
        "comfy.cli_args.args.disable_metadata",
        "comfy.conds.CONDCrossAttn",
    } <= names
    assert ("ZoomGuider", "comfy.samplers.CFGGuider") in {(sub.name, sub.base) for sub in subclasses}


def test_every_host_name_the_pack_uses_exists(comfy, scanned):
    uses, subclasses = scanned
    missing = []
    for name, where in sorted({(use.name, use.where) for use in uses} | {(sub.base, sub.where) for sub in subclasses}):
        try:
            resolve(name)
        except (ImportError, AttributeError) as error:
            missing.append(f"{where}: {name} ({error})")
    assert not missing, "ComfyUI lacks names the pack uses:\n" + "\n".join(missing)


def test_every_call_of_a_host_callable_fits_its_signature(comfy, scanned):
    uses, _ = scanned
    errors = []
    for use in uses:
        if not (use.positional or use.keywords or use.unpacked):
            continue
        try:
            signature = signature_of(resolve(use.name))
        except (ImportError, AttributeError):
            continue  # reported by test_every_host_name_the_pack_uses_exists
        if signature is None:
            continue
        arguments = [None] * use.positional
        keywords = dict.fromkeys(use.keywords)
        try:
            (signature.bind_partial if use.unpacked else signature.bind)(*arguments, **keywords)
        except TypeError as error:
            shown = ", ".join([*["_"] * use.positional, *(f"{k}=" for k in use.keywords)])
            errors.append(f"{use.where}: {use.name}({shown}) against {signature}: {error}")
    assert not errors, "Calls that no longer fit ComfyUI:\n" + "\n".join(errors)


def test_callables_the_pack_relies_on_take_the_parameters_it_passes(comfy):
    errors = []
    for name, spec in EXPECTED_PARAMETERS.items():
        try:
            signature = signature_of(resolve(name))
        except (ImportError, AttributeError) as error:
            errors.append(f"{name}: {error}")
            continue
        if signature is None:
            errors.append(f"{name}: no inspectable signature")
            continue
        errors += parameter_errors(name, spec, signature)
    assert not errors, "\n".join(errors)


def test_core_objects_still_carry_the_attributes_the_pack_reads(comfy):
    errors = []
    for name, attributes in EXPECTED_ATTRIBUTES.items():
        cls = resolve(name)
        found = class_source_attributes(cls) | set(dir(cls))
        errors += [f"{name} no longer sets self.{attribute}" for attribute in sorted(attributes - found)]
    assert not errors, "\n".join(errors)


def test_pack_subclasses_override_core_hooks_that_exist_and_clash_with_nothing_else(comfy, scanned):
    _, subclasses = scanned
    errors = []
    for sub in subclasses:
        if sub.base not in OVERRIDES:
            errors.append(f"{sub.where}: {sub.name} subclasses {sub.base}; list the methods it overrides in OVERRIDES")
            continue
        base = resolve(sub.base)
        core_names = class_source_names(base)
        intended = OVERRIDES[sub.base] & sub.methods
        errors += [
            f"{sub.where}: {sub.name}.{method} overrides {sub.base}.{method}, which ComfyUI lacks: it is never called"
            for method in sorted(intended)
            if not callable(getattr(base, method, None))
        ]
        clashes = ((sub.methods - OVERRIDES[sub.base]) | sub.attributes) & core_names
        errors += [f"{sub.where}: {sub.name}.{name} clashes with {sub.base}.{name}" for name in sorted(clashes)]
    assert not errors, "\n".join(errors)


def test_pack_overrides_take_what_core_passes(comfy, scanned):
    _, subclasses = scanned
    errors = []
    for sub in subclasses:
        base = resolve(sub.base)
        ours = getattr(importlib.import_module(f"{comfy.pack.__name__}.{sub.module}"), sub.name)
        for method in sorted(OVERRIDES.get(sub.base, set()) & sub.methods):
            if method in CALLED_WITH_INPUTS or not hasattr(base, method):
                continue
            errors += override_errors(getattr(base, method), getattr(ours, method), f"{sub.name}.{method}")
    assert not errors, "\n".join(errors)


def test_guider_follows_core_when_it_swaps_in_a_non_dynamic_model(comfy, monkeypatch):
    """ComfyUI 0.16+ (Dynamic VRAM): ``CFGGuider.inner_set_conds`` replaces ``self.model_patcher`` with a
    non-dynamic copy of the model, weights of its own, when a cond has hooks. Simulated here with a second
    load of the checkpoint, on any ComfyUI: every model call must then run on that copy."""
    host = comfy
    import comfy.samplers
    import comfy_extras.nodes_hooks as hooks_nodes

    loader = host.nodes.CheckpointLoaderSimple()
    model, clip, _ = loader.load_checkpoint(host.checkpoint_name)
    delegate = loader.load_checkpoint(host.checkpoint_name)[0]
    assert delegate.model is not model.model
    core_inner_set_conds = comfy.samplers.CFGGuider.inner_set_conds

    calls = []
    recorded = recording(model, calls)

    def inner_set_conds(guider, conds):
        if guider.model_patcher is recorded and any("hooks" in entry[1] for cond in conds.values() for entry in cond):
            guider.model_patcher = delegate
        core_inner_set_conds(guider, conds)

    monkeypatch.setattr(comfy.samplers.CFGGuider, "inner_set_conds", inner_set_conds)
    latent, zoom = run_node(host, "P10_EmptyZoomLatent", width=128, height=128, levels=4, zoom_factor="2")
    prompts = "a galaxy\na planet\na city\na street"
    (plan,) = run_node(
        host, "P10_ZoomPrompts", clip=clip, zoom=zoom, prompts=prompts, prefix="", suffix="", negative=""
    )
    hooks = hooks_nodes.CreateHookLora().create_hook("tiny_sd15_lora.safetensors", 1.0, 0.0)[0]
    hooked = hooks_nodes.SetModelHooksOnCond().attach_hook(plan.levels[1].positive, hooks)[0]
    plan = run_node(host, "P10_ZoomLevelOverride", zoom_plan=plan, first_level=1, last_level=1, positive=hooked)[0]

    guider = host.pack.nodes.guider.ZoomGuider(recorded, plan, 2.0, node="Zoom Guider")
    assert guider.model_patcher is delegate
    assert all(group.model is delegate for group in guider.groups)
    sigmas = comfy.samplers.KSampler(model, steps=1, device="cpu", sampler="euler", scheduler="normal").sigmas
    noise = torch.randn(latent["samples"].shape, generator=torch.Generator().manual_seed(0))
    guider.sample(noise, latent["samples"], comfy.samplers.sampler_object("euler"), sigmas, seed=0)
    assert calls and all(call.model is delegate.model for call in calls)
