// Rank filters (median, rank_filter, percentile_filter) over any flat
// footprint, as the CPU's rank kernels (pyx/rank.pxi): out = the rank-th
// smallest value of the padded window, NaN after every number (numpy.sort's
// order); the constant mode pads with cval (a value of the dtype).  One
// output per thread, x fastest.
//
// Every dtype is selected through one unsigned key whose order is the
// values' order (OrderedKey), so one selection serves all eight dtypes.
// Windows of up to RANK_LOCAL_CELLS cells are gathered into the thread's
// own array and selected there (quickselect).  Larger windows are never
// stored: a binary search over the key range counts the window's keys at or
// below the midpoint, one pass over the window per key bit (8 for uint8, 32
// for float32), so a footprint of any size needs no memory per thread.
#include "prelude.cuh"
#include "common.cuh"
#include "footprint.cuh"

// a 5 x 5 x 5 window fits; cupyx also gathers windows into per-thread arrays
#define RANK_LOCAL_CELLS 125

template <typename T> struct OrderedKey;

template <> struct OrderedKey<unsigned char> {
    typedef unsigned int Key;
    static const int bits = 8;
    __device__ static Key of(unsigned char v) { return v; }
    __device__ static unsigned char value(Key k) { return (unsigned char)k; }
};
template <> struct OrderedKey<unsigned short> {
    typedef unsigned int Key;
    static const int bits = 16;
    __device__ static Key of(unsigned short v) { return v; }
    __device__ static unsigned short value(Key k) { return (unsigned short)k; }
};
template <> struct OrderedKey<short> {
    typedef unsigned int Key;
    static const int bits = 16;
    __device__ static Key of(short v) { return (unsigned int)(unsigned short)v ^ 0x8000u; }
    __device__ static short value(Key k) { return (short)(unsigned short)(k ^ 0x8000u); }
};
template <> struct OrderedKey<int> {
    typedef unsigned int Key;
    static const int bits = 32;
    __device__ static Key of(int v) { return (unsigned int)v ^ 0x80000000u; }
    __device__ static int value(Key k) { return (int)(k ^ 0x80000000u); }
};
template <> struct OrderedKey<long long> {
    typedef unsigned long long Key;
    static const int bits = 64;
    __device__ static Key of(long long v) {
        return (unsigned long long)v ^ 0x8000000000000000ull;
    }
    __device__ static long long value(Key k) { return (long long)(k ^ 0x8000000000000000ull); }
};
template <> struct OrderedKey<unsigned long long> {
    typedef unsigned long long Key;
    static const int bits = 64;
    __device__ static Key of(unsigned long long v) { return v; }
    __device__ static unsigned long long value(Key k) { return k; }
};
// IEEE floats: negative values have their bits flipped, positive ones their
// sign bit set, so unsigned order is numeric order (-0 just below +0); every
// NaN becomes the largest key and comes back as a NaN.
template <> struct OrderedKey<float> {
    typedef unsigned int Key;
    static const int bits = 32;
    __device__ static Key of(float v) {
        if (v != v) return 0xFFFFFFFFu;
        const unsigned int b = (unsigned int)__float_as_int(v);
        return (b & 0x80000000u) ? ~b : b | 0x80000000u;
    }
    __device__ static float value(Key k) {
        const unsigned int b = (k & 0x80000000u) ? k ^ 0x80000000u : ~k;
        return __int_as_float((int)b);
    }
};
template <> struct OrderedKey<double> {
    typedef unsigned long long Key;
    static const int bits = 64;
    __device__ static Key of(double v) {
        if (v != v) return 0xFFFFFFFFFFFFFFFFull;
        const unsigned long long b = (unsigned long long)__double_as_longlong(v);
        return (b & 0x8000000000000000ull) ? ~b : b | 0x8000000000000000ull;
    }
    __device__ static double value(Key k) {
        const unsigned long long b = (k & 0x8000000000000000ull) ? k ^ 0x8000000000000000ull
                                                                  : ~k;
        return __longlong_as_double((long long)b);
    }
};

template <typename T>
struct GatherKeys {
    typename OrderedKey<T>::Key* keys;
    int count;
    __device__ void operator()(int, T v) { keys[count++] = OrderedKey<T>::of(v); }
};

template <typename T>
struct CountAtMost {
    typename OrderedKey<T>::Key bound;
    int count;
    __device__ void operator()(int, T v) { count += OrderedKey<T>::of(v) <= bound; }
};

// The rank-th smallest of keys[0 .. n-1] (reorders them): Hoare's selection.
template <typename Key>
__device__ Key select_key(Key* keys, int n, int rank) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        const Key pivot = keys[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (keys[i] < pivot) ++i;
            while (pivot < keys[j]) --j;
            if (i <= j) {
                const Key t = keys[i];
                keys[i] = keys[j];
                keys[j] = t;
                ++i;
                --j;
            }
        }
        if (rank <= j) hi = j;
        else if (rank >= i) lo = i;
        else return keys[rank];
    }
    return keys[rank];
}

// runs: nruns rows of (footprint plane, footprint row, first column, length);
// centre (cz, cy, cx); ncells: the footprint's cell count, rank < ncells.
template <typename T>
__global__ void rank_footprint(const T* __restrict__ x, T* out, const int* __restrict__ runs,
                               int nruns, int nbatch, int depth, int height, int width,
                               long long xs0, long long xs1, long long xs2, long long xs3,
                               long long os0, long long os1, long long os2, long long os3,
                               int cz, int cy, int cx, int mode,
                               typename ScalarArg<T>::type cval_arg, int ncells, int rank) {
    typedef typename OrderedKey<T>::Key Key;
    const long long total = (long long)nbatch * depth * height * width;
    for (long long item = (long long)blockIdx.x * blockDim.x + threadIdx.x; item < total;
         item += (long long)gridDim.x * blockDim.x) {
        const FootprintWindow<T> window = footprint_window(
            x, runs, nruns, item, depth, height, width, xs0, xs1, xs2, xs3, cz, cy, cx, mode,
            static_cast<T>(cval_arg), false);
        Key found;
        if (ncells <= RANK_LOCAL_CELLS) {
            Key keys[RANK_LOCAL_CELLS];
            GatherKeys<T> gather = {keys, 0};
            window.each(gather);
            found = select_key(keys, gather.count, rank);
        } else {
            // the smallest key with more than ``rank`` keys at or below it
            Key lo = 0, hi = (Key)(~(Key)0) >> (8 * sizeof(Key) - OrderedKey<T>::bits);
            while (lo < hi) {
                const Key mid = lo + (hi - lo) / 2;
                CountAtMost<T> below = {mid, 0};
                window.each(below);
                if (below.count > rank) hi = mid;
                else lo = mid + 1;
            }
            found = lo;
        }
        const Position4 o = window.at;
        out[offset4(o.b, o.z, o.y, o.x, os0, os1, os2, os3)] = OrderedKey<T>::value(found);
    }
}
