#!/usr/bin/env bash
# Installs the origin with its test dependencies into .venv and runs the whole test suite.
# Extra arguments go to pytest (for example -k auth).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
exec .venv/bin/python -m pytest "$@"
