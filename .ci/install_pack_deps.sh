#!/usr/bin/env bash
# The pack's own dependencies (pyproject.toml's, the one place they are declared) into $PYTHON.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
py="${PYTHON:-python}"
mapfile -t requirements < <("$py" -c 'import sys, tomllib; print(*tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"], sep="\n")' "$repo/pyproject.toml")
[ ${#requirements[@]} -eq 0 ] || "$py" -m pip install --quiet "${requirements[@]}" 2>&1 |
    { grep -v -e 'is ignored: it is neither a file nor a directory' || true; }
