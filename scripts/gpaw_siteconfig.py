"""GPAW build configuration for Debian (read by GPAW's setup.py through GPAW_CONFIG).

Links against Debian's libxc-dev, libopenblas-dev (as `blas`), libfftw3-dev and, when
Open MPI's C++ wrapper is on PATH, libscalapack-openmpi-dev. scripts/setup.sh installs
those packages and sets GPAW_CONFIG to this file.

GPAW compiles its C sources as C++; without `mpic++` the default compiler (gcc) fails on
`#include <algorithm>`, hence the explicit `g++` for the serial build.
"""
# flake8: noqa  (this file is exec'd by GPAW's setup.py with `libraries` etc. predefined)
import shutil

fftw = True
libraries += ['fftw3', 'blas']  # a siteconfig replaces GPAW's default ['xc', 'blas']: re-add blas

if shutil.which('mpic++'):
    mpi = True
    compiler = 'mpic++'
    scalapack = True
    libraries += ['scalapack-openmpi']
else:
    mpi = False
    compiler = 'g++'
    scalapack = False
