# Transposed convolutions, products first (imgconv.nn._conv.product_first_transposed):
# BLAS has multiplied the weights with the input, one row of products per
# (tap, output channel) and input plane; this gather sums, for every output
# of a block of output planes, the products of the taps that reach it, and
# writes each output once.
#
# How it is fast: an output row is summed phase by phase of the stride along
# W (the outputs ``f + s*j``), where every tap of the phase is a contiguous
# run of a products row: 16 outputs at a time summed over all the phase's
# taps in registers (transposed_sum.h), then the phases interleaved into the
# row in one pass.  Nothing is added into the output in place, no output is
# cleared first, and the products are read where BLAS wrote them: a ring of
# input planes, so a block's products of the planes it shares with the next
# stay where they are.

cimport cython
from libc.stdlib cimport malloc, free

cdef extern from "transposed_sum.h":
    void imgconv_sum_runs_f32(float* dst, const float* base, const Py_ssize_t* start,
                              const Py_ssize_t* first, const Py_ssize_t* last,
                              Py_ssize_t nterms, Py_ssize_t lo, Py_ssize_t hi,
                              Py_ssize_t n) noexcept nogil
    void imgconv_sum_runs_f64(double* dst, const double* base, const Py_ssize_t* start,
                              const Py_ssize_t* first, const Py_ssize_t* last,
                              Py_ssize_t nterms, Py_ssize_t lo, Py_ssize_t hi,
                              Py_ssize_t n) noexcept nogil


cdef inline Py_ssize_t floor_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    """Python's ``a // b`` for ``b > 0`` (C division truncates towards zero)."""
    return a // b if a >= 0 else -((-a + b - 1) // b)


cdef inline Py_ssize_t floor_mod(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    """Python's ``a % b`` for ``b > 0``."""
    return a - floor_div(a, b) * b


cdef Py_ssize_t axis_taps(Py_ssize_t o, Py_ssize_t k, Py_ssize_t s, Py_ssize_t p,
                          Py_ssize_t d, Py_ssize_t n, Py_ssize_t* taps,
                          Py_ssize_t* inputs) noexcept nogil:
    """The taps of one axis that reach output ``o`` from an input inside
    ``[0, n)``: their count, the taps in ``taps`` and those inputs in ``inputs``."""
    cdef Py_ssize_t t, m, count = 0
    for t in range(k):
        m = o + p - t * d
        if m >= 0 and m % s == 0 and m // s < n:
            taps[count] = t
            inputs[count] = m // s
            count += 1
    return count


def transposed_gather(const cython.floating[:, ::1] products, cython.floating[:, :, :, :] out,
                      Py_ssize_t ring, Py_ssize_t ring_origin, Py_ssize_t held_start,
                      Py_ssize_t held_count,
                      Py_ssize_t plane_start, Py_ssize_t plane_stop, tuple in_shape,
                      tuple kernel_size, tuple stride, tuple padding, tuple dilation):
    """Write the output planes ``plane_start .. plane_stop - 1`` of ``out``
    (C_out/groups, D, H, W; any strides but contiguous rows) of a transposed
    convolution from ``products``.

    ``products[t*C + c, (r*H_in + h)*W_in + w]`` is tap ``t`` (flat index
    of ``kernel_size``, C order) of output channel ``c`` times input sample
    ``(i, h, w)``, in the ring's slot ``r = (i - ring_origin) mod ring``,
    for the input planes ``held_start .. held_start + held_count - 1`` (at
    most ``ring``): every input plane that the output planes read
    (ValueError if one is missing).  Input
    sample ``(i, h, w)`` reaches output ``(i*sd - pd + kd*dd, ...)``
    through tap ``(kd, kh, kw)``; 1D and 2D convolutions come as 3D ones
    with unit axes.  Runs without the GIL.
    """
    cdef Py_ssize_t D_in = in_shape[0], H_in = in_shape[1], W_in = in_shape[2]
    cdef Py_ssize_t KD = kernel_size[0], KH = kernel_size[1], KW = kernel_size[2]
    cdef Py_ssize_t sd = stride[0], sh = stride[1], sw = stride[2]
    cdef Py_ssize_t pd = padding[0], ph = padding[1], pw = padding[2]
    cdef Py_ssize_t dd = dilation[0], dh = dilation[1], dw = dilation[2]
    cdef Py_ssize_t channels = out.shape[0], H_out = out.shape[2], W_out = out.shape[3]
    cdef Py_ssize_t taps = KD * KH * KW, pitch = products.shape[1]
    if out.shape[3] > 1 and out.strides[3] != sizeof(cython.floating):
        raise ValueError("out's rows (its last axis) must be contiguous")
    if min(KD, KH, KW, sd, sh, sw, dd, dh, dw) < 1 or min(pd, ph, pw) < 0:
        raise ValueError("kernel_size, stride and dilation must be >= 1, padding >= 0")
    if products.shape[0] != taps * channels:
        raise ValueError(f"products has {products.shape[0]} rows, not taps x channels "
                         f"({taps} x {channels})")
    if not 0 <= held_count <= ring or ring * H_in * W_in > pitch:
        raise ValueError(f"a ring of {ring} planes of {H_in} x {W_in} inputs holding "
                         f"{held_count} does not fit products' {pitch} columns")
    if not 0 <= plane_start <= plane_stop <= out.shape[1]:
        raise ValueError(f"planes {plane_start}..{plane_stop} are not in out's "
                         f"{out.shape[1]}")
    if channels == 0 or plane_start == plane_stop or H_out == 0 or W_out == 0:
        return
    cdef Py_ssize_t span = (W_out + sw - 1) // sw       # outputs of the widest phase
    cdef Py_ssize_t f, n, j, t, c, od, oh, a, b, nd, nh, shift, first, last, count, row
    cdef Py_ssize_t missing = -1
    # per phase f of the stride along W (outputs f + sw*j): the taps kw that
    # reach it, products column j + shift feeding output j for j in [first,
    # last); the phase's length, and [lo, hi) where all its taps take part
    cdef Py_ssize_t* phase = <Py_ssize_t*>malloc((4 * sw * KW + 4 * sw) * sizeof(Py_ssize_t))
    cdef Py_ssize_t* phase_count = phase + 4 * sw * KW
    cdef Py_ssize_t* phase_length = phase_count + sw
    cdef Py_ssize_t* phase_lo = phase_length + sw
    cdef Py_ssize_t* phase_hi = phase_lo + sw
    # the terms of an output row's phases, taps apart: products offset
    # (channel 0), first, last; and the taps of the row along D and H
    cdef Py_ssize_t* terms = <Py_ssize_t*>malloc((3 * sw * taps + 2 * (KD + KH) + sw)
                                                 * sizeof(Py_ssize_t))
    cdef Py_ssize_t* nterms = terms + 3 * sw * taps
    cdef Py_ssize_t* d_taps = nterms + sw
    cdef Py_ssize_t* d_inputs = d_taps + KD
    cdef Py_ssize_t* h_taps = d_inputs + KD
    cdef Py_ssize_t* h_inputs = h_taps + KH
    cdef cython.floating* sums = <cython.floating*>malloc(sw * span * sizeof(cython.floating))
    if not (phase and terms and sums):
        free(phase)
        free(terms)
        free(sums)
        raise MemoryError()
    cdef Py_ssize_t* start
    cdef cython.floating* row_out
    cdef cython.floating* dst
    cdef const cython.floating* base = &products[0, 0]
    for f in range(sw):
        count = 0
        phase_length[f] = (W_out - f + sw - 1) // sw
        phase_lo[f], phase_hi[f] = 0, phase_length[f]
        for t in range(KW):
            a = f + pw - t * dw
            if floor_div(a, sw) * sw != a:
                continue
            shift = floor_div(a, sw)
            first = max(0, -shift)
            last = min(phase_length[f], W_in - shift)
            if first >= last:
                continue
            phase[4 * (f * KW + count)] = t
            phase[4 * (f * KW + count) + 1] = shift
            phase[4 * (f * KW + count) + 2] = first
            phase[4 * (f * KW + count) + 3] = last
            phase_lo[f], phase_hi[f] = max(phase_lo[f], first), min(phase_hi[f], last)
            count += 1
        phase_count[f] = count
    with nogil:
        for od in range(plane_start, plane_stop):
            nd = axis_taps(od, KD, sd, pd, dd, D_in, d_taps, d_inputs)
            for a in range(nd):
                if not held_start <= d_inputs[a] < held_start + held_count:
                    missing = d_inputs[a]
            if missing >= 0:
                break
            for oh in range(H_out):
                nh = axis_taps(oh, KH, sh, ph, dh, H_in, h_taps, h_inputs)
                # the row's terms, phase by phase: every (kd, kh) that reaches
                # the row with every kw of the phase
                for f in range(sw):
                    start = terms + 3 * f * taps
                    count = 0
                    for a in range(nd):
                        for b in range(nh):
                            row = (floor_mod(d_inputs[a] - ring_origin, ring) * H_in
                                   + h_inputs[b]) * W_in
                            for n in range(phase_count[f]):
                                t = 4 * (f * KW + n)
                                start[count] = ((d_taps[a] * KH + h_taps[b]) * KW
                                                + phase[t]) * channels * pitch + row + phase[t + 1]
                                start[taps + count] = phase[t + 2]
                                start[2 * taps + count] = phase[t + 3]
                                count += 1
                    nterms[f] = count
                for c in range(channels):
                    row_out = &out[c, od, oh, 0]
                    for f in range(sw):
                        start = terms + 3 * f * taps
                        # stride 1: the row is the phase
                        dst = row_out if sw == 1 else sums + f * span
                        if cython.floating is float:
                            imgconv_sum_runs_f32(dst, base + c * pitch, start, start + taps,
                                                 start + 2 * taps, nterms[f], phase_lo[f],
                                                 phase_hi[f], phase_length[f])
                        else:
                            imgconv_sum_runs_f64(dst, base + c * pitch, start, start + taps,
                                                 start + 2 * taps, nterms[f], phase_lo[f],
                                                 phase_hi[f], phase_length[f])
                    if sw == 2:
                        for j in range(W_out // 2):
                            row_out[2 * j] = sums[j]
                            row_out[2 * j + 1] = sums[span + j]
                        if W_out % 2:
                            row_out[W_out - 1] = sums[W_out // 2]
                    elif sw > 2:
                        for f in range(sw):
                            for j in range(phase_length[f]):
                                row_out[f + sw * j] = sums[f * span + j]
    free(phase)
    free(terms)
    free(sums)
    if missing >= 0:
        raise ValueError(f"input plane {missing} reaches planes {plane_start}..{plane_stop} "
                         f"but is not among the {held_count} held from {held_start}")
