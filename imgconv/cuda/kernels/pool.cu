// Pooling over (batch, D, H, W) arrays, as the CPU's pool.pxi: output o along
// an axis takes padded positions o*stride + t*dilation (t < size) below
// ``extent`` (positions past it only occur with ceil_mode and are never
// counted), position j reading sample j - pad_lo.  One output per thread,
// x fastest; windows are scanned in (z, y, x) order as on the CPU.
// - pool_extreme: max or min in the array's own dtype, torch's rule (a larger
//   or smaller value, or any NaN, takes the lead; the first in scan order
//   among equals), optionally with the flat (D, H, W) index of the winner;
//   cells of the constant padding are left out, an empty window gives
//   ``identity`` and index -1.
// - pool_sum: average (sum times inv_z[oz] * inv_y[oy] * inv_x[ox], the
//   reciprocal counts) or Lp ((sum of |v|**p) ** (1/p)) in the compute type
//   A, stored with the output dtype's rule.
#include "prelude.cuh"
#include "common.cuh"

#define IMGCONV_POOL_AVG 2
#define IMGCONV_POOL_LP 3

template <typename T> struct PoolScalar { typedef long long type; };
template <> struct PoolScalar<float> { typedef double type; };
template <> struct PoolScalar<double> { typedef double type; };

struct PoolOutput {
    long long b;
    int oz, oy, ox;
};

__device__ inline PoolOutput pool_output(long long item, int out_depth, int out_height,
                                         int out_width) {
    PoolOutput o;
    o.ox = (int)(item % out_width);
    o.oy = (int)((item / out_width) % out_height);
    o.oz = (int)((item / ((long long)out_width * out_height)) % out_depth);
    o.b = item / ((long long)out_width * out_height * out_depth);
    return o;
}

// A source index of a window cell along one axis, or -1 when the cell is
// padding of the constant mode or lies past ``extent``.
__device__ inline int pool_index(int o, int t, int stride, int dilation, int pad_lo, int extent,
                                 int n, int mode) {
    const int position = o * stride + t * dilation;
    if (position >= extent) return -1;
    return map_index(position - pad_lo, n, mode);
}

template <typename T>
__device__ inline bool beats(T value, T best, bool is_max) {
    if (is_nan(value)) return true;
    return is_max ? value > best : value < best;
}

template <typename T>
__global__ void pool_extreme(
    const T* __restrict__ x, T* out, long long* indices, int with_indices,
    int nbatch, int depth, int height, int width,
    long long xs0, long long xs1, long long xs2, long long xs3,
    int out_depth, int out_height, int out_width,
    long long os0, long long os1, long long os2, long long os3,
    long long is0, long long is1, long long is2, long long is3,
    int size_z, int size_y, int size_x, int sz, int sy, int sx, int dz, int dy, int dx,
    int pz, int py, int px, int ez, int ey, int ex, int mode,
    typename PoolScalar<T>::type identity_arg, int is_max) {
    const T identity = static_cast<T>(identity_arg);
    const bool use_max = is_max != 0;
    const long long total = (long long)nbatch * out_depth * out_height * out_width;
    for (long long item = (long long)blockIdx.x * blockDim.x + threadIdx.x; item < total;
         item += (long long)gridDim.x * blockDim.x) {
        const PoolOutput o = pool_output(item, out_depth, out_height, out_width);
        const T* xb = x + o.b * xs0;
        T best = identity;
        long long best_index = -1;
        bool found = false;
        for (int tz = 0; tz < size_z; ++tz) {
            const int mz = pool_index(o.oz, tz, sz, dz, pz, ez, depth, mode);
            if (mz < 0) continue;
            for (int ty = 0; ty < size_y; ++ty) {
                const int my = pool_index(o.oy, ty, sy, dy, py, ey, height, mode);
                if (my < 0) continue;
                for (int tx = 0; tx < size_x; ++tx) {
                    const int mx = pool_index(o.ox, tx, sx, dx, px, ex, width, mode);
                    if (mx < 0) continue;
                    const T value = __ldg(xb + mz * xs1 + my * xs2 + mx * xs3);
                    if (!found || beats(value, best, use_max)) {
                        best = value;
                        best_index = ((long long)mz * height + my) * width + mx;
                        found = true;
                    }
                }
            }
        }
        out[offset4(o.b, o.oz, o.oy, o.ox, os0, os1, os2, os3)] = best;
        if (with_indices)
            indices[offset4(o.b, o.oz, o.oy, o.ox, is0, is1, is2, is3)] = best_index;
    }
}

// |v|**p as the CPU computes it: in double, then rounded to A.
template <typename A>
__device__ inline A lp_term(A v, double p) {
    if (p == 1.0) return fabs(v);
    if (p == 2.0) return v * v;
    return static_cast<A>(pow(fabs(static_cast<double>(v)), p));
}

template <typename T, typename A>
__global__ void pool_sum(
    const T* __restrict__ x, void* out, const double* __restrict__ inv_z,
    const double* __restrict__ inv_y, const double* __restrict__ inv_x,
    int nbatch, int depth, int height, int width,
    long long xs0, long long xs1, long long xs2, long long xs3,
    int out_depth, int out_height, int out_width,
    long long os0, long long os1, long long os2, long long os3,
    int size_z, int size_y, int size_x, int sz, int sy, int sx, int dz, int dy, int dx,
    int pz, int py, int px, int ez, int ey, int ex, int mode, int op, double p,
    int out_dtype) {
    const bool lp = op == IMGCONV_POOL_LP;
    const A p_as_a = static_cast<A>(p);
    const A root = static_cast<A>(1.0 / p);
    const long long total = (long long)nbatch * out_depth * out_height * out_width;
    for (long long item = (long long)blockIdx.x * blockDim.x + threadIdx.x; item < total;
         item += (long long)gridDim.x * blockDim.x) {
        const PoolOutput o = pool_output(item, out_depth, out_height, out_width);
        const T* xb = x + o.b * xs0;
        // the CPU's order: per x tap, the column of window rows summed first
        A result = 0;
        for (int tx = 0; tx < size_x; ++tx) {
            const int mx = pool_index(o.ox, tx, sx, dx, px, ex, width, mode);
            A column = 0;
            for (int tz = 0; tz < size_z; ++tz) {
                const int mz = pool_index(o.oz, tz, sz, dz, pz, ez, depth, mode);
                if (mz < 0) continue;
                for (int ty = 0; ty < size_y; ++ty) {
                    const int my = pool_index(o.oy, ty, sy, dy, py, ey, height, mode);
                    if (my < 0) continue;
                    const A v = mx < 0 ? A(0) : load_as<A>(xb + mz * xs1 + my * xs2 + mx * xs3);
                    column += lp ? lp_term<A>(v, (double)p_as_a) : v;
                }
            }
            result = tx == 0 ? column : result + column;
        }
        if (!lp) {
            const A scale = static_cast<A>(__ldg(inv_z + o.oz) * __ldg(inv_y + o.oy));
            result = result * scale * static_cast<A>(__ldg(inv_x + o.ox));
        } else if (p == 2.0) {
            result = sqrt(result);
        } else if (p != 1.0) {
            result = static_cast<A>(pow(static_cast<double>(result), static_cast<double>(root)));
        }
        store_as<A>(out, offset4(o.b, o.oz, o.oy, o.ox, os0, os1, os2, os3), out_dtype, result);
    }
}
