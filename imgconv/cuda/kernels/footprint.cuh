// One output's window over a flat footprint, for the kernels that run one
// output per thread (extreme_footprint, extreme_structure, rank_footprint):
// the footprint comes as runs of consecutive cells (footprint plane, row,
// first column, length), as the CPU's footprint_runs gives them.
//
// Include prelude.cuh and common.cuh first.
#pragma once

template <typename T>
struct FootprintWindow {
    const T* xb;               // the output's batch item of the input
    const int* runs;           // nruns rows of (plane, row, first column, length)
    int nruns, depth, height, width;
    Position4 at;              // the output
    int cz, cy, cx, mode;
    long long xs1, xs2, xs3;   // element strides of the planes, rows and columns
    T cval;                    // the constant mode's padding
    bool skip_outside;         // cells beyond the input's edges take no part

    // visit(run, sample) for every cell of the footprint, run by run: the
    // padded sample the cell reads (cval for the constant mode), or, with
    // skip_outside, nothing for a cell beyond the input's edges.
    template <typename Visit>
    __device__ void each(Visit& visit) const {
        for (int r = 0; r < nruns; ++r) {
            const int* run = runs + 4 * r;
            const int iz = at.z + __ldg(run) - cz, iy = at.y + __ldg(run + 1) - cy;
            if (skip_outside && (iz < 0 || iz >= depth || iy < 0 || iy >= height)) continue;
            const int mz = map_index(iz, depth, mode), my = map_index(iy, height, mode);
            const int start = __ldg(run + 2), length = __ldg(run + 3);
            for (int c = start; c < start + length; ++c) {
                const int ix = at.x + c - cx;
                if (skip_outside && (ix < 0 || ix >= width)) continue;
                const int mx = map_index(ix, width, mode);
                visit(r, (mz < 0 || my < 0 || mx < 0)
                             ? cval
                             : __ldg(xb + mz * xs1 + my * xs2 + mx * xs3));
            }
        }
    }
};

// The window of flat output ``item`` of a (B, D, H, W) array.
template <typename T>
__device__ inline FootprintWindow<T> footprint_window(
    const T* x, const int* runs, int nruns, long long item, int depth, int height, int width,
    long long xs0, long long xs1, long long xs2, long long xs3, int cz, int cy, int cx,
    int mode, T cval, bool skip_outside) {
    const Position4 at = position4(item, depth, height, width);
    const FootprintWindow<T> window = {x + at.b * xs0, runs, nruns, depth, height, width, at,
                                       cz, cy, cx, mode, xs1, xs2, xs3, cval, skip_outside};
    return window;
}
