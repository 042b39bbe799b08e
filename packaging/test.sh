#!/usr/bin/env bash
# Set everything up (with test tools), then lint, type-check and run the tests (tests/test_architecture.py
# checks that imports only go app -> ingest -> core -> kernels).
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup.sh --dev
export QT_QPA_PLATFORM=offscreen
.venv/bin/ruff check .
.venv/bin/mypy core ingest app kernels evaluation
.venv/bin/python -m pytest "$@"
