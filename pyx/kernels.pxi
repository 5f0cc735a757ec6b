# All CPU kernels. Each piece is written once, over fused types, and this file
# is included by one module per instruction set (_kernels_baseline,
# _kernels_avx2), so the same source is compiled with different flags.
include "common.pxi"
include "correlate.pxi"
include "gradient.pxi"
include "running.pxi"
include "extreme.pxi"
include "pool.pxi"
include "rank.pxi"
