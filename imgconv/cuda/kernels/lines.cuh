// Kernels that run along one axis of a (batch, D, H, W) array (box means,
// running extremes) share this enumeration of their work: a thread takes a
// chunk of ``chunk`` consecutive outputs of one line.  Lines along outer
// axes put the x column fastest across threads, so loads coalesce; lines
// along x put the chunk fastest, so neighbouring threads read neighbouring
// samples of one row.
#pragma once

struct LineTask {
    long long in_base, out_base;   // element offsets of the line's first sample
    long long in_step, out_step;   // element strides along the line
    int start, stop;               // this thread's outputs along the line
};

// The task of work item ``item`` (< nlines * nchunks), or false past the end.
__device__ inline bool line_task(long long item, int axis, int n0, int n1, int n2, int n3,
                                 long long xs0, long long xs1, long long xs2, long long xs3,
                                 long long os0, long long os1, long long os2, long long os3,
                                 int chunk, LineTask* task) {
    const int shape[4] = {n0, n1, n2, n3};
    const long long in_strides[4] = {xs0, xs1, xs2, xs3};
    const long long out_strides[4] = {os0, os1, os2, os3};
    const int n = shape[axis];
    const long long nchunks = (n + chunk - 1) / chunk;
    long long nlines = 1;
    for (int a = 0; a < 4; ++a)
        if (a != axis) nlines *= shape[a];
    if (item >= nlines * nchunks) return false;
    long long line, chunk_index;
    if (axis == 3) {
        line = item / nchunks;
        chunk_index = item % nchunks;
    } else {
        line = item % nlines;
        chunk_index = item / nlines;
    }
    task->in_base = 0;
    task->out_base = 0;
    for (int a = 3; a >= 0; --a) {
        if (a == axis) continue;
        const long long coordinate = line % shape[a];
        line /= shape[a];
        task->in_base += coordinate * in_strides[a];
        task->out_base += coordinate * out_strides[a];
    }
    task->in_step = in_strides[axis];
    task->out_step = out_strides[axis];
    task->start = (int)(chunk_index * chunk);
    task->stop = min(task->start + chunk, n);
    return true;
}
