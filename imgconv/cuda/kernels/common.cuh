// Shared by every kernel: the boundary rule, loading a sample as the compute
// type, storing a result with the output dtype's rounding and saturation, and
// the NaN-propagating extremes.  The same rules as the CPU kernels
// (pyx/common.pxi, pyx/extreme.pxi), so both backends give one result.
//
// Include prelude.cuh first.  Only plain C++ types are used here (NVRTC has
// no <cstdint>): unsigned char, unsigned short, short, int, long long,
// unsigned long long, float, double.
#pragma once

// Boundary modes: imgconv._validate.MODE_CODES
#define IMGCONV_MODE_ZERO 0
#define IMGCONV_MODE_REPLICATE 1
#define IMGCONV_MODE_REFLECT 2
#define IMGCONV_MODE_SYMMETRIC 3
#define IMGCONV_MODE_WRAP 4

// dtype codes: imgconv._validate.DTYPE_CODES / EXTREME_DTYPE_CODES
#define IMGCONV_DT_UINT8 0
#define IMGCONV_DT_UINT16 1
#define IMGCONV_DT_INT16 2
#define IMGCONV_DT_INT32 3
#define IMGCONV_DT_FLOAT32 4
#define IMGCONV_DT_FLOAT64 5
#define IMGCONV_DT_INT64 6
#define IMGCONV_DT_UINT64 7

// Scalars cross the launch boundary as 64-bit values (the launch API passes
// numpy int64/float64 scalars); this is the parameter type for a dtype.
template <typename T> struct ScalarArg { typedef long long type; };
template <> struct ScalarArg<float> { typedef double type; };
template <> struct ScalarArg<double> { typedef double type; };

// Index of the input sample that padded position ``i`` reads along an axis of
// ``n`` samples, or -1 for the constant (cval).  Any distance outside [0, n)
// repeats the rule, so wide padding never reads out of bounds.
__device__ inline int map_index(int i, int n, int mode) {
    if (i >= 0 && i < n) return i;
    if (mode == IMGCONV_MODE_ZERO) return -1;
    if (mode == IMGCONV_MODE_REPLICATE) return i < 0 ? 0 : n - 1;
    if (mode == IMGCONV_MODE_WRAP) {
        i %= n;
        return i < 0 ? i + n : i;
    }
    if (mode == IMGCONV_MODE_REFLECT) {
        if (n == 1) return 0;
        int period = 2 * n - 2;
        i %= period;
        if (i < 0) i += period;
        return i < n ? i : period - i;
    }
    // symmetric
    int period = 2 * n;
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - 1 - i;
}

// A sample as the compute type A, read through the read-only data cache.
template <typename A, typename T>
__device__ inline A load_as(const T* p) {
    return static_cast<A>(__ldg(p));
}

// A value of the compute type rounded to nearest (ties to even), saturated
// to [lo, hi]; NaN becomes 0 (OpenCV's saturate_cast, the CPU's store rule).
template <typename A>
__device__ inline A round_saturate(A v, A lo, A hi) {
    v = rint(v);
    if (!(v >= lo)) return v < lo ? lo : A(0);   // also catches NaN
    return v > hi ? hi : v;
}

// out[offset] = v, converted to the output dtype ``out_dtype`` (known only at
// run time: one switch per store keeps the number of compiled variants down,
// and every thread of a launch takes the same branch).  int32 saturates in
// double, which holds 2**31 - 1 exactly where float32 does not.
template <typename A>
__device__ inline void store_as(void* out, long long offset, int out_dtype, A v) {
    switch (out_dtype) {
    case IMGCONV_DT_UINT8:
        static_cast<unsigned char*>(out)[offset] =
            static_cast<unsigned char>(round_saturate<A>(v, A(0), A(255)));
        break;
    case IMGCONV_DT_UINT16:
        static_cast<unsigned short*>(out)[offset] =
            static_cast<unsigned short>(round_saturate<A>(v, A(0), A(65535)));
        break;
    case IMGCONV_DT_INT16:
        static_cast<short*>(out)[offset] =
            static_cast<short>(round_saturate<A>(v, A(-32768), A(32767)));
        break;
    case IMGCONV_DT_INT32:
        static_cast<int*>(out)[offset] = static_cast<int>(
            round_saturate<double>(static_cast<double>(v), -2147483648.0, 2147483647.0));
        break;
    case IMGCONV_DT_FLOAT32:
        static_cast<float*>(out)[offset] = static_cast<float>(v);
        break;
    default:
        static_cast<double*>(out)[offset] = static_cast<double>(v);
        break;
    }
}

// NaN test that needs no math library (integers are never NaN).
template <typename T>
__device__ inline bool is_nan(T v) {
    return v != v;
}

// The larger (``is_max``) or smaller of two samples; a NaN in either wins,
// as numpy.maximum/minimum (the CPU's max2/min2).
template <typename T>
__device__ inline T extreme2(T a, T b, bool is_max) {
    if (is_nan(a)) return a;
    if (is_nan(b)) return b;
    if (is_max) return a > b ? a : b;
    return a < b ? a : b;
}

// Where flat output ``item`` of a (B, D, H, W) array sits, x fastest: the
// order of the one-output-per-thread kernels, so neighbouring threads write
// neighbouring samples.
struct Position4 {
    long long b;
    int z, y, x;
};
__device__ inline Position4 position4(long long item, int depth, int height, int width) {
    Position4 p;
    p.x = (int)(item % width);
    p.y = (int)((item / width) % height);
    p.z = (int)((item / ((long long)width * height)) % depth);
    p.b = item / ((long long)width * height * depth);
    return p;
}

// Element offset of (b, z, y, x) in a 4D array of the given element strides.
__device__ inline long long offset4(long long b, long long z, long long y, long long x,
                                    long long s0, long long s1, long long s2, long long s3) {
    return b * s0 + z * s1 + y * s2 + x * s3;
}
