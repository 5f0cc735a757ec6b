"""imgconv's CUDA backend: CUDA C kernels in ``kernels/*.cu`` run through CuPy.

The loader (`imgconv.cuda._runtime`) compiles a kernel source with NVRTC
through CuPy's ``RawModule`` on a GPU, or, with ``IMGCONV_CUDA_SIMULATOR=1``
in the environment, with the host C++ compiler and the emulation header
``_sim.h``, and runs its launches on numpy arrays (for tests without a GPU).
``_nvrtc.compile_ptx`` compiles a kernel to PTX with no GPU and no driver.

Importing this package imports neither CuPy nor numpy; the modules inside
import CuPy only when a GPU kernel is compiled.
"""
