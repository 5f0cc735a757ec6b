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
#include "prelude.cuh"
#include "common.cuh"
#include "lines.cuh"

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
template <typename T>
__global__ void extreme_footprint(const T* __restrict__ x, T* out, const int* __restrict__ runs,
                                  int nruns, int nbatch, int depth, int height, int width,
                                  long long xs0, long long xs1, long long xs2, long long xs3,
                                  long long os0, long long os1, long long os2, long long os3,
                                  int cz, int cy, int cx, int mode,
                                  typename ScalarArg<T>::type cval_arg, int is_max) {
    const T cval = static_cast<T>(cval_arg);
    const bool use_max = is_max != 0;
    const long long total = (long long)nbatch * depth * height * width;
    for (long long item = (long long)blockIdx.x * blockDim.x + threadIdx.x; item < total;
         item += (long long)gridDim.x * blockDim.x) {
        const int ox = (int)(item % width);
        const int oy = (int)((item / width) % height);
        const int oz = (int)((item / ((long long)width * height)) % depth);
        const long long b = item / ((long long)width * height * depth);
        const T* xb = x + b * xs0;
        T acc = cval;
        bool first = true;
        for (int r = 0; r < nruns; ++r) {
            const int* run = runs + 4 * r;
            const int mz = map_index(oz + __ldg(run) - cz, depth, mode);
            const int my = map_index(oy + __ldg(run + 1) - cy, height, mode);
            const int start = __ldg(run + 2), length = __ldg(run + 3);
            for (int c = start; c < start + length; ++c) {
                const int mx = map_index(ox + c - cx, width, mode);
                const T v = (mz < 0 || my < 0 || mx < 0) ? cval
                                                          : __ldg(xb + mz * xs1 + my * xs2 +
                                                                  mx * xs3);
                acc = first ? v : extreme2(acc, v, use_max);
                first = false;
            }
        }
        out[offset4(b, oz, oy, ox, os0, os1, os2, os3)] = acc;
    }
}
