#!/usr/bin/env bash
# Install the validation-stage extras: GPAW (PBE plane-wave DFT, offline PAW setups from
# gpaw-data), OpenMPI, FFTW and, unless --no-chgnet is given, CHGNet on a CPU build of torch.
#
#   bash scripts/install_dft.sh              # everything (about 2 min on 2 cores)
#   bash scripts/install_dft.sh --no-chgnet  # GPAW only
#   bash scripts/install_dft.sh --no-fftw    # skip FFTW (slightly slower GPAW on small cells)
#
# Needs root (or sudo) for apt-get and a pip that installs into the Python genms runs with.
# Two build pitfalls this script avoids:
#   * GPAW >= 26 compiles its C sources as C++; with plain `gcc` the build fails with
#     "algorithm: No such file or directory". Having mpic++ installed (libopenmpi-dev) makes
#     GPAW's setup pick it up; CC=g++ is set too for the case where MPI is skipped.
#   * A GPAW siteconfig (used here to enable FFTW) drops the default '-lblas'; it is listed
#     explicitly, otherwise the build silently becomes BLAS-less.
set -euo pipefail

WITH_CHGNET=1
WITH_FFTW=1
for arg in "$@"; do
  case "$arg" in
    --no-chgnet) WITH_CHGNET=0 ;;
    --no-fftw) WITH_FFTW=0 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "install_dft.sh: unknown option '$arg' (use --no-chgnet, --no-fftw)" >&2; exit 2 ;;
  esac
done

PYTHON="${PYTHON:-python3}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install_dft.sh: needs root or sudo for apt-get" >&2; exit 1; }
  SUDO="sudo"
fi

GPAW_VERSION="${GPAW_VERSION:-26.7.0}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"

APT_PACKAGES=(libxc-dev libopenblas-dev libopenmpi-dev openmpi-bin g++)
[ "$WITH_FFTW" = 1 ] && APT_PACKAGES+=(libfftw3-dev)

echo "==> apt: ${APT_PACKAGES[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}"

echo "==> pip: ase gpaw-data"
"$PYTHON" -m pip install -q "ase>=3.22" gpaw-data

echo "==> pip: gpaw==$GPAW_VERSION (compiled against libxc, OpenBLAS, OpenMPI${WITH_FFTW:+, FFTW})"
BUILD_DIR="$(mktemp -d)"
trap 'rm -rf "$BUILD_DIR"' EXIT
if [ "$WITH_FFTW" = 1 ]; then
  printf "fftw = True\nlibraries += ['fftw3', 'blas']\n" > "$BUILD_DIR/siteconfig.py"
  export GPAW_CONFIG="$BUILD_DIR/siteconfig.py"
fi
CC="${CC:-g++}" "$PYTHON" -m pip install -q --no-cache-dir --force-reinstall --no-deps "gpaw==$GPAW_VERSION"

if [ "$WITH_CHGNET" = 1 ]; then
  # torch first, pinned, so chgnet's own 'torch' requirement is already satisfied and pip
  # never fetches a multi-GB CUDA build (the machines here carry the 2.13.0 CPU wheel
  # in pip's find-links folder, which pip prefers: 2.13.0+cpu sorts above 2.13.0).
  echo "==> pip: torch==$TORCH_VERSION (CPU build), chgnet"
  "$PYTHON" -m pip install -q "torch==$TORCH_VERSION"
  "$PYTHON" -m pip install -q chgnet "torch==$TORCH_VERSION"
fi

echo "==> check"
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$PYTHON" - <<'PY'
import gpaw, gpaw_data  # noqa: F401
from gpaw import GPAW, PW
from ase.build import molecule
atoms = molecule("H2"); atoms.center(vacuum=3.0); atoms.pbc = True
atoms.calc = GPAW(mode=PW(250), xc="PBE", txt=None)
print(f"gpaw {gpaw.__version__}: H2 test energy {atoms.get_potential_energy():.3f} eV")
PY
"$PYTHON" -m gpaw info | grep -E "^ *\|? *(gpaw-|gpaw_data|libxc|MPI enabled|FFTW|BLAS|PAW-datasets)" || true
if [ "$WITH_CHGNET" = 1 ]; then
  "$PYTHON" -c "import torch, chgnet; print(f'chgnet {chgnet.__version__} on torch {torch.__version__}')"
fi
cat <<'TXT'
==> done. Run GPAW with one BLAS/OpenMP thread per rank:
      export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
    (as root, OpenMPI also needs OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1)
TXT
