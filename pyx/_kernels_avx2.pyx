# cython: warn.unreachable=False
# The CPU kernels, compiled once per instruction set from the same source
# (see setup.py); imgconv._dispatch chooses the build at import time.
include "kernels.pxi"
