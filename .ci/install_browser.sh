#!/usr/bin/env bash
# Install what the frontend test (tests/test_host_frontend.py) needs: Debian's
# Chromium at /usr/bin/chromium and Playwright for Python to drive it.
#
#   usage: bash .ci/install_browser.sh
#
# Playwright drives the system Chromium (`executable_path`), so its own browser
# download (`playwright install`) is never run. apt runs only when Chromium is
# missing, pip only when the pinned Playwright is missing: a second run changes
# nothing and needs no network.
set -euo pipefail

PY="${PYTHON:-python}"
PLAYWRIGHT_VERSION="1.65.2"
export PIP_ROOT_USER_ACTION=ignore

if [[ ! -x /usr/bin/chromium ]]; then
    # Root on CI machines; sudo elsewhere.
    sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
# The Debian launcher may warn about /dev/shm here (findmnt lists two mounts): harmless.
/usr/bin/chromium --version

installed="$("$PY" -c 'import importlib.metadata as m; print(m.version("playwright"))' 2>/dev/null || true)"
if [[ "$installed" != "$PLAYWRIGHT_VERSION" ]]; then
    # Playwright depends on greenlet only: torch is never touched.
    "$PY" -m pip install --quiet --disable-pip-version-check --no-input "playwright==$PLAYWRIGHT_VERSION" 2>&1 |
        { grep -v -e 'is ignored: it is neither a file nor a directory' || true; }
fi
echo "install_browser: playwright $("$PY" -c 'import importlib.metadata as m; print(m.version("playwright"))')"
