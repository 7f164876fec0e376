#!/usr/bin/env bash
# Install what a ComfyUI checkout needs to import and run on CPU into the
# current python (`python -m pip`), without ever changing torch.
#
#   usage: bash .ci/install_comfyui_deps.sh /path/to/ComfyUI
#
# - ComfyUI's requirements.txt minus torch / torchvision / torchaudio;
# - torchvision --no-deps, in the version built against the installed torch;
# - torchaudio --no-deps, the newest release not newer than torch, without its
#   C extension (built against that release's torch, it cannot load into
#   another; torchaudio then runs as pure Python, which is all ComfyUI's audio
#   nodes use: Load Audio decodes with PyAV, resampling is torch code);
# - a guard in torchvision/_meta_registrations.py so that `register_fake` for
#   ops the wheel's C extension could not register (CUDA wheel on CPU torch)
#   is skipped instead of failing `import torchvision`;
# - requests (used by the HTTP-server test helpers).
#
# Idempotent: a second run finds everything present and changes nothing.
set -euo pipefail

COMFY="${1:-}"
if [[ -z "$COMFY" || ! -f "$COMFY/requirements.txt" ]]; then
    echo "usage: $0 /path/to/ComfyUI  (a checkout with requirements.txt)" >&2
    exit 2
fi

PY="${PYTHON:-python}"
PIP=("$PY" -m pip --disable-pip-version-check --no-input)
export PIP_ROOT_USER_ACTION=ignore

# pip, minus the noise of unusable local index entries some machines configure
pip_run() {
    "${PIP[@]}" "$@" 2>&1 | { grep -v -e 'is ignored: it is neither a file nor a directory' || true; }
    return "${PIPESTATUS[0]}"
}

torch_version="$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])')" || {
    echo "install_comfyui_deps: torch must already be installed" >&2
    exit 1
}
# torch 2.N.x pairs with torchvision 0.(N+15).x
torchvision_version="$("$PY" - "$torch_version" <<'EOF'
import sys
major, minor = (int(p) for p in sys.argv[1].split(".")[:2])
assert major == 2, f"unexpected torch major version {sys.argv[1]}"
print(f"0.{minor + 15}.0")
EOF
)"
torchvision_series="${torchvision_version%.0}"
echo "install_comfyui_deps: torch ${torch_version}, torchvision ${torchvision_series}.*"

# Constraints keep every resolver run on the installed torch (and on the one
# torchvision series that matches it) whatever a requirement depends on.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf 'torch==%s\ntorchvision==%s.*\n' "$torch_version" "$torchvision_series" >"$tmp/constraints.txt"
grep -v -E '^[[:space:]]*(torch|torchvision|torchaudio)[[:space:]]*([<>=!~;#[]|$)' \
    "$COMFY/requirements.txt" >"$tmp/requirements.txt"
echo "requests" >>"$tmp/requirements.txt"

# 1. torchvision without dependencies (its deps are torch, numpy and pillow;
#    numpy and pillow come with ComfyUI's requirements below).
if ! "$PY" - "$torchvision_series" <<'EOF'
import importlib.metadata as md, sys
try:
    v = md.version("torchvision")
except md.PackageNotFoundError:
    sys.exit(1)
sys.exit(0 if v.split("+")[0].startswith(sys.argv[1] + ".") else 1)
EOF
then
    pip_run install --no-deps "torchvision==${torchvision_series}.*"
fi

# 2. ComfyUI's own requirements (pip skips what is already satisfied).
pip_run install -q -r "$tmp/requirements.txt" -c "$tmp/constraints.txt"

# 3. Guard torchvision's fake-kernel registrations.
"$PY" - <<'EOF'
import importlib.util, pathlib

spec = importlib.util.find_spec("torchvision")
path = pathlib.Path(next(iter(spec.submodule_search_locations))) / "_meta_registrations.py"
MARK = "# powers-of-ten CI guard"
src = path.read_text()
if MARK in src:
    print(f"install_comfyui_deps: {path} already guarded")
else:
    guard = f'''
{MARK}: skip fake-kernel registration for ops the C extension did not register
def _p10_safe_register_fake(*args, **kwargs):
    try:
        inner = torch.library.register_fake(*args, **kwargs)
    except Exception:
        inner = None

    def wrapper(fn):
        if inner is None:
            return fn
        try:
            return inner(fn)
        except Exception:
            return fn

    return wrapper

'''
    n = src.count("@torch.library.register_fake(")
    src = src.replace("@torch.library.register_fake(", "@_p10_safe_register_fake(")
    anchor = "import torchvision.extension  # noqa: F401\n"
    if anchor in src:
        src = src.replace(anchor, anchor + guard, 1)
    else:  # fall back to: right after the last top-level import
        lines = src.splitlines(keepends=True)
        last = max(i for i, l in enumerate(lines) if l.startswith(("import ", "from ")))
        lines.insert(last + 1, guard)
        src = "".join(lines)
    path.write_text(src)
    print(f"install_comfyui_deps: guarded {n} register_fake decorator(s) in {path}")
EOF

# 4. torchaudio's Python part: the wheel without dependencies, its compiled
#    libraries removed, so that its loader finds none and imports without them.
if ! "$PY" -c 'import torchaudio' 2>/dev/null; then
    pip_run install -q --no-deps "torchaudio<=${torch_version}"
    "$PY" - <<'EOF'
import importlib.util, pathlib

spec = importlib.util.find_spec("torchaudio")
lib = pathlib.Path(next(iter(spec.submodule_search_locations))) / "lib"
for path in sorted(lib.glob("*.so")):
    path.unlink()
    print(f"install_comfyui_deps: removed torchaudio/lib/{path.name} (built against another torch)")
EOF
fi

# 5. Check: torch unchanged, torchvision, torchaudio and ComfyUI's key deps importable.
"$PY" - "$torch_version" <<'EOF'
import sys
import torch, torchvision, torchaudio, safetensors, transformers, aiohttp, av, yaml, requests  # noqa: F401
assert torch.__version__.split("+")[0] == sys.argv[1], f"torch changed to {torch.__version__}"
torchaudio.functional.resample(torch.zeros(1, 441), 44100, 48000)
print(f"install_comfyui_deps: ok (torch {torch.__version__}, torchvision {torchvision.__version__}, "
      f"torchaudio {torchaudio.__version__})")
EOF
