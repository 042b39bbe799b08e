#!/usr/bin/env bash
# Set everything up (with test tools), then run the architecture check, the type check and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup.sh --dev
export QT_QPA_PLATFORM=offscreen
.venv/bin/lint-imports
.venv/bin/ruff check .
.venv/bin/mypy core ingest app kernels
.venv/bin/python -m pytest "$@"
