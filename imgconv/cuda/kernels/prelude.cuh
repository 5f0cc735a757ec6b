// imgconv's CUDA prelude: included first by every kernel source
// (`#include "prelude.cuh"`), on the GPU (NVRTC through CuPy's RawModule) and
// in the simulator (the host C++ compiler with imgconv/cuda/_sim.h).
//
// What kernels may use, so that both worlds compile them:
// - __global__ / __device__ / __forceinline__ functions and templates, C++17;
//   __restrict__ on pointer parameters;
// - __shared__ arrays of a size known at compile time, inside kernels;
//   dynamic shared memory only through DYNAMIC_SHARED below (never a plain
//   `extern __shared__`);
// - __constant__ arrays at global namespace scope (not in a namespace: the
//   loader finds them by their unmangled name), filled by Kernel.set_constant;
// - threadIdx, blockIdx, blockDim, gridDim, __syncthreads(), __ldg,
//   __threadfence, atomicAdd/Sub/Min/Max/Exch/CAS/And/Or/Xor on int, unsigned,
//   unsigned long long (atomicAdd also float and double), the <cmath>
//   functions, CUDA's min/max overloads, rsqrtf, __saturatef, __fdividef,
//   __expf/__logf/__powf, the __float2int_rn family; __syncthreads_count/
//   _and/_or;
// - the fixed-width integer types below (NVRTC has no <cstdint>) and the
//   limits below (INFINITY, NAN, FLT_MAX, INT16_MAX, ...).
// Not available: the standard library (no #include of system headers), warp
// intrinsics (__shfl*_sync, __ballot_sync, ...), cooperative groups, textures.
#pragma once

typedef signed char int8;
typedef unsigned char uint8;
typedef short int16;
typedef unsigned short uint16;
typedef int int32;
typedef unsigned int uint32;
typedef long long int64;
typedef unsigned long long uint64;

// Limits and special values, which NVRTC lacks (the simulator has them from
// <cmath>, <cfloat>, <climits> and <cstdint>).  On the GPU INFINITY and NAN are
// not constant expressions: do not use them in a constexpr.
#ifndef IMGCONV_CUDA_SIMULATOR
#define INFINITY __int_as_float(0x7f800000)
#define NAN __int_as_float(0x7fffffff)
#define FLT_MAX 3.402823466e+38F
#define FLT_MIN 1.175494351e-38F
#define FLT_EPSILON 1.192092896e-07F
#define DBL_MAX 1.7976931348623158e+308
#define DBL_MIN 2.2250738585072014e-308
#define DBL_EPSILON 2.2204460492503131e-16
#define INT8_MIN (-128)
#define INT8_MAX 127
#define UINT8_MAX 255
#define INT16_MIN (-32767 - 1)
#define INT16_MAX 32767
#define UINT16_MAX 65535
#define INT32_MIN (-2147483647 - 1)
#define INT32_MAX 2147483647
#define UINT32_MAX 4294967295U
#define INT64_MIN (-9223372036854775807LL - 1)
#define INT64_MAX 9223372036854775807LL
#define UINT64_MAX 18446744073709551615ULL
#define INT_MIN INT32_MIN
#define INT_MAX INT32_MAX
#define UINT_MAX UINT32_MAX
#endif

#ifdef IMGCONV_CUDA_SIMULATOR
// The simulator's launcher owns one buffer per launch of `shared_mem` bytes.
#define DYNAMIC_SHARED(type, name) \
    type* name = reinterpret_cast<type*>(imgconv_sim::dynamic_shared_memory)
#else
// One untyped extern array for every kernel: declaring `extern __shared__ T
// name[]` with different T in different template instantiations is an error.
#define DYNAMIC_SHARED(type, name)                                                  \
    extern __shared__ __align__(16) unsigned char imgconv_dynamic_shared_memory[]; \
    type* name = reinterpret_cast<type*>(imgconv_dynamic_shared_memory)
#endif
