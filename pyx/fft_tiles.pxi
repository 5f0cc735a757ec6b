# The FFT method of correlate in 2D and 3D (imgconv._fft.tiles_correlate):
# overlap-save tiles of power-of-two lengths, transformed by the compiled
# radix-4 passes of fft_tiles.h.
#
# Two real tiles ride in one complex transform (one as the real part, the
# other as the imaginary part): the kernel is real, so the correlation of
# the pair is the pair of correlations, and no real-to-complex unpacking is
# needed.  Per pair of tiles (Tz x Ty x Tx, Tz = 1 in 2D), in one thread's
# scratch: the load (padded by the boundary rule, type-converted, the
# channel's offset taken out), the forward passes along z, y (whole planes
# of lanes), then x (after a transpose of each plane: every pass runs over
# contiguous lanes), the product with the kernel's spectrum (made by the
# same passes), the inverse passes in reverse order keeping only the rows
# that hold outputs (every stride-th sample), and the store (offset back, rounded and saturated for
# integer outputs).  Pairs are shared out by work_share.h.

from libc.math cimport isfinite

cdef extern from "fft_tiles.h":
    void imgconv_fft_twiddles_f32(Py_ssize_t n, float* wr, float* wi) noexcept nogil
    void imgconv_fft_twiddles_f64(Py_ssize_t n, double* wr, double* wi) noexcept nogil
    void imgconv_fft_forward_f32(float* re, float* im, Py_ssize_t n, Py_ssize_t lanes,
                                 Py_ssize_t pitch, const float* wr, const float* wi,
                                 Py_ssize_t n_tw) noexcept nogil
    void imgconv_fft_forward_f64(double* re, double* im, Py_ssize_t n, Py_ssize_t lanes,
                                 Py_ssize_t pitch, const double* wr, const double* wi,
                                 Py_ssize_t n_tw) noexcept nogil
    void imgconv_fft_inverse_f32(float* re, float* im, Py_ssize_t n, Py_ssize_t lanes,
                                 Py_ssize_t pitch, const float* wr, const float* wi,
                                 Py_ssize_t n_tw) noexcept nogil
    void imgconv_fft_inverse_f64(double* re, double* im, Py_ssize_t n, Py_ssize_t lanes,
                                 Py_ssize_t pitch, const double* wr, const double* wi,
                                 Py_ssize_t n_tw) noexcept nogil
    void imgconv_fft_transpose_f32(const float* src, Py_ssize_t rows, Py_ssize_t cols,
                                   Py_ssize_t src_pitch, float* dst,
                                   Py_ssize_t dst_pitch) noexcept nogil
    void imgconv_fft_transpose_f64(const double* src, Py_ssize_t rows, Py_ssize_t cols,
                                   Py_ssize_t src_pitch, double* dst,
                                   Py_ssize_t dst_pitch) noexcept nogil
    void imgconv_fft_multiply_f32(float* ar, float* ai, const float* kr, const float* ki,
                                  Py_ssize_t n) noexcept nogil
    void imgconv_fft_multiply_f64(double* ar, double* ai, const double* kr, const double* ki,
                                  Py_ssize_t n) noexcept nogil

#: the longest tile transform along one axis, and the most samples in a tile
FFT_TILE_MAX_LENGTH = 1024
FFT_TILE_MAX_SAMPLES = 1 << 18
#: elements between a volume tile's planes beyond the plane's own
FFT_TILE_PLANE_PAD = 16


cdef struct TileGeometry:
    Py_ssize_t n[3]             # transform lengths (z, y, x), powers of two
    Py_ssize_t stride[3]
    Py_ssize_t q[3]             # outputs per tile: (n - extent) // stride + 1
    Py_ssize_t step[3]          # padded samples from one tile to the next: q * stride
    Py_ssize_t count[3]         # tiles per axis
    Py_ssize_t padded[3]        # padded samples the outputs read: (out - 1) * stride + extent
    Py_ssize_t n_tw             # the longest of n
    Py_ssize_t plane            # elements from one plane of a tile to the next
    Py_ssize_t size             # elements of a tile: n[0] * plane
    Py_ssize_t ntiles           # nbatch * count[0] * count[1] * count[2]
    Py_ssize_t nbatch
    Py_ssize_t in_shape[3]
    Py_ssize_t in_strides[4]
    Py_ssize_t out_shape[3]
    Py_ssize_t out_strides[4]
    int in_dtype, out_dtype


cdef inline void tile_twiddles(Py_ssize_t n, acc_t* wr, acc_t* wi) noexcept nogil:
    if acc_t is float:
        imgconv_fft_twiddles_f32(n, wr, wi)
    else:
        imgconv_fft_twiddles_f64(n, wr, wi)


cdef inline void tile_forward(acc_t* re, acc_t* im, Py_ssize_t n, Py_ssize_t lanes,
                              Py_ssize_t pitch, const acc_t* wr, const acc_t* wi,
                              Py_ssize_t n_tw) noexcept nogil:
    if n == 1:
        return
    if acc_t is float:
        imgconv_fft_forward_f32(re, im, n, lanes, pitch, wr, wi, n_tw)
    else:
        imgconv_fft_forward_f64(re, im, n, lanes, pitch, wr, wi, n_tw)


cdef inline void tile_inverse(acc_t* re, acc_t* im, Py_ssize_t n, Py_ssize_t lanes,
                              Py_ssize_t pitch, const acc_t* wr, const acc_t* wi,
                              Py_ssize_t n_tw) noexcept nogil:
    if n == 1:
        return
    if acc_t is float:
        imgconv_fft_inverse_f32(re, im, n, lanes, pitch, wr, wi, n_tw)
    else:
        imgconv_fft_inverse_f64(re, im, n, lanes, pitch, wr, wi, n_tw)


cdef inline void tile_transpose(const acc_t* src, Py_ssize_t rows, Py_ssize_t cols,
                                Py_ssize_t src_pitch, acc_t* dst,
                                Py_ssize_t dst_pitch) noexcept nogil:
    if acc_t is float:
        imgconv_fft_transpose_f32(src, rows, cols, src_pitch, dst, dst_pitch)
    else:
        imgconv_fft_transpose_f64(src, rows, cols, src_pitch, dst, dst_pitch)


cdef void tiles_to_spectrum(acc_t* ar, acc_t* ai, acc_t* br, acc_t* bi, const TileGeometry* g,
                            const acc_t* wr, const acc_t* wi) noexcept nogil:
    """The forward transform of the tile pair in ``ar``/``ai`` (z, y, x
    planes): into ``br``/``bi``, each plane transposed (z, x, y)."""
    cdef Py_ssize_t z, plane = g.plane
    tile_forward(ar, ai, g.n[0], g.n[1] * g.n[2], plane, wr, wi, g.n_tw)
    for z in range(g.n[0]):
        tile_forward(ar + z * plane, ai + z * plane, g.n[1], g.n[2], g.n[2], wr, wi, g.n_tw)
        tile_transpose(ar + z * plane, g.n[1], g.n[2], g.n[2], br + z * plane, g.n[1])
        tile_transpose(ai + z * plane, g.n[1], g.n[2], g.n[2], bi + z * plane, g.n[1])
        tile_forward(br + z * plane, bi + z * plane, g.n[2], g.n[1], g.n[1], wr, wi, g.n_tw)


cdef void spectrum_to_tiles(acc_t* ar, acc_t* ai, acc_t* br, acc_t* bi, const TileGeometry* g,
                            const acc_t* wr, const acc_t* wi) noexcept nogil:
    """The inverse of :func:`tiles_to_spectrum` (unscaled), from ``br``/``bi``
    into ``ar``/``ai``, computing only what the outputs (the samples ``j *
    stride``, ``j < q``, of each axis) need: the x samples are picked by the
    transpose back, so the outputs of a row are its first ``q[2]`` values."""
    cdef Py_ssize_t z, plane = g.plane
    for z in range(g.n[0]):
        tile_inverse(br + z * plane, bi + z * plane, g.n[2], g.n[1], g.n[1], wr, wi, g.n_tw)
        tile_transpose(br + z * plane, g.q[2], g.n[1], g.n[1] * g.stride[2], ar + z * plane,
                       g.n[2])
        tile_transpose(bi + z * plane, g.q[2], g.n[1], g.n[1] * g.stride[2], ai + z * plane,
                       g.n[2])
        tile_inverse(ar + z * plane, ai + z * plane, g.n[1], g.q[2], g.n[2], wr, wi, g.n_tw)
    # the rows that hold outputs are within the first (q[1] - 1) * stride[1] + 1
    # of each plane: one run of lanes
    tile_inverse(ar, ai, g.n[0], ((g.q[1] - 1) * g.stride[1] + 1) * g.n[2], plane, wr, wi,
                 g.n_tw)


cdef inline void tile_position(const TileGeometry* g, Py_ssize_t tile, Py_ssize_t* b,
                               Py_ssize_t* tz, Py_ssize_t* ty, Py_ssize_t* tx) noexcept nogil:
    """Tile ``tile``'s channel and its place in the tile grid (tiles are
    numbered over batch, z, y, x, x fastest)."""
    tx[0] = tile % g.count[2]
    ty[0] = (tile // g.count[2]) % g.count[1]
    tz[0] = (tile // (g.count[2] * g.count[1])) % g.count[0]
    b[0] = tile // (g.count[2] * g.count[1] * g.count[0])


cdef void load_tile(acc_t* dst, Py_ssize_t tile, const char* src, const TileGeometry* g,
                    const Py_ssize_t* ztable, const Py_ssize_t* ytable, const PaddedRow* xrow,
                    acc_t cval, acc_t offset) noexcept nogil:
    """Tile ``tile`` (flat over batch, z, y, x tiles) of the padded input,
    minus ``offset``, into ``dst`` (z, y, x planes); the samples beyond the
    padded extent (they reach only dropped outputs) are zeros."""
    cdef Py_ssize_t b, tz, ty, tx
    tile_position(g, tile, &b, &tz, &ty, &tx)
    cdef Py_ssize_t z, y, i, pz, py, iz, iy
    cdef Py_ssize_t px = tx * g.step[2], width = min(g.n[2], g.padded[2] - px)
    cdef Py_ssize_t step = g.in_strides[3] // itemsize(g.in_dtype)
    cdef acc_t* row
    for z in range(g.n[0]):
        pz = tz * g.step[0] + z
        iz = ztable[pz] if pz < g.padded[0] else -2
        for y in range(g.n[1]):
            row = dst + z * g.plane + y * g.n[2]
            py = ty * g.step[1] + y
            iy = ytable[py] if py < g.padded[1] else -2
            if iz == -2 or iy == -2:
                for i in range(g.n[2]):
                    row[i] = 0
                continue
            if iz == -1 or iy == -1:
                for i in range(width):
                    row[i] = cval
            else:
                load_row(src + b * g.in_strides[0] + iz * g.in_strides[1] + iy * g.in_strides[2],
                         g.in_dtype, step, row, px, px + width, xrow, cval)
            if offset != 0:
                for i in range(width):
                    row[i] -= offset
            for i in range(width, g.n[2]):
                row[i] = 0


cdef void store_tile(acc_t* tile_values, Py_ssize_t tile, char* dst, const TileGeometry* g,
                     acc_t add) noexcept nogil:
    """The outputs of tile ``tile`` held by ``tile_values`` (z, y, x planes
    of the tile's length), plus ``add``, into ``dst``."""
    cdef Py_ssize_t b, tz, ty, tx
    tile_position(g, tile, &b, &tz, &ty, &tx)
    cdef Py_ssize_t z, y, i, oz, oy
    cdef Py_ssize_t ox = tx * g.q[2], width = min(g.q[2], g.out_shape[2] - ox)
    cdef Py_ssize_t step = g.out_strides[3] // itemsize(g.out_dtype)
    cdef acc_t* row
    for z in range(min(g.q[0], g.out_shape[0] - tz * g.q[0])):
        oz = tz * g.q[0] + z
        for y in range(min(g.q[1], g.out_shape[1] - ty * g.q[1])):
            oy = ty * g.q[1] + y
            row = tile_values + z * g.stride[0] * g.plane + y * g.stride[1] * g.n[2]
            if add != 0:
                for i in range(width):
                    row[i] += add
            store_row(row, dst + b * g.out_strides[0] + oz * g.out_strides[1]
                      + oy * g.out_strides[2] + ox * g.out_strides[3],
                      g.out_dtype, step, width)


cdef int tile_pairs(const char* src, char* dst, const TileGeometry* g, imgconv_work* work,
                    int tid, const Py_ssize_t* ztable, const Py_ssize_t* ytable,
                    const PaddedRow* xrow, const acc_t* kr, const acc_t* ki,
                    const acc_t* wr, const acc_t* wi, acc_t cval, const double* offsets,
                    const double* adds) noexcept nogil:
    """The pairs of tiles this thread takes: 0, 1 where a tile held a NaN or
    an infinity, or -1 without scratch."""
    cdef Py_ssize_t size = g.size
    cdef int64_t begin, end, pair
    cdef Py_ssize_t tile, s, b
    cdef acc_t* scratch
    cdef acc_t* part
    cdef int result = 0
    if not imgconv_work_take(work, tid, &begin, &end):
        return 0
    scratch = <acc_t*>scratch_alloc(4 * size * sizeof(acc_t))
    if scratch == NULL:
        return -1
    cdef acc_t* ar = scratch
    cdef acc_t* ai = scratch + size
    cdef acc_t* br = scratch + 2 * size
    cdef acc_t* bi = scratch + 3 * size
    cdef Py_ssize_t per_image = g.count[0] * g.count[1] * g.count[2]
    while True:
        for pair in range(begin, end):
            for s in range(2):
                tile = 2 * pair + s
                part = ai if s else ar
                if tile >= g.ntiles:
                    for b in range(size):
                        part[b] = 0
                else:
                    b = tile // per_image
                    load_tile(part, tile, src, g, ztable, ytable, xrow, cval,
                              <acc_t>offsets[b])
            tiles_to_spectrum(ar, ai, br, bi, g, wr, wi)
            # the zero-frequency sample is each tile's sum: not finite exactly
            # where a sample is not (or the sum overflows)
            if not (isfinite(br[0]) and isfinite(bi[0])):
                result = 1
            if acc_t is float:
                imgconv_fft_multiply_f32(br, bi, kr, ki, size)
            else:
                imgconv_fft_multiply_f64(br, bi, kr, ki, size)
            spectrum_to_tiles(ar, ai, br, bi, g, wr, wi)
            for s in range(2):
                tile = 2 * pair + s
                if tile < g.ntiles:
                    store_tile(ai if s else ar, tile, dst, g, <acc_t>adds[tile // per_image])
        if not imgconv_work_take(work, tid, &begin, &end):
            break
    scratch_free(scratch)
    return result


cdef void set_tile_lengths(TileGeometry* g, tuple lengths, tuple extent,
                           tuple stride=(1, 1, 1)):
    """The transform lengths (z, y, x) and the outputs each tile holds."""
    cdef int i
    g.n_tw = 1
    for i in range(3):
        g.n[i] = lengths[i]
        g.stride[i] = stride[i]
        if g.stride[i] < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        if (g.n[i] < 1 or g.n[i] & (g.n[i] - 1) or g.n[i] < extent[i]
                or g.n[i] > FFT_TILE_MAX_LENGTH):
            raise ValueError(f"tile lengths {lengths} do not suit the kernel extent {extent}")
        g.q[i] = (g.n[i] - extent[i]) // g.stride[i] + 1
        g.step[i] = g.q[i] * g.stride[i]
        g.n_tw = max(g.n_tw, g.n[i])
    if g.n[0] * g.n[1] * g.n[2] > FFT_TILE_MAX_SAMPLES:
        raise ValueError(f"tile lengths {lengths} exceed {FFT_TILE_MAX_SAMPLES} samples")
    # planes a power of two apart would share the L1 cache's sets along the
    # z pass (a 32**3 tile's planes are 4 KiB apart): a few lanes more apart
    g.plane = g.n[1] * g.n[2] + (FFT_TILE_PLANE_PAD if g.n[0] > 1 else 0)
    g.size = g.n[0] * g.plane


cdef object _compute_dtype(cnp.ndarray a, str name):
    """float32 or float64: ``a``'s dtype, which must be one of them, with
    ``a`` C-contiguous."""
    if a.dtype != np.float32 and a.dtype != np.float64:
        raise ValueError(f"{name} must be float32 or float64, got {a.dtype}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    return a.dtype


def fft_tile_twiddles(Py_ssize_t n, dtype):
    """``(wr, wi)``: ``exp(-2 pi i j / n)``, ``j < n/2``, in ``dtype`` (the
    twiddles of every transform length up to ``n``, a power of two)."""
    wr = np.zeros(max(1, n // 2), dtype)
    wi = np.zeros(max(1, n // 2), dtype)
    if wr.dtype == np.float32:
        tile_twiddles(n, <float*>cnp.PyArray_DATA(wr), <float*>cnp.PyArray_DATA(wi))
    else:
        tile_twiddles(n, <double*>cnp.PyArray_DATA(wr), <double*>cnp.PyArray_DATA(wi))
    return wr, wi


cdef void _spectrum_run(const acc_t* weights, Py_ssize_t kz, Py_ssize_t ky, Py_ssize_t kx,
                        acc_t* a, acc_t* kr, acc_t* ki, const TileGeometry* g,
                        const acc_t* wr, const acc_t* wi) noexcept nogil:
    cdef Py_ssize_t size = g.size, i, z, y, x
    cdef acc_t scale = <acc_t>(1.0 / (g.n[0] * g.n[1] * g.n[2]))
    for z in range(kz):
        for y in range(ky):
            for x in range(kx):
                a[z * g.plane + y * g.n[2] + x] = weights[(z * ky + y) * kx + x]
    tiles_to_spectrum(a, a + size, kr, ki, g, wr, wi)
    for i in range(size):
        kr[i] = kr[i] * scale
        ki[i] = -ki[i] * scale


def fft_tile_spectrum(cnp.ndarray weights, tuple lengths):
    """``(kr, ki)``: the transform of ``weights`` (z, y, x, C-contiguous
    float32 or float64; at most the tile lengths), zero-padded to
    ``lengths`` (z, y, x), as the tiles' transforms leave it (each plane
    transposed, bit-reversed order; in 3D the planes
    ``FFT_TILE_PLANE_PAD`` elements further apart than their size),
    conjugated (the tiles correlate) and
    divided by the tile's samples (the inverse is unscaled); in the weights'
    dtype, for :func:`fft_tiles_correlate`."""
    if weights.ndim != 3:
        raise ValueError("weights must be 3D (z, y, x)")
    dtype = _compute_dtype(weights, "weights")
    cdef TileGeometry g
    set_tile_lengths(&g, lengths, (weights.shape[0], weights.shape[1], weights.shape[2]))
    cdef Py_ssize_t size = g.size
    a = np.zeros(2 * size, dtype)
    kr = np.zeros(size, dtype)      # (the padding between planes stays 0)
    ki = np.zeros(size, dtype)
    wr, wi = fft_tile_twiddles(g.n_tw, dtype)
    if dtype == np.float32:
        _spectrum_run[float](<const float*>cnp.PyArray_DATA(weights), weights.shape[0],
                             weights.shape[1], weights.shape[2], <float*>cnp.PyArray_DATA(a),
                             <float*>cnp.PyArray_DATA(kr), <float*>cnp.PyArray_DATA(ki), &g,
                             <const float*>cnp.PyArray_DATA(wr),
                             <const float*>cnp.PyArray_DATA(wi))
    else:
        _spectrum_run[double](<const double*>cnp.PyArray_DATA(weights), weights.shape[0],
                              weights.shape[1], weights.shape[2], <double*>cnp.PyArray_DATA(a),
                              <double*>cnp.PyArray_DATA(kr), <double*>cnp.PyArray_DATA(ki), &g,
                              <const double*>cnp.PyArray_DATA(wr),
                              <const double*>cnp.PyArray_DATA(wi))
    return kr, ki


cdef int _tiles_run(const char* src, char* dst, const TileGeometry* g, int nthreads,
                    const Py_ssize_t* ztable, const Py_ssize_t* ytable, const PaddedRow* xrow,
                    const acc_t* kr, const acc_t* ki, const acc_t* wr, const acc_t* wi,
                    acc_t cval, const double* offsets, const double* adds) except -1:
    """The parallel sweep over the pairs of tiles: 0, or 1 where a tile held
    a NaN or an infinity."""
    cdef Py_ssize_t npairs = (g.ntiles + 1) // 2
    cdef int tid, i, result = 0
    cdef int* status
    cdef imgconv_work work
    nthreads = max(1, min(nthreads, npairs))
    work_storage = share_work(&work, nthreads, npairs, 1, &status)
    with nogil, parallel(num_threads=nthreads):
        tid = threadid()
        status[tid] = tile_pairs(src, dst, g, &work, tid, ztable, ytable, xrow, kr, ki, wr, wi,
                                 cval, offsets, adds)
    check_scratch(status, nthreads)
    for i in range(nthreads):
        if status[i] != 0:
            result = 1
    return result


def fft_tiles_correlate(cnp.ndarray x, cnp.ndarray out, tuple lengths, tuple extent,
                        tuple stride, cnp.ndarray kr, cnp.ndarray ki, tuple pad_lo, tuple modes,
                        double cval, cnp.ndarray offsets, cnp.ndarray adds,
                        int in_dtype, int out_dtype, int nthreads):
    """Correlate (B, D, H, W) ``x`` with the kernel whose tile spectrum is
    ``kr``/``ki`` (:func:`fft_tile_spectrum` for ``lengths``; its extent
    ``extent``, dilation included) into ``out`` (B, D', H', W'):
    ``out[b, i] = sum_k w[k] * xpad[b, i*stride + k]``, ``xpad`` padded before by
    ``pad_lo`` (z, y, x) under ``modes`` (a code per axis; ``cval`` for
    MODE_ZERO).  The transforms run in the spectrum's dtype.  Channel
    ``b``'s samples are taken ``offsets[b]`` down before the transforms and
    its outputs ``adds[b]`` up after (float64 arrays).  Returns True when
    every tile's samples were finite (else NaN or infinity spread over some
    tiles).

    Private: ``imgconv._validate`` has already checked and normalised every
    argument (dtype codes, native byte order, element-aligned strides, the
    output's shape for the padding); the caller picks the lengths.
    """
    cdef TileGeometry g
    cdef int i
    if x.ndim != 4 or out.ndim != 4 or x.shape[0] != out.shape[0]:
        raise ValueError("x and out must be 4D arrays with the same batch length")
    if x.itemsize != itemsize(in_dtype) or out.itemsize != itemsize(out_dtype):
        raise ValueError("the dtype codes do not match the arrays")
    dtype = _compute_dtype(kr, "kr")
    set_tile_lengths(&g, lengths, extent, stride)
    if (kr.ndim != 1 or ki.ndim != 1 or kr.shape[0] != g.size
            or ki.shape[0] != kr.shape[0] or _compute_dtype(ki, "ki") != dtype):
        raise ValueError("the spectrum does not match the tile lengths")
    for name, a in (("offsets", offsets), ("adds", adds)):
        if a.dtype != np.float64 or a.ndim != 1 or not a.flags.c_contiguous:
            raise ValueError(f"{name} must be a contiguous 1D float64 array")
        if a.shape[0] != x.shape[0]:
            raise ValueError("offsets and adds need one value per channel")
    g.nbatch = x.shape[0]
    for i in range(3):
        g.in_shape[i] = x.shape[i + 1]
        g.out_shape[i] = out.shape[i + 1]
        g.padded[i] = (g.out_shape[i] - 1) * g.stride[i] + extent[i]
        g.count[i] = (g.out_shape[i] + g.q[i] - 1) // g.q[i]
    for i in range(4):
        g.in_strides[i] = x.strides[i]
        g.out_strides[i] = out.strides[i]
    g.in_dtype, g.out_dtype = in_dtype, out_dtype
    g.ntiles = g.nbatch * g.count[0] * g.count[1] * g.count[2]
    if g.ntiles == 0:
        return True
    wr, wi = fft_tile_twiddles(g.n_tw, dtype)
    tables = np.empty(g.padded[0] + g.padded[1] + g.padded[2], np.intp)
    cdef Py_ssize_t* ztable = <Py_ssize_t*>cnp.PyArray_DATA(tables)
    cdef Py_ssize_t* ytable = ztable + g.padded[0]
    cdef PaddedRow xrow
    fill_index_table(ztable, g.padded[0], pad_lo[0], g.in_shape[0], modes[0])
    fill_index_table(ytable, g.padded[1], pad_lo[1], g.in_shape[1], modes[1])
    set_padded_row(&xrow, ytable + g.padded[1], g.padded[2], pad_lo[2], g.in_shape[2], modes[2])
    cdef const char* src = <const char*>cnp.PyArray_DATA(x)
    cdef char* dst = <char*>cnp.PyArray_DATA(out)
    cdef const double* offsets_p = <const double*>cnp.PyArray_DATA(offsets)
    cdef const double* adds_p = <const double*>cnp.PyArray_DATA(adds)
    cdef int nonfinite
    if dtype == np.float32:
        nonfinite = _tiles_run[float](
            src, dst, &g, nthreads, ztable, ytable, &xrow, <const float*>cnp.PyArray_DATA(kr),
            <const float*>cnp.PyArray_DATA(ki), <const float*>cnp.PyArray_DATA(wr),
            <const float*>cnp.PyArray_DATA(wi), <float>cval, offsets_p, adds_p)
    else:
        nonfinite = _tiles_run[double](
            src, dst, &g, nthreads, ztable, ytable, &xrow, <const double*>cnp.PyArray_DATA(kr),
            <const double*>cnp.PyArray_DATA(ki), <const double*>cnp.PyArray_DATA(wr),
            <const double*>cnp.PyArray_DATA(wi), cval, offsets_p, adds_p)
    return nonfinite == 0
