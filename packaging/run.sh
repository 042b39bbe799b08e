#!/usr/bin/env bash
# Set everything up, then run memsa on the embedded default model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup.sh
exec .venv/bin/memsa demo "$@"
