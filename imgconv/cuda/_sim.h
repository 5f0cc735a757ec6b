// The CUDA simulator's emulation header (IMGCONV_CUDA_SIMULATOR=1).
//
// The loader (imgconv/cuda/_simulator.py) compiles a kernel's own .cu source
// with the host C++ compiler (g++ -std=c++20 -pthread) and `-include`s this
// header first, so the GPU and the simulator compile the same source.  A
// launch runs the grid's blocks one after another; within a block, one host
// thread per CUDA thread, so __syncthreads() is a real barrier and a race or a
// missing barrier shows up as it would on a GPU.  It is slow and meant for
// tiny inputs in tests.
//
// Emulated: __global__/__device__/__host__/__forceinline__/__constant__,
// __shared__ (static storage: one block runs at a time, so a function's static
// locals are that block's shared memory), dynamic shared memory through the
// prelude's DYNAMIC_SHARED, threadIdx/blockIdx/blockDim/gridDim, warpSize,
// __syncthreads and __syncthreads_count/_and/_or, __threadfence(_block),
// __ldg, the atomics on int, unsigned, unsigned long long, float and double as
// CUDA has them, and CUDA's math functions (the <cmath> ones, the min/max
// overloads and umin/llmin/..., rsqrtf, __saturatef, the __float2int_rn
// family, __fdividef, __expf, __logf, __powf, the __fadd_rn family).
// Not emulated: warp intrinsics (__shfl*_sync, __ballot_sync, __any_sync, ...),
// cooperative groups, textures, streams.  A kernel that uses them does not
// compile here, which is the intended signal.
#pragma once
#define IMGCONV_CUDA_SIMULATOR 1

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <math.h>
#include <new>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __noinline__ __attribute__((noinline))
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// Default visibility: the loader finds a constant's address by its name
// (set_constant), and the library is otherwise compiled -fvisibility=hidden.
#define __constant__ __attribute__((visibility("default")))
#define __shared__ static

struct uint3 { unsigned int x, y, z; };
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1)
        : x(x_), y(y_), z(z_) {}
};

// Per host thread, as they are per CUDA thread on a GPU (blockIdx is set by
// each thread of the block, so it is thread_local too).
inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;
constexpr int warpSize = 32;

namespace imgconv_sim {

// __syncthreads_count/_and/_or: a vote in the block's barrier phase p adds to
// votes[p % 3] before the barrier and reads it after.  The end of phase p
// clears votes[(p + 1) % 3]: its last readers (phase p - 2) have all arrived
// at phase p by then, and no thread has left phase p to vote in p + 1.
inline std::atomic<int> votes[3];
inline unsigned long long block_phase = 0;      // phases completed in this block
inline thread_local unsigned long long thread_phase = 0;

struct PhaseEnd {
    void operator()() noexcept {
        votes[(block_phase + 1) % 3].store(0, std::memory_order_relaxed);
        ++block_phase;
    }
};

inline void start_block_phases() {
    for (auto& count : votes) count.store(0, std::memory_order_relaxed);
    block_phase = 0;
}

// The barrier of the block that runs now.  Replaced between blocks, because a
// thread that returned early dropped out of it (arrive_and_drop).
inline std::barrier<PhaseEnd>* block_barrier = nullptr;
// The launch's dynamic shared memory (shared_mem bytes, 16-byte aligned).
inline unsigned char* dynamic_shared_memory = nullptr;

// CUDA's atomics: a read-modify-write on ordinary memory through atomic_ref.
template <class T, class Op>
inline T atomic_update(T* address, Op op) {
    std::atomic_ref<T> ref(*address);
    T old = ref.load();
    while (!ref.compare_exchange_weak(old, op(old))) {
    }
    return old;
}

}  // namespace imgconv_sim

inline void __syncthreads() {
    imgconv_sim::block_barrier->arrive_and_wait();
    ++imgconv_sim::thread_phase;
}
inline int __syncthreads_count(int predicate) {
    auto& count = imgconv_sim::votes[imgconv_sim::thread_phase % 3];
    if (predicate) count.fetch_add(1);
    __syncthreads();
    return count.load();
}
inline int __syncthreads_and(int predicate) {
    // Counts the threads that vote false, so that dropped-out threads do not count.
    return __syncthreads_count(!predicate) == 0;
}
inline int __syncthreads_or(int predicate) { return __syncthreads_count(predicate) != 0; }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

template <class T>
inline T __ldg(const T* address) { return *address; }

// ---- atomics (the overloads CUDA has) ----
#define IMGCONV_SIM_ATOMIC_ARITHMETIC(T)                                                  \
    inline T atomicAdd(T* a, T v) { return std::atomic_ref<T>(*a).fetch_add(v); }        \
    inline T atomicSub(T* a, T v) { return std::atomic_ref<T>(*a).fetch_sub(v); }
IMGCONV_SIM_ATOMIC_ARITHMETIC(int)
IMGCONV_SIM_ATOMIC_ARITHMETIC(unsigned int)
IMGCONV_SIM_ATOMIC_ARITHMETIC(unsigned long long)
inline float atomicAdd(float* a, float v) { return std::atomic_ref<float>(*a).fetch_add(v); }
inline double atomicAdd(double* a, double v) { return std::atomic_ref<double>(*a).fetch_add(v); }
#undef IMGCONV_SIM_ATOMIC_ARITHMETIC

#define IMGCONV_SIM_ATOMIC_EXTREMES(T)                                                    \
    inline T atomicMax(T* a, T v) {                                                       \
        return imgconv_sim::atomic_update(a, [v](T old) { return old < v ? v : old; });   \
    }                                                                                     \
    inline T atomicMin(T* a, T v) {                                                       \
        return imgconv_sim::atomic_update(a, [v](T old) { return v < old ? v : old; });   \
    }
IMGCONV_SIM_ATOMIC_EXTREMES(int)
IMGCONV_SIM_ATOMIC_EXTREMES(unsigned int)
IMGCONV_SIM_ATOMIC_EXTREMES(long long)
IMGCONV_SIM_ATOMIC_EXTREMES(unsigned long long)
#undef IMGCONV_SIM_ATOMIC_EXTREMES

#define IMGCONV_SIM_ATOMIC_EXCHANGE(T)                                                    \
    inline T atomicExch(T* a, T v) { return std::atomic_ref<T>(*a).exchange(v); }        \
    inline T atomicCAS(T* a, T expected, T desired) {                                     \
        std::atomic_ref<T>(*a).compare_exchange_strong(expected, desired);                \
        return expected;                                                                  \
    }
IMGCONV_SIM_ATOMIC_EXCHANGE(int)
IMGCONV_SIM_ATOMIC_EXCHANGE(unsigned int)
IMGCONV_SIM_ATOMIC_EXCHANGE(unsigned long long)
#undef IMGCONV_SIM_ATOMIC_EXCHANGE
inline float atomicExch(float* a, float v) { return std::atomic_ref<float>(*a).exchange(v); }

#define IMGCONV_SIM_ATOMIC_BITWISE(T)                                                     \
    inline T atomicAnd(T* a, T v) { return std::atomic_ref<T>(*a).fetch_and(v); }        \
    inline T atomicOr(T* a, T v) { return std::atomic_ref<T>(*a).fetch_or(v); }          \
    inline T atomicXor(T* a, T v) { return std::atomic_ref<T>(*a).fetch_xor(v); }
IMGCONV_SIM_ATOMIC_BITWISE(int)
IMGCONV_SIM_ATOMIC_BITWISE(unsigned int)
IMGCONV_SIM_ATOMIC_BITWISE(unsigned long long)
#undef IMGCONV_SIM_ATOMIC_BITWISE

// ---- math: CUDA's global min/max overloads (host C++ has only std::min) ----
#define IMGCONV_SIM_MIN_MAX(R, A, B)                                                      \
    inline R min(A a, B b) { return (R)a < (R)b ? (R)a : (R)b; }                          \
    inline R max(A a, B b) { return (R)a > (R)b ? (R)a : (R)b; }
IMGCONV_SIM_MIN_MAX(int, int, int)
IMGCONV_SIM_MIN_MAX(unsigned int, unsigned int, unsigned int)
IMGCONV_SIM_MIN_MAX(unsigned int, int, unsigned int)
IMGCONV_SIM_MIN_MAX(unsigned int, unsigned int, int)
IMGCONV_SIM_MIN_MAX(long long, long long, long long)
IMGCONV_SIM_MIN_MAX(unsigned long long, unsigned long long, unsigned long long)
IMGCONV_SIM_MIN_MAX(unsigned long long, long long, unsigned long long)
IMGCONV_SIM_MIN_MAX(unsigned long long, unsigned long long, long long)
#undef IMGCONV_SIM_MIN_MAX
// float and double follow fminf/fmin (a NaN argument loses), as CUDA's do.
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline double min(float a, double b) { return fmin(a, b); }
inline double max(float a, double b) { return fmax(a, b); }
inline double min(double a, float b) { return fmin(a, b); }
inline double max(double a, float b) { return fmax(a, b); }

inline unsigned int umin(unsigned int a, unsigned int b) { return a < b ? a : b; }
inline unsigned int umax(unsigned int a, unsigned int b) { return a > b ? a : b; }
inline long long llmin(long long a, long long b) { return a < b ? a : b; }
inline long long llmax(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long ullmin(unsigned long long a, unsigned long long b) {
    return a < b ? a : b;
}
inline unsigned long long ullmax(unsigned long long a, unsigned long long b) {
    return a > b ? a : b;
}

inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __saturatef(float x) { return x >= 1.0f ? 1.0f : (x > 0.0f ? x : 0.0f); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __powf(float a, float b) { return powf(a, b); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float fdividef(float a, float b) { return a / b; }
// The _rn arithmetic intrinsics exist on a GPU to forbid FMA contraction; the
// host compiler does not contract without -ffp-contract and FMA instructions.
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }

// Conversions: _rn rounds half to even (the default rounding mode of nearbyint),
// _rz truncates, _rd/_ru floor/ceil.  Out-of-range values saturate as CUDA's do
// (NaN gives 0).
namespace imgconv_sim {
template <class I, class F>
inline I saturating_convert(F x) {
    if (x != x) return 0;
    if (x <= (F)std::numeric_limits<I>::min()) return std::numeric_limits<I>::min();
    if (x >= (F)std::numeric_limits<I>::max()) return std::numeric_limits<I>::max();
    return (I)x;
}
}  // namespace imgconv_sim
inline int __float2int_rn(float x) { return imgconv_sim::saturating_convert<int>(nearbyintf(x)); }
inline int __float2int_rz(float x) { return imgconv_sim::saturating_convert<int>(truncf(x)); }
inline int __float2int_rd(float x) { return imgconv_sim::saturating_convert<int>(floorf(x)); }
inline int __float2int_ru(float x) { return imgconv_sim::saturating_convert<int>(ceilf(x)); }
inline unsigned int __float2uint_rn(float x) {
    return imgconv_sim::saturating_convert<unsigned int>(nearbyintf(x));
}
inline long long __float2ll_rn(float x) {
    return imgconv_sim::saturating_convert<long long>(nearbyintf(x));
}
inline int __double2int_rn(double x) { return imgconv_sim::saturating_convert<int>(nearbyint(x)); }
inline unsigned int __double2uint_rn(double x) {
    return imgconv_sim::saturating_convert<unsigned int>(nearbyint(x));
}
inline long long __double2ll_rn(double x) {
    return imgconv_sim::saturating_convert<long long>(nearbyint(x));
}
inline float __int2float_rn(int x) { return (float)x; }
inline float __int_as_float(int x) { float f; std::memcpy(&f, &x, sizeof f); return f; }
inline int __float_as_int(float f) { int x; std::memcpy(&x, &f, sizeof x); return x; }
inline double __longlong_as_double(long long x) {
    double f;
    std::memcpy(&f, &x, sizeof f);
    return f;
}
inline long long __double_as_longlong(double f) {
    long long x;
    std::memcpy(&x, &f, sizeof x);
    return x;
}

// ---- the launcher (instantiated by the loader's generated trailer) ----
namespace imgconv_sim {

template <class T>
constexpr char kind_code() {
    using U = std::remove_cv_t<T>;
    if constexpr (std::is_void_v<U>) return 'v';
    else if constexpr (std::is_same_v<U, bool>) return 'b';
    else if constexpr (std::is_floating_point_v<U>) return 'f';
    else if constexpr (std::is_integral_v<U> && std::is_signed_v<U>) return 'i';
    else if constexpr (std::is_integral_v<U>) return 'u';
    else return 'x';
}

template <class T>
inline void append_type_code(std::string& out) {
    if constexpr (std::is_pointer_v<T>) {
        using Pointee = std::remove_cv_t<std::remove_pointer_t<T>>;
        out += 'p';
        if constexpr (std::is_void_v<Pointee>) {
            out += 'v';
        } else {
            out += kind_code<Pointee>();
            out += std::to_string(sizeof(Pointee));
        }
    } else {
        out += kind_code<T>();
        out += std::to_string(sizeof(T));
    }
    out += ',';
}

// The kernel's parameter types, e.g. "pf4,pu1,i4," for (float*, const
// unsigned char*, int), so that the loader checks a launch's arguments.
template <class... P>
inline std::string signature(void (*)(P...)) {
    std::string out;
    (append_type_code<P>(out), ...);
    return out;
}

template <class... P, std::size_t... I>
inline void call_with(void (*kernel)(P...), void** args, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_cv_t<P>*>(args[I])...);
}

// The process-wide thread team's entry point (_sim_team.cpp), handed to each
// launch by the loader: runs job(context, rank) for every rank in [0, size)
// on `size` host threads at once.
using RunTeam = int (*)(unsigned int size, void (*job)(void*, unsigned int), void* context,
                        char* error, unsigned long error_size);

template <class Body>
inline void run_rank(void* body, unsigned int rank) {
    (*static_cast<Body*>(body))(rank);
}

// Runs the whole grid: blockDim host threads of the team run the blocks one
// after another.  Returns 0, or 1 with a message in `error`.
template <class... P>
inline int launch(void (*kernel)(P...), const unsigned int* grid_size,
                  const unsigned int* block_size, unsigned long long shared_bytes,
                  void** args, RunTeam run_team, char* error, unsigned long error_size) {
    const dim3 grid(grid_size[0], grid_size[1], grid_size[2]);
    const dim3 block(block_size[0], block_size[1], block_size[2]);
    const std::ptrdiff_t team_size = (std::ptrdiff_t)block.x * block.y * block.z;
    // max_align_t: 16-byte alignment, as the GPU's dynamic shared memory has.
    std::vector<std::max_align_t> shared(shared_bytes / sizeof(std::max_align_t) + 1);
    dynamic_shared_memory = reinterpret_cast<unsigned char*>(shared.data());

    std::optional<std::barrier<PhaseEnd>> sync(std::in_place, team_size);
    block_barrier = &*sync;
    start_block_phases();
    // Runs when the whole team has finished a block, before any thread starts
    // the next: the next block gets a barrier that counts every thread again.
    auto next_block = [&]() noexcept {
        sync.emplace(team_size);
        block_barrier = &*sync;
        start_block_phases();
    };
    std::barrier<decltype(next_block)> between_blocks(team_size, next_block);

    auto body = [&](unsigned int rank) {
        threadIdx = uint3{rank % block.x, rank / block.x % block.y, rank / (block.x * block.y)};
        blockDim = block;
        gridDim = grid;
        for (unsigned int z = 0; z < grid.z; ++z)
            for (unsigned int y = 0; y < grid.y; ++y)
                for (unsigned int x = 0; x < grid.x; ++x) {
                    blockIdx = uint3{x, y, z};
                    thread_phase = 0;
                    call_with(kernel, args, std::index_sequence_for<P...>{});
                    // A thread that has returned no longer takes part in the
                    // block's __syncthreads, as on a GPU.
                    block_barrier->arrive_and_drop();
                    between_blocks.arrive_and_wait();
                }
    };
    return run_team((unsigned int)team_size, &run_rank<decltype(body)>, &body, error, error_size);
}

}  // namespace imgconv_sim
