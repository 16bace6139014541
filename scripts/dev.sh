#!/usr/bin/env bash
# Installs the origin into .venv and starts it on the bundled fixtures with a random development key.
# Extra arguments go to `origin serve` (for example --port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/origin serve --dev "$@"
