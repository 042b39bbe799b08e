#!/usr/bin/env bash
# Set everything up, then open the memsa app on the embedded default model (the CLI demo without a display).
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup.sh
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    echo "memsa: no display found (DISPLAY/WAYLAND_DISPLAY unset); running the command-line demo instead of the app."
    exec .venv/bin/memsa demo "$@"
fi
exec .venv/bin/memsa gui "$@"
