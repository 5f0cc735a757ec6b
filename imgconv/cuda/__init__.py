"""imgconv's CUDA backend: CUDA C kernels in ``kernels/*.cu`` run through CuPy.

The loader (`imgconv.cuda._runtime`) compiles a kernel source with NVRTC
through CuPy's ``RawModule`` on a GPU, or, with ``IMGCONV_CUDA_SIMULATOR=1``
in the environment, with the host C++ compiler and the emulation header
``_sim.h``, and runs its launches on numpy arrays (for tests without a GPU).
``_nvrtc.compile_ptx`` compiles a kernel to PTX with no GPU and no driver.

Importing this package imports neither CuPy nor numpy; the modules inside
import CuPy only when a GPU kernel is compiled.
"""

from ._runtime import CudaUnavailable

__all__ = ["load_backend", "CudaUnavailable"]


def load_backend():
    """The CUDA backend object (``imgconv._dispatch`` calls this for
    ``backend='cuda'``, and for CuPy arrays under ``backend='auto'``).

    Returns
    -------
    imgconv.cuda._backend.CudaBackend
        On the GPU through CuPy; with ``IMGCONV_CUDA_SIMULATOR=1``, the same
        kernels compiled for the host and run on numpy arrays.

    Raises
    ------
    CudaUnavailable
        One message saying what is missing: CuPy, the CUDA driver or a GPU
        (in the simulator: a C++ compiler).
    """
    from ._backend import load_backend as load
    return load()

