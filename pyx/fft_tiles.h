/* The transforms of the compiled FFT tiles (pyx/fft_tiles.pxi): radix-4
 * complex FFTs of power-of-two length along the *rows* axis of a block of
 * split real/imaginary values, every butterfly applied to a run of
 * contiguous lanes, so the compiler vectorises it with no shuffles.
 *
 * The forward pass is decimation in frequency: natural order in,
 * bit-reversed order out.  The inverse is decimation in time with conjugate
 * twiddles: bit-reversed in, natural out, unscaled.  A convolution never
 * needs the spectrum in order (the kernel's spectrum is made by the same
 * forward pass, so the two line up), so no bit reversal is ever done.
 *
 * Lanes go STRIP at a time through all the stages, so that the block being
 * transformed (rows x STRIP lanes, real and imaginary) stays in the L1 cache
 * whatever the rows' length: a 128 x 128 tile pair transformed whole stage
 * by stage ran from L2 at about 1.5x the time.
 *
 * Why not pocketfft (scipy.fft) per tile: its real transforms along the
 * last axis go one line at a time; these run 8 (AVX2) lines per
 * instruction.  A 1024**2 float32 image with a 31**2 kernel took 4-5 ms on
 * one thread here (radix 2; radix 4: 3.7-4) against 11 with scipy.fft
 * tiles. */
#ifndef IMGCONV_FFT_TILES_H
#define IMGCONV_FFT_TILES_H

#include <Python.h>
#include <math.h>

#define IMGCONV_FFT_STRIP 32

/* The lanes of a butterfly never overlap: without this, GCC versions each
 * short loop with run-time overlap tests of its 8 pointers (the restrict
 * qualifiers of locals do not reach it), which cost more than the loop. */
/* The passes are long: inlined at each call they cost compile time for
 * nothing (a pass's own loops are what take the time). */
#if defined(__GNUC__) || defined(__clang__)
#define IMGCONV_NOINLINE __attribute__((noinline))
#else
#define IMGCONV_NOINLINE
#endif

#if defined(__clang__)
#define IMGCONV_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define IMGCONV_IVDEP _Pragma("GCC ivdep")
#else
#define IMGCONV_IVDEP
#endif

#define IMGCONV_DEFINE_FFT_TILES(SUF, T)                                                   \
/* wr[j] + i*wi[j] = exp(-2 pi i j / n), j < n/2 */                                        \
static inline void imgconv_fft_twiddles_##SUF(Py_ssize_t n, T* wr, T* wi)                  \
{                                                                                          \
    for (Py_ssize_t j = 0; j < n / 2; j++) {                                               \
        double angle = 6.28318530717958647692528676655900577 * (double)j / (double)n;      \
        wr[j] = (T)cos(angle);                                                             \
        wi[j] = (T)-sin(angle);                                                            \
    }                                                                                      \
}                                                                                          \
                                                                                           \
/* dst[j * dst_pitch + i] = src[i * src_pitch + j], i < rows, j < cols, in */              \
/* 16 x 16 blocks                                                          */              \
static inline void imgconv_fft_transpose_##SUF(const T* restrict src, Py_ssize_t rows,     \
                                               Py_ssize_t cols, Py_ssize_t src_pitch,      \
                                               T* restrict dst, Py_ssize_t dst_pitch)      \
{                                                                                          \
    for (Py_ssize_t i0 = 0; i0 < rows; i0 += 16)                                           \
        for (Py_ssize_t j0 = 0; j0 < cols; j0 += 16) {                                     \
            Py_ssize_t i1 = i0 + 16 < rows ? i0 + 16 : rows;                               \
            Py_ssize_t j1 = j0 + 16 < cols ? j0 + 16 : cols;                               \
            for (Py_ssize_t j = j0; j < j1; j++)                                           \
                for (Py_ssize_t i = i0; i < i1; i++)                                       \
                    dst[j * dst_pitch + i] = src[i * src_pitch + j];                       \
        }                                                                                  \
}                                                                                          \
                                                                                           \
/* (ar + i ai)[k] *= (kr + i ki)[k], k < n */                                              \
static inline void imgconv_fft_multiply_##SUF(T* restrict ar, T* restrict ai,              \
                                              const T* restrict kr, const T* restrict ki,  \
                                              Py_ssize_t n)                                \
{                                                                                          \
    for (Py_ssize_t k = 0; k < n; k++) {                                                   \
        T xr = ar[k], xi = ai[k];                                                          \
        ar[k] = xr * kr[k] - xi * ki[k];                                                   \
        ai[k] = xr * ki[k] + xi * kr[k];                                                   \
    }                                                                                      \
}

IMGCONV_DEFINE_FFT_TILES(f32, float)
IMGCONV_DEFINE_FFT_TILES(f64, double)

/* The passes: forward (natural order in, bit-reversed out) along n rows,
 * `pitch` apart, of `lanes` values each, with the twiddles of an n_tw-point
 * transform (n_tw a multiple of n); and the inverse (bit-reversed in,
 * natural out, unscaled).  Two radix-2 stages at a time in registers (half
 * the loads and stores, 3 twiddle products per 4 points instead of 4):
 * 25% faster than one stage at a time; where log2(n) is odd, one radix-2
 * stage first (forward) or last (inverse).  The results are the radix-2
 * passes' to rounding, in the same order. */
/* The four rows, h apart, of a radix-4 butterfly from row b + j on */
#define IMGCONV_FFT_QUARTERS(T)                                                            \
    T* restrict r0 = re + (b + j) * pitch + s0;                                            \
    T* restrict i0 = im + (b + j) * pitch + s0;                                            \
    T* restrict r1 = r0 + h * pitch;                                                       \
    T* restrict i1 = i0 + h * pitch;                                                       \
    T* restrict r2 = r0 + 2 * h * pitch;                                                   \
    T* restrict i2 = i0 + 2 * h * pitch;                                                   \
    T* restrict r3 = r0 + 3 * h * pitch;                                                   \
    T* restrict i3 = i0 + 3 * h * pitch;

#define IMGCONV_DEFINE_FFT_PASSES(SUF, T)                                                  \
static IMGCONV_NOINLINE void imgconv_fft_forward_##SUF(T* re, T* im, Py_ssize_t n, Py_ssize_t lanes, \
                                             Py_ssize_t pitch, const T* wr, const T* wi,   \
                                             Py_ssize_t n_tw)                              \
{                                                                                          \
    /* log2(n) odd: n has its one bit in an odd place */                                   \
    int odd = (n & (Py_ssize_t)0x2AAAAAAAAAAAAAAALL) != 0;                                 \
    for (Py_ssize_t s0 = 0; s0 < lanes; s0 += IMGCONV_FFT_STRIP) {                         \
        Py_ssize_t len = lanes - s0 < IMGCONV_FFT_STRIP ? lanes - s0 : IMGCONV_FFT_STRIP;  \
        Py_ssize_t h = n / 2;                                                              \
        if (odd) {                                                                         \
            Py_ssize_t step = n_tw / (2 * h);                                              \
            for (Py_ssize_t j = 0; j < h; j++) {                                           \
                T cr = wr[j * step], ci = wi[j * step];                                    \
                T* restrict ar = re + j * pitch + s0;                                      \
                T* restrict ai = im + j * pitch + s0;                                      \
                T* restrict br = ar + h * pitch;                                           \
                T* restrict bi = ai + h * pitch;                                           \
                IMGCONV_IVDEP for (Py_ssize_t x = 0; x < len; x++) {                       \
                    T xr = ar[x], xi = ai[x], yr = br[x], yi = bi[x];                      \
                    T dr = xr - yr, di = xi - yi;                                          \
                    ar[x] = xr + yr; ai[x] = xi + yi;                                      \
                    br[x] = dr * cr - di * ci; bi[x] = dr * ci + di * cr;                  \
                }                                                                          \
            }                                                                              \
            h /= 2;                                                                        \
        }                                                                                  \
        for (h = h / 2; h >= 1; h /= 4) {                                                  \
            Py_ssize_t step = n_tw / (4 * h);                                              \
            for (Py_ssize_t b = 0; b < n; b += 4 * h)                                      \
                for (Py_ssize_t j = 0; j < h; j++) {                                       \
                    T w1r = wr[j * step], w1i = wi[j * step];                              \
                    T w2r = wr[2 * j * step], w2i = wi[2 * j * step];                      \
                    T w3r = w1r * w2r - w1i * w2i, w3i = w1r * w2i + w1i * w2r;            \
                    IMGCONV_FFT_QUARTERS(T)                                                \
                    IMGCONV_IVDEP for (Py_ssize_t x = 0; x < len; x++) {                   \
                        T sr = r0[x] + r2[x], si = i0[x] + i2[x];                          \
                        T dr = r0[x] - r2[x], di = i0[x] - i2[x];                          \
                        T tr = r1[x] + r3[x], ti = i1[x] + i3[x];                          \
                        T er = r1[x] - r3[x], ei = i1[x] - i3[x];                          \
                        /* -i * e = ei - i er */                                           \
                        T ar_ = sr - tr, ai_ = si - ti;                                    \
                        T br_ = dr + ei, bi_ = di - er;                                    \
                        T cr_ = dr - ei, ci_ = di + er;                                    \
                        r0[x] = sr + tr; i0[x] = si + ti;                                  \
                        r1[x] = ar_ * w2r - ai_ * w2i; i1[x] = ar_ * w2i + ai_ * w2r;      \
                        r2[x] = br_ * w1r - bi_ * w1i; i2[x] = br_ * w1i + bi_ * w1r;      \
                        r3[x] = cr_ * w3r - ci_ * w3i; i3[x] = cr_ * w3i + ci_ * w3r;      \
                    }                                                                      \
                }                                                                          \
        }                                                                                  \
    }                                                                                      \
}                                                                                          \
static IMGCONV_NOINLINE void imgconv_fft_inverse_##SUF(T* re, T* im, Py_ssize_t n, Py_ssize_t lanes, \
                                             Py_ssize_t pitch, const T* wr, const T* wi,   \
                                             Py_ssize_t n_tw)                              \
{                                                                                          \
    for (Py_ssize_t s0 = 0; s0 < lanes; s0 += IMGCONV_FFT_STRIP) {                         \
        Py_ssize_t len = lanes - s0 < IMGCONV_FFT_STRIP ? lanes - s0 : IMGCONV_FFT_STRIP;  \
        Py_ssize_t h;                                                                      \
        for (h = 1; 4 * h <= n; h *= 4) {                                                  \
            Py_ssize_t step = n_tw / (4 * h);                                              \
            for (Py_ssize_t b = 0; b < n; b += 4 * h)                                      \
                for (Py_ssize_t j = 0; j < h; j++) {                                       \
                    T c1r = wr[j * step], c1i = -wi[j * step];                             \
                    T c2r = wr[2 * j * step], c2i = -wi[2 * j * step];                     \
                    T c3r = c1r * c2r - c1i * c2i, c3i = c1r * c2i + c1i * c2r;            \
                    IMGCONV_FFT_QUARTERS(T)                                                \
                    IMGCONV_IVDEP for (Py_ssize_t x = 0; x < len; x++) {                   \
                        T pr = r1[x] * c2r - i1[x] * c2i, pi = r1[x] * c2i + i1[x] * c2r;  \
                        T ar_ = r2[x] * c1r - i2[x] * c1i, ai_ = r2[x] * c1i + i2[x] * c1r; \
                        T br_ = r3[x] * c3r - i3[x] * c3i, bi_ = r3[x] * c3i + i3[x] * c3r; \
                        T u0r = r0[x] + pr, u0i = i0[x] + pi;                              \
                        T u1r = r0[x] - pr, u1i = i0[x] - pi;                              \
                        T sr = ar_ + br_, si = ai_ + bi_;                                  \
                        T dr = ar_ - br_, di = ai_ - bi_;                                  \
                        /* i * d = -di + i dr */                                           \
                        r0[x] = u0r + sr; i0[x] = u0i + si;                                \
                        r2[x] = u0r - sr; i2[x] = u0i - si;                                \
                        r1[x] = u1r - di; i1[x] = u1i + dr;                                \
                        r3[x] = u1r + di; i3[x] = u1i - dr;                                \
                    }                                                                      \
                }                                                                          \
        }                                                                                  \
        if (h < n) {                                                                       \
            Py_ssize_t step = n_tw / (2 * h);                                              \
            for (Py_ssize_t j = 0; j < h; j++) {                                           \
                T cr = wr[j * step], ci = -wi[j * step];                                   \
                T* restrict ar = re + j * pitch + s0;                                      \
                T* restrict ai = im + j * pitch + s0;                                      \
                T* restrict br = ar + h * pitch;                                           \
                T* restrict bi = ai + h * pitch;                                           \
                IMGCONV_IVDEP for (Py_ssize_t x = 0; x < len; x++) {                       \
                    T yr = br[x] * cr - bi[x] * ci, yi = br[x] * ci + bi[x] * cr;          \
                    T xr = ar[x], xi = ai[x];                                              \
                    ar[x] = xr + yr; ai[x] = xi + yi;                                      \
                    br[x] = xr - yr; bi[x] = xi - yi;                                      \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
}

IMGCONV_DEFINE_FFT_PASSES(f32, float)
IMGCONV_DEFINE_FFT_PASSES(f64, double)

#endif
