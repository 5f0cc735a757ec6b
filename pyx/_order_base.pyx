# cython: warn.unreachable=False
# The order-statistic kernels: running and footprint maxima and minima,
# non-flat morphology, pooling and the rank filters.  setup.py compiles this
# module's C once per instruction set (_order_base, and _order_avx2 on
# x86-64): see KERNEL_UNITS.
include "common.pxi"
include "extreme.pxi"
include "pool.pxi"
include "rank.pxi"
