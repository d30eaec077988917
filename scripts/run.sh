#!/usr/bin/env bash
# Install the engine into .venv and start it on its embedded defaults:
# SQLite under ./var, the demo knowledge base, FastAGI on 127.0.0.1:4573
# (web on 127.0.0.1:8080 once it exists).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e .
.venv/bin/hotline db upgrade
.venv/bin/hotline kb load-demo --if-empty
exec .venv/bin/hotline serve "$@"
