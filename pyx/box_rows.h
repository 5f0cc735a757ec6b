/* The x pass of the box filter on four float32 rows at once, the rows in
 * the four lanes of a vector of doubles (AVX builds).
 *
 * Why: the sliding sum along a row is a chain of dependent additions, so
 * it cannot be vectorised along the row without changing the order of the
 * sums (and so the rounding).  Four rows side by side in one vector keep
 * each row's order: 4x4 blocks are transposed on the way in and out.  The
 * scalar version with four interleaved chains needed about 10 instructions
 * per sample (conversions, loads and stores one at a time).
 *
 * Outputs x in [x_lo, x_hi) with every position read inside the rows:
 * sum[r] += (double)s[r][x + size - 1 - off] - (double)s[r][x - 1 - off];
 * d[r][x] = (float)(sum[r] * inv).  Returns the first x not done (the
 * caller finishes the rest); without AVX it does nothing and returns x_lo. */
#ifndef IMGCONV_BOX_ROWS_H
#define IMGCONV_BOX_ROWS_H

#include <stddef.h>

#if defined(__AVX__)
#include <immintrin.h>
#endif

static inline ptrdiff_t imgconv_box_x4(const float* s0, const float* s1, const float* s2,
                                       const float* s3, float* d0, float* d1, float* d2,
                                       float* d3, ptrdiff_t x_lo, ptrdiff_t x_hi,
                                       ptrdiff_t size, ptrdiff_t off, double* sums,
                                       double inv)
{
#if defined(__AVX__)
    __m256d total = _mm256_loadu_pd(sums);
    const __m256d scale = _mm256_set1_pd(inv);
    ptrdiff_t x = x_lo;
    const ptrdiff_t in = size - 1 - off, out = -1 - off;
    for (; x + 4 <= x_hi; x += 4) {
        __m128 i0 = _mm_loadu_ps(s0 + x + in), i1 = _mm_loadu_ps(s1 + x + in);
        __m128 i2 = _mm_loadu_ps(s2 + x + in), i3 = _mm_loadu_ps(s3 + x + in);
        __m128 o0 = _mm_loadu_ps(s0 + x + out), o1 = _mm_loadu_ps(s1 + x + out);
        __m128 o2 = _mm_loadu_ps(s2 + x + out), o3 = _mm_loadu_ps(s3 + x + out);
        __m128 r0, r1, r2, r3;
        _MM_TRANSPOSE4_PS(i0, i1, i2, i3);
        _MM_TRANSPOSE4_PS(o0, o1, o2, o3);
        total = _mm256_add_pd(total, _mm256_sub_pd(_mm256_cvtps_pd(i0), _mm256_cvtps_pd(o0)));
        r0 = _mm256_cvtpd_ps(_mm256_mul_pd(total, scale));
        total = _mm256_add_pd(total, _mm256_sub_pd(_mm256_cvtps_pd(i1), _mm256_cvtps_pd(o1)));
        r1 = _mm256_cvtpd_ps(_mm256_mul_pd(total, scale));
        total = _mm256_add_pd(total, _mm256_sub_pd(_mm256_cvtps_pd(i2), _mm256_cvtps_pd(o2)));
        r2 = _mm256_cvtpd_ps(_mm256_mul_pd(total, scale));
        total = _mm256_add_pd(total, _mm256_sub_pd(_mm256_cvtps_pd(i3), _mm256_cvtps_pd(o3)));
        r3 = _mm256_cvtpd_ps(_mm256_mul_pd(total, scale));
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        _mm_storeu_ps(d0 + x, r0);
        _mm_storeu_ps(d1 + x, r1);
        _mm_storeu_ps(d2 + x, r2);
        _mm_storeu_ps(d3 + x, r3);
    }
    _mm256_storeu_pd(sums, total);
    return x;
#else
    (void)s0; (void)s1; (void)s2; (void)s3; (void)d0; (void)d1; (void)d2; (void)d3;
    (void)x_hi; (void)size; (void)off; (void)sums; (void)inv;
    return x_lo;
#endif
}

#endif
