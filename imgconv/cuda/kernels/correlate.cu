// Direct correlation over (batch, D, H, W) arrays with any element strides:
// 1D and 2D inputs arrive with unit D/H axes, channels and stacks as the
// batch axis.  Same geometry as the CPU kernel (pyx/correlate.pxi):
//   out[b, z, y, x] = sum over taps (kz, ky, kx) of w[kz, ky, kx] *
//       padded[z*sz + kz*dz - pz, y*sy + ky*dy - py, x*sx + kx*dx - px]
// where the padded input follows map_index (cval for the zero mode).  With
// xweights (nx > 0, kw == 1) the kernel is the outer product of the (KD, KH)
// weights and the 1D x kernel, summed as the CPU does: each x tap weighs the
// (z, y) sum of its column.
//
// Two kernels:
// - correlate_tiled, the fast path (float32 compute, stride and dilation 1,
//   depth extents up to IMGCONV_TILED_MAX_DEPTH): each block stages one input
//   plane of its tile and halo at a time in shared memory, weights sit in
//   constant memory, and each thread slides down z keeping the partial sums
//   of the KD outputs that plane feeds in registers (2.5D blocking), so each
//   input sample is read from global memory about once per block.
// - correlate_general, the fallback for everything else (float64, any
//   extent, stride, dilation, xweights): one output per thread from global
//   memory through the read-only cache, so no kernel is too large to launch.
#include "prelude.cuh"
#include "common.cuh"

// The tiled path's limits: KD up to IMGCONV_TILED_MAX_DEPTH (the register
// ring), every weight in the constant array.
#define IMGCONV_TILED_MAX_DEPTH 7
#define IMGCONV_TILED_MAX_TAPS 8192

__constant__ float tiled_weights[IMGCONV_TILED_MAX_TAPS];

// Sum of w[kz, ky, kx] * padded sample over one window whose first padded
// position is (z0, y0, x0) in batch item ``xb``.  Zero weights are skipped,
// as on the CPU, so an inf under a zero tap does not turn the sum into NaN.
template <typename T, typename A>
__device__ inline A window_sum(const T* xb, const A* w, int kd, int kh, int kw, int z0, int y0,
                               int x0, int dz, int dy, int dx, int depth, int height, int width,
                               long long xs1, long long xs2, long long xs3, int mode, A cval) {
    A acc = 0;
    for (int kz = 0; kz < kd; ++kz) {
        const int mz = map_index(z0 + kz * dz, depth, mode);
        for (int ky = 0; ky < kh; ++ky) {
            const int my = map_index(y0 + ky * dy, height, mode);
            // the source row of this tap row, or none (all cval)
            const T* row = (mz < 0 || my < 0) ? nullptr : xb + mz * xs1 + my * xs2;
            const A* wrow = w + (kz * kh + ky) * kw;
            for (int kx = 0; kx < kw; ++kx) {
                const A wv = __ldg(wrow + kx);
                if (wv == A(0)) continue;
                const int mx = map_index(x0 + kx * dx, width, mode);
                const A v = (row == nullptr || mx < 0) ? cval : load_as<A>(row + mx * xs3);
                acc += wv * v;
            }
        }
    }
    return acc;
}

// One output per thread: x and y from the 2D grid, (batch, plane) pairs
// from grid z in a grid-stride loop.
template <typename T, typename A>
__global__ void correlate_general(
    const T* __restrict__ x, void* out, const A* __restrict__ w, const A* __restrict__ xw,
    int nbatch, int depth, int height, int width,
    long long xs0, long long xs1, long long xs2, long long xs3,
    int out_depth, int out_height, int out_width,
    long long os0, long long os1, long long os2, long long os3,
    int kd, int kh, int kw, int nx,
    int sz, int sy, int sx, int dz, int dy, int dx, int pz, int py, int px,
    int mode, A cval, int out_dtype) {
    int ox = blockIdx.x * blockDim.x + threadIdx.x;
    int oy = blockIdx.y * blockDim.y + threadIdx.y;
    if (ox >= out_width || oy >= out_height) return;
    long long nplanes = (long long)nbatch * out_depth;
    for (long long unit = blockIdx.z; unit < nplanes; unit += gridDim.z) {
        long long b = unit / out_depth;
        int oz = (int)(unit % out_depth);
        const T* xb = x + b * xs0;
        int z0 = oz * sz - pz, y0 = oy * sy - py, x0 = ox * sx - px;
        A acc = 0;
        if (nx == 0) {
            acc = window_sum<T, A>(xb, w, kd, kh, kw, z0, y0, x0, dz, dy, dx, depth, height,
                                   width, xs1, xs2, xs3, mode, cval);
        } else {
            for (int kx = 0; kx < nx; ++kx) {
                A xv = __ldg(xw + kx);
                if (xv == A(0)) continue;
                acc += xv * window_sum<T, A>(xb, w, kd, kh, 1, z0, y0, x0 + kx * dx, dz, dy, 1,
                                             depth, height, width, xs1, xs2, xs3, mode, cval);
            }
        }
        store_as<A>(out, offset4(b, oz, oy, ox, os0, os1, os2, os3), out_dtype, acc);
    }
}

// The fast path: stride and dilation 1, float32 compute, weights (KD, kh, kw)
// in ``tiled_weights``; KW > 0 fixes kw at compile time (its loop unrolled),
// KW == 0 takes the ``kw`` argument.  The block is a (blockDim.y, blockDim.x)
// tile of output rows and columns; grid z enumerates (batch, chunk of z_chunk
// output planes).  Dynamic shared memory: two planes of (blockDim.y + kh - 1)
// * (blockDim.x + kw - 1) floats.
template <typename T, int KD, int KW>
__global__ void correlate_tiled(
    const T* __restrict__ x, void* out,
    int nbatch, int depth, int height, int width,
    long long xs0, long long xs1, long long xs2, long long xs3,
    int out_depth, int out_height, int out_width,
    long long os0, long long os1, long long os2, long long os3,
    int kh, int kw_arg, int pz, int py, int px, int mode, float cval, int out_dtype,
    int z_chunk) {
    DYNAMIC_SHARED(float, tiles);
    const int kw = KW > 0 ? KW : kw_arg;
    const int tile_w = blockDim.x + kw - 1;
    const int tile_h = blockDim.y + kh - 1;
    const int tile_size = tile_w * tile_h;
    const int plane_taps = kh * kw;
    const int y_first = blockIdx.y * blockDim.y, x_first = blockIdx.x * blockDim.x;
    const int ox = x_first + threadIdx.x, oy = y_first + threadIdx.y;
    const bool inside = ox < out_width && oy < out_height;
    const int nchunks = (out_depth + z_chunk - 1) / z_chunk;
    const long long nunits = (long long)nbatch * nchunks;
    for (long long unit = blockIdx.z; unit < nunits; unit += gridDim.z) {
        const long long b = unit / nchunks;
        const int z_begin = (int)(unit % nchunks) * z_chunk;
        const int z_end = min(z_begin + z_chunk, out_depth);
        const T* xb = x + b * xs0;
        // acc[j]: partial sum of output plane p - (KD - 1) + j while plane p
        // (padded position p - pz) is in the tile
        float acc[KD];
#pragma unroll
        for (int j = 0; j < KD; ++j) acc[j] = 0.0f;
        for (int p = z_begin; p < z_end + KD - 1; ++p) {
            const int mz = map_index(p - pz, depth, mode);
            // two planes alternate: the barrier after this plane's loads also
            // tells that every thread is done with the plane before the last
            float* tile = tiles + (p & 1) * tile_size;
            for (int ty = threadIdx.y; ty < tile_h; ty += blockDim.y) {
                const int my = map_index(y_first + ty - py, height, mode);
                const T* row = (mz < 0 || my < 0) ? nullptr : xb + mz * xs1 + my * xs2;
                for (int tx = threadIdx.x; tx < tile_w; tx += blockDim.x) {
                    const int mx = map_index(x_first + tx - px, width, mode);
                    tile[ty * tile_w + tx] =
                        (row == nullptr || mx < 0) ? cval : load_as<float>(row + mx * xs3);
                }
            }
            __syncthreads();
            for (int ky = 0; ky < kh; ++ky) {
                const float* row = tile + (threadIdx.y + ky) * tile_w + threadIdx.x;
                const float* wrow = tiled_weights + ky * kw;
#pragma unroll
                for (int kx = 0; kx < kw; ++kx) {
                    const float v = row[kx];
#pragma unroll
                    for (int kz = 0; kz < KD; ++kz)
                        acc[KD - 1 - kz] += wrow[kz * plane_taps + kx] * v;
                }
            }
            const int oz = p - (KD - 1);
            if (inside && oz >= z_begin)
                store_as<float>(out, offset4(b, oz, oy, ox, os0, os1, os2, os3), out_dtype,
                                acc[0]);
#pragma unroll
            for (int j = 0; j + 1 < KD; ++j) acc[j] = acc[j + 1];
            acc[KD - 1] = 0.0f;
        }
    }
}
