#!/usr/bin/env bash
# One ComfyUI version and its own virtual environment, ready for the host tests.
#
#   usage: bash .ci/comfyui_env.sh VERSION [ROOT]    (VERSION: v0.3.64, v0.8.0, ...)
#
# Unpacks ../shared/comfyui/ComfyUI-VERSION.tar.gz into ROOT/VERSION/ComfyUI
# (ROOT defaults to <repo>/.cache/comfyui), makes ROOT/VERSION/venv with torch
# pinned to the machine's CPU wheel, the pack's test tools, that version's own
# requirements (.ci/install_comfyui_deps.sh), the pack's dependencies and the browser test's Playwright.
# Prints two lines: the checkout and the venv's python. Idempotent.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
version="${1:?usage: comfyui_env.sh VERSION [ROOT]}"
root="${2:-$repo/.cache/comfyui}"
shared="${SHARED_DIR:-$repo/../shared}"
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1

checkout="$("$shared/comfyui/unpack" "$version" "$root/$version")"
venv="$root/$version/venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
py="$venv/bin/python"
# torch pinned: the machines carry a local CPU wheel of it; anything else pulls CUDA wheels.
"$py" -m pip install --quiet torch==2.13.0 -r "$repo/requirements-dev.txt" 2>&1 |
    { grep -v -e 'is ignored: it is neither a file nor a directory' || true; }
PYTHON="$py" bash "$repo/.ci/install_comfyui_deps.sh" "$checkout" >&2
PYTHON="$py" bash "$repo/.ci/install_pack_deps.sh" >&2
PYTHON="$py" bash "$repo/.ci/install_browser.sh" >&2
echo "$checkout"
echo "$py"
