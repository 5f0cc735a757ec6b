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
//   __expf/__logf/__powf, the __float2int_rn family;
// - the fixed-width integer types below (NVRTC has no <cstdint>).
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
