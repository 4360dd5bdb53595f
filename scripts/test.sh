#!/usr/bin/env bash
# Installs everything the tests need (Python extras, Debian chromium and poppler-utils when missing) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[test]"

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# PostgreSQL-backed tests skip (with the reason printed) only when no server answers; try to start a stopped one.
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi

# Let Python keep compiled modules (__pycache__, ignored by git): every `yibao` process a test starts would otherwise
# compile the project again (some environments set PYTHONDONTWRITEBYTECODE).
unset PYTHONDONTWRITEBYTECODE

# The gates first: lint and types (configured in pyproject.toml), then every test, in PYTEST_WORKERS processes
# (pytest-xdist; most tests wait on servers, browsers and subprocesses, so more workers than the 2 cores pay off).
# Arguments go to pytest and come last, so `-n 0` there runs the tests in this one process.
.venv/bin/ruff check .
.venv/bin/mypy
exec .venv/bin/python -m pytest -ra -n "${PYTEST_WORKERS:-3}" --maxschedchunk 2 "$@"
