// Running maximum and minimum (grey dilation and erosion) in the array's own
// dtype, as the CPU's extreme.pxi: a NaN anywhere in a window makes the
// result NaN; the constant mode pads with cval (a value of the dtype).
//
// extreme_line: one axis of a (batch, D, H, W) array, output i taking the
// extreme of padded positions i .. i + window - 1 (position j reads sample
// j - pad_lo).  Short windows are combined directly; longer ones by van
// Herk / Gil-Werman: within each block of ``window`` outputs the suffix
// extremes up to the block's last position are written to ``out`` going
// backwards, then combined with the prefix extremes past it going forwards,
// about three comparisons per output whatever the window.  A box is one such
// pass per axis (the wrapper chains them).
//
// extreme_footprint: any flat footprint, given as runs of consecutive cells
// (footprint plane, row, first column, length), one output per thread.
//
// extreme_structure: the same with heights (non-flat morphology, the CPU's
// extreme_structure): each cell adds its run's height, saturated for
// integers, before the cells combine.
#include "prelude.cuh"
#include "common.cuh"
#include "lines.cuh"
#include "footprint.cuh"

template <typename T>
__device__ inline T line_sample(const T* line, long long step, int position, int n, int mode,
                                T cval) {
    const int m = map_index(position, n, mode);
    return m < 0 ? cval : __ldg(line + m * step);
}

template <typename T>
__global__ void extreme_line(const T* __restrict__ x, T* out, int n0, int n1, int n2, int n3,
                             long long xs0, long long xs1, long long xs2, long long xs3,
                             long long os0, long long os1, long long os2, long long os3,
                             int axis, int window, int pad_lo, int mode,
                             typename ScalarArg<T>::type cval_arg, int is_max, int direct,
                             int chunk) {
    const int shape[4] = {n0, n1, n2, n3};
    const int n = shape[axis];
    const T cval = static_cast<T>(cval_arg);
    const bool use_max = is_max != 0;
    LineTask task;
    for (long long item = (long long)blockIdx.x * blockDim.x + threadIdx.x;
         line_task(item, axis, n0, n1, n2, n3, xs0, xs1, xs2, xs3, os0, os1, os2, os3, chunk,
                   &task);
         item += (long long)gridDim.x * blockDim.x) {
        const T* line = x + task.in_base;
        T* target = out + task.out_base;
        const long long in_step = task.in_step, out_step = task.out_step;
        if (direct) {
            for (int i = task.start; i < task.stop; ++i) {
                T acc = line_sample(line, in_step, i - pad_lo, n, mode, cval);
                for (int t = 1; t < window; ++t)
                    acc = extreme2(acc, line_sample(line, in_step, i + t - pad_lo, n, mode, cval),
                                   use_max);
                target[i * out_step] = acc;
            }
            continue;
        }
        for (int first = task.start; first < task.stop; first += window) {
            // every window of outputs first .. first + window - 1 holds
            // position pivot; last: this block's last output
            const int pivot = first + window - 1;
            const int last = min(pivot, task.stop - 1);
            T suffix = line_sample(line, in_step, pivot - pad_lo, n, mode, cval);
            if (pivot == last) target[pivot * out_step] = suffix;
            for (int j = pivot - 1; j >= first; --j) {
                suffix = extreme2(line_sample(line, in_step, j - pad_lo, n, mode, cval), suffix,
                                  use_max);
                if (j <= last) target[j * out_step] = suffix;
            }
            T prefix = suffix;   // overwritten before use
            for (int i = first + 1; i <= last; ++i) {
                const T entering = line_sample(line, in_step, i + window - 1 - pad_lo, n, mode,
                                               cval);
                prefix = i == first + 1 ? entering : extreme2(prefix, entering, use_max);
                target[i * out_step] = extreme2(target[i * out_step], prefix, use_max);
            }
        }
    }
}

// runs: nruns rows of (footprint plane, footprint row, first column, length);
// centre (cz, cy, cx).  One output per thread, x fastest.
// The extreme of a window's samples, NaN winning; ``acc`` starts as the
// first sample, or as ``start`` where one is given (a value that never wins).
template <typename T>
struct ExtremeOf {
    T acc;
    bool empty, use_max;
    __device__ void operator()(int, T v) {
        acc = empty ? v : extreme2(acc, v, use_max);
        empty = false;
    }
};

template <typename T>
__global__ void extreme_footprint(const T* __restrict__ x, T* out, const int* __restrict__ runs,
                                  int nruns, int nbatch, int depth, int height, int width,
                                  long long xs0, long long xs1, long long xs2, long long xs3,
                                  long long os0, long long os1, long long os2, long long os3,
                                  int cz, int cy, int cx, int mode,
                                  typename ScalarArg<T>::type cval_arg, int is_max) {
    const T cval = static_cast<T>(cval_arg);
    const long long total = (long long)nbatch * depth * height * width;
    for (long long item = (long long)blockIdx.x * blockDim.x + threadIdx.x; item < total;
         item += (long long)gridDim.x * blockDim.x) {
        const FootprintWindow<T> window = footprint_window(
            x, runs, nruns, item, depth, height, width, xs0, xs1, xs2, xs3, cz, cy, cx, mode,
            cval, false);
        ExtremeOf<T> extreme = {cval, true, is_max != 0};
        window.each(extreme);
        const Position4 o = window.at;
        out[offset4(o.b, o.z, o.y, o.x, os0, os1, os2, os3)] = extreme.acc;
    }
}

// Non-flat morphology: a sample plus its cell's height, in the dtype.
// Integer heights come as long long (within +-(the dtype's span), so the
// narrow dtypes add exactly in 64 bits before saturating); float heights
// have the dtype and add plainly.
template <typename T> struct Height { typedef long long type; };
template <> struct Height<float> { typedef float type; };
template <> struct Height<double> { typedef double type; };

template <typename T>
__device__ inline T clamp_sum(long long v, long long lo, long long hi) {
    return static_cast<T>(v < lo ? lo : (v > hi ? hi : v));
}
template <typename T>
__device__ inline T add_height(T v, typename Height<T>::type h);
template <> __device__ inline float add_height<float>(float v, float h) { return v + h; }
template <> __device__ inline double add_height<double>(double v, double h) { return v + h; }
template <>
__device__ inline unsigned char add_height<unsigned char>(unsigned char v, long long h) {
    return clamp_sum<unsigned char>(v + h, 0, UINT8_MAX);
}
template <>
__device__ inline unsigned short add_height<unsigned short>(unsigned short v, long long h) {
    return clamp_sum<unsigned short>(v + h, 0, UINT16_MAX);
}
template <> __device__ inline short add_height<short>(short v, long long h) {
    return clamp_sum<short>(v + h, INT16_MIN, INT16_MAX);
}
template <> __device__ inline int add_height<int>(int v, long long h) {
    return clamp_sum<int>(v + h, INT32_MIN, INT32_MAX);
}
// 64-bit dtypes: a wrapping sum, saturated where it wrapped (heights within
// +-(2**63 - 1)), as the CPU's add_height
template <> __device__ inline long long add_height<long long>(long long v, long long h) {
    const long long total = (long long)((unsigned long long)v + (unsigned long long)h);
    if (h >= 0) return total < v ? INT64_MAX : total;
    return total > v ? INT64_MIN : total;
}
template <>
__device__ inline unsigned long long add_height<unsigned long long>(unsigned long long v,
                                                                    long long h) {
    if (h >= 0) {
        const unsigned long long total = v + (unsigned long long)h;
        return total < v ? UINT64_MAX : total;
    }
    const unsigned long long magnitude = (unsigned long long)(-h);
    return v < magnitude ? 0ull : v - magnitude;
}

// The extreme of a window's samples plus their runs' heights, from ``acc``
// (the value that never wins).
template <typename T>
struct ExtremeWithHeights {
    T acc;
    const typename Height<T>::type* heights;
    bool use_max;
    __device__ void operator()(int run, T v) {
        acc = extreme2(acc, add_height<T>(v, __ldg(heights + run)), use_max);
    }
};

// As extreme_footprint, each cell adding its run's height (heights[r] for
// run r) before the cells combine, from ``identity``.  skip_outside: cells
// beyond the input's edges take no part instead of reading the padding (an
// output with none inside keeps ``identity``).
template <typename T>
__global__ void extreme_structure(const T* __restrict__ x, T* out, const int* __restrict__ runs,
                                  int nruns, int nbatch, int depth, int height, int width,
                                  long long xs0, long long xs1, long long xs2, long long xs3,
                                  long long os0, long long os1, long long os2, long long os3,
                                  int cz, int cy, int cx, int mode,
                                  typename ScalarArg<T>::type cval_arg, int is_max,
                                  const typename Height<T>::type* __restrict__ heights,
                                  int skip_outside,
                                  typename ScalarArg<T>::type identity_arg) {
    const T cval = static_cast<T>(cval_arg);
    const long long total = (long long)nbatch * depth * height * width;
    for (long long item = (long long)blockIdx.x * blockDim.x + threadIdx.x; item < total;
         item += (long long)gridDim.x * blockDim.x) {
        const FootprintWindow<T> window = footprint_window(
            x, runs, nruns, item, depth, height, width, xs0, xs1, xs2, xs3, cz, cy, cx, mode,
            cval, skip_outside != 0);
        ExtremeWithHeights<T> extreme = {static_cast<T>(identity_arg), heights, is_max != 0};
        window.each(extreme);
        const Position4 o = window.at;
        out[offset4(o.b, o.z, o.y, o.x, os0, os1, os2, os3)] = extreme.acc;
    }
}
