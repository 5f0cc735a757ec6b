// Box (uniform) filtering along one axis of a (batch, D, H, W) array by
// running sums, as the CPU's box_pass (pyx/running.pxi): output i is the mean
// of padded positions i - pad_lo ... i - pad_lo + size - 1; sums run in double
// so long windows do not drift, and the cost per sample does not depend on
// the window size.  A thread runs one chunk of a line (lines.cuh), starting
// its sum afresh, so chunks differ from the CPU's one sum per line only by
// double rounding.
#include "prelude.cuh"
#include "common.cuh"
#include "lines.cuh"

template <typename T>
__device__ inline double box_sample(const T* line, long long step, int position, int n,
                                    int mode, double cval) {
    const int m = map_index(position, n, mode);
    return m < 0 ? cval : load_as<double>(line + m * step);
}

template <typename T>
__global__ void box_pass(const T* __restrict__ x, void* out, int n0, int n1, int n2, int n3,
                         long long xs0, long long xs1, long long xs2, long long xs3,
                         long long os0, long long os1, long long os2, long long os3,
                         int axis, int size, int pad_lo, int mode, double cval, int out_dtype,
                         int chunk) {
    const int shape[4] = {n0, n1, n2, n3};
    const int n = shape[axis];
    const double inv = 1.0 / size;
    LineTask task;
    for (long long item = (long long)blockIdx.x * blockDim.x + threadIdx.x;
         line_task(item, axis, n0, n1, n2, n3, xs0, xs1, xs2, xs3, os0, os1, os2, os3, chunk,
                   &task);
         item += (long long)gridDim.x * blockDim.x) {
        const T* line = x + task.in_base;
        double total = 0;
        for (int i = 0; i < size; ++i)
            total += box_sample(line, task.in_step, task.start - pad_lo + i, n, mode, cval);
        store_as<double>(out, task.out_base + task.start * task.out_step, out_dtype,
                         total * inv);
        for (int i = task.start + 1; i < task.stop; ++i) {
            total += box_sample(line, task.in_step, i - pad_lo + size - 1, n, mode, cval) -
                     box_sample(line, task.in_step, i - pad_lo - 1, n, mode, cval);
            store_as<double>(out, task.out_base + i * task.out_step, out_dtype, total * inv);
        }
    }
}
