#!/usr/bin/env bash
# Installs whatever is missing for running and testing the platform; cheap when nothing is.
#   Debian packages (scripts/apt-packages.txt), the Python venv (.venv), buf (npm),
#   and the Python code generated from protos/.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

apt_packages() {
  local wanted=() missing=()
  [ -f scripts/apt-packages.txt ] && mapfile -t wanted < <(grep -vE '^\s*(#|$)' scripts/apt-packages.txt)
  command -v npm >/dev/null || wanted+=(nodejs npm)
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

python_env() {
  local stamp=.venv/.installed
  if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    python3 -m venv .venv
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
    say "installing Python packages"
    .venv/bin/python -m pip install -q --upgrade pip
    # compat mode: the repo root goes on sys.path, so generated code made later is importable.
    .venv/bin/python -m pip install -q -c constraints.txt -e '.[test]' --config-settings editable_mode=compat
    touch "$stamp"
  fi
}

node_tools() {
  if [ ! -x node_modules/.bin/buf ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing buf (npm)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

generated_code() {
  local stamp=econtract/.generated newest
  newest=$(find protos scripts/gen_protos.sh -newer "$stamp" -print -quit 2>/dev/null || true)
  if [ ! -f "$stamp" ] || [ -n "$newest" ]; then
    say "generating Python code from protos/"
    bash scripts/gen_protos.sh
    touch "$stamp"
  fi
}

apt_packages
python_env
node_tools
generated_code
