# cython: warn.unreachable=False
# The linear kernels: correlation (direct, separable and FFT tiles), the fused
# gradient magnitude, box sums and the gather of imgconv.nn's transposed
# convolutions.
# setup.py compiles this module's C once per instruction set (_linear_base,
# and _linear_avx2 on x86-64): see KERNEL_UNITS.
include "common.pxi"
include "correlate.pxi"
include "gradient.pxi"
include "running.pxi"
include "transposed.pxi"
include "fft_tiles.pxi"
