#!/usr/bin/env bash
# Set up whatever is missing for hecathode on a Debian machine, idempotently:
# Debian packages (only when absent), a virtual environment in .venv, the CPU
# build of torch 2.13.0 FIRST (so nothing pulls a multi-GB CUDA build), then
# GPAW built from source against Debian's libxc, OpenBLAS, FFTW, Open MPI and ScaLAPACK
# (configured by scripts/gpaw_siteconfig.py through GPAW_CONFIG), then the rest of the stack
# and hecathode itself in editable mode.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.hecathode-installed
# Bump when the dependency list changes so an existing .venv is updated.
STACK_VERSION=2

need_apt=()
command -v gcc >/dev/null || need_apt+=(gcc)
command -v g++ >/dev/null || need_apt+=(g++)
"$PY" -c "import venv, ensurepip" 2>/dev/null || need_apt+=(python3-venv)
# Python headers for compiling GPAW's extension
"$PY" -c "import os, sysconfig; assert os.path.isfile(sysconfig.get_paths()['include'] + '/Python.h')" \
  2>/dev/null || need_apt+=(python3-dev)
# GPAW build and MPI runs (mpiexec -n N gpaw python ...)
for pkg in libxc-dev libopenblas-dev libfftw3-dev libopenmpi-dev openmpi-bin libscalapack-openmpi-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
# one-node SLURM cluster for the queue tests and local campaigns (python scripts/slurm_local.py)
for pkg in slurmctld slurmd slurm-client munge; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[setup] apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STACK_VERSION" ] && [ pyproject.toml -ot "$STAMP" ]; then
  exit 0
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)
echo "[setup] torch==2.13.0 (CPU build) first"
"${PIP[@]}" "torch==2.13.0"
# GPAW compiles its C++ extension here (about a minute on 2 cores); the siteconfig picks
# mpic++ with ScaLAPACK when Open MPI is there, g++ without MPI otherwise.
export GPAW_CONFIG="$PWD/scripts/gpaw_siteconfig.py"
echo "[setup] gpaw==26.7.0 (built against Debian's libxc, OpenBLAS, FFTW, Open MPI, ScaLAPACK)"
"${PIP[@]}" "torch==2.13.0" "gpaw==26.7.0"
echo "[setup] scientific stack and hecathode (editable)"
"${PIP[@]}" "torch==2.13.0" -e ".[dev]"
"$VENV/bin/python" -m pip check
echo "$STACK_VERSION" > "$STAMP"
echo "[setup] done: $VENV"
