// Kernels used only by tests/test_cuda_sim.py: each exercises one feature of
// the CUDA simulator (and, compiled to PTX, of NVRTC) that imgconv's kernels
// rely on.
#include "prelude.cuh"

#ifndef TILE
#define TILE 8
#endif
#ifndef OFFSET
#define OFFSET 0
#endif

// A 3x3 box sum (edges replicated) through a shared tile with a one-pixel
// halo, then the sum plus the left neighbour's sum within the block.  The
// threads outside the image return early, between two __syncthreads.
extern "C" __global__ void box3_pairs(const float* __restrict__ in, float* __restrict__ out,
                                      int height, int width) {
    __shared__ float tile[TILE + 2][TILE + 2];
    __shared__ float sums[TILE][TILE];
    const int x0 = blockIdx.x * TILE, y0 = blockIdx.y * TILE;
    const int tx = threadIdx.x, ty = threadIdx.y;
    // The tile and its halo, loaded by all threads (more cells than threads).
    for (int i = ty * TILE + tx; i < (TILE + 2) * (TILE + 2); i += TILE * TILE) {
        const int ly = i / (TILE + 2), lx = i % (TILE + 2);
        const int y = min(max(y0 + ly - 1, 0), height - 1);
        const int x = min(max(x0 + lx - 1, 0), width - 1);
        tile[ly][lx] = __ldg(&in[y * width + x]);
    }
    __syncthreads();
    const int x = x0 + tx, y = y0 + ty;
    if (x >= width || y >= height) return;
    float sum = 0.0f;
    for (int dy = 0; dy < 3; ++dy)
        for (int dx = 0; dx < 3; ++dx) sum += tile[ty + dy][tx + dx];
    sums[ty][tx] = sum;
    __syncthreads();
    out[y * width + x] = sum + (tx > 0 ? sums[ty][tx - 1] : 0.0f);
}

// Each thread writes its global (z, y, x) position's linear index, checking
// threadIdx/blockIdx/blockDim/gridDim in three dimensions.
extern "C" __global__ void thread_positions(int64* out, int depth, int height, int width) {
    const unsigned int x = blockIdx.x * blockDim.x + threadIdx.x;
    const unsigned int y = blockIdx.y * blockDim.y + threadIdx.y;
    const unsigned int z = blockIdx.z * blockDim.z + threadIdx.z;
    if (x >= (unsigned)width || y >= (unsigned)height || z >= (unsigned)depth) return;
    const int64 block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    const int64 thread = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    out[((int64)z * height + y) * width + x] = block * 1000 + thread;
}

// A template: out = in * SCALE + offset, for two instantiations.
template <typename T, int SCALE>
__global__ void scale_offset(const T* __restrict__ in, T* __restrict__ out, T offset, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = in[i] * T(SCALE) + offset;
}

// Weights in constant memory: a valid correlation with `taps` of them.
__constant__ float weights[16];

extern "C" __global__ void weighted_sum(const float* __restrict__ in, float* __restrict__ out,
                                        int n_out, int taps) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_out) return;
    float sum = 0.0f;
    for (int k = 0; k < taps; ++k) sum += weights[k] * in[i + k];
    out[i] = sum;
}

// A block reduction in shared memory, then atomics across blocks: the sum
// (float and double), the count of positive values and the largest value
// rounded to an int.
extern "C" __global__ void reduce(const float* __restrict__ in, int n, float* total,
                                  double* total64, unsigned int* positives, int* largest) {
    __shared__ float partial[256];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const float value = i < n ? in[i] : 0.0f;
    partial[threadIdx.x] = value;
    __syncthreads();
    for (unsigned int half = blockDim.x / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(total, partial[0]);
    if (i < n) {
        atomicAdd(total64, (double)value);
        if (value > 0.0f) atomicAdd(positives, 1u);
        atomicMax(largest, __float2int_rn(value));
    }
}

// Dynamic shared memory: each block reverses its segment, plus OFFSET (a
// define).
extern "C" __global__ void reverse_segments(const int* __restrict__ in, int* __restrict__ out,
                                            int n) {
    DYNAMIC_SHARED(int, segment);
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    segment[threadIdx.x] = i < n ? in[i] : -1;
    __syncthreads();
    const int j = blockIdx.x * blockDim.x + (blockDim.x - 1 - threadIdx.x);
    if (j < n) out[j] = segment[threadIdx.x] + OFFSET;
}

// __syncthreads_count/_or/_and after some threads have returned: per block,
// the number of values above `threshold`, whether any is and whether all are.
extern "C" __global__ void votes(const float* __restrict__ in, int n, float threshold,
                                 int* __restrict__ counts) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const int above = in[i] > threshold;
    const int count = __syncthreads_count(above);
    const int any = __syncthreads_or(above);
    const int all = __syncthreads_and(above);
    if (threadIdx.x == 0) {
        counts[3 * blockIdx.x] = count;
        counts[3 * blockIdx.x + 1] = any;
        counts[3 * blockIdx.x + 2] = all;
    }
}

// The prelude's limits, the same in both worlds.
extern "C" __global__ void limits(float* __restrict__ floats, double* __restrict__ doubles,
                                  int64* __restrict__ integers) {
    floats[0] = INFINITY;
    floats[1] = NAN;
    floats[2] = FLT_MAX;
    floats[3] = FLT_EPSILON;
    doubles[0] = DBL_MAX;
    doubles[1] = DBL_EPSILON;
    const int64 values[] = {INT8_MIN, INT8_MAX, UINT8_MAX, INT16_MIN, INT16_MAX, UINT16_MAX,
                            INT32_MIN, INT32_MAX, UINT32_MAX, INT64_MIN, INT64_MAX, INT_MIN,
                            INT_MAX, UINT_MAX};
    for (int k = 0; k < 14; ++k) integers[k] = values[k];
}
