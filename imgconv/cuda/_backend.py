"""The CUDA backend object: ``imgconv._backend.KernelBackend`` over CuPy
arrays and the CUDA kernels' launch wrappers (``imgconv.cuda._kernels``).

On a GPU its arrays are ``cupy.ndarray``: a CuPy input runs on its own
device and gives CuPy results; a host input (numpy) with ``backend='cuda'``
is copied to the current device once, and the results back once
(:meth:`CudaBackend.call`, which every public function goes through, see
``imgconv._dispatch.device_boundary``).  In the simulator
(``IMGCONV_CUDA_SIMULATOR=1``) the device arrays are numpy arrays: numpy in,
numpy out, with the CPU backend's input and ``out=`` checks.

The FFT method is ``imgconv._xp_fft`` (cuFFT through ``cupyx.scipy.fft``;
scipy.fft on the simulator's numpy arrays), chosen by ``method='auto'``
through its GPU cost model (``_xp_fft.gpu_fft_cost``, an unmeasured
estimate); the one look at the data then is ``all_finite``, two reductions
on the device.  There are no prepared calls for the plan cache and no
fused z/y/x sweep: the general route of ``KernelBackend``.
"""
import numpy as np

from .. import _cpu, _xp_fft
from .. import _validate as v
from .._backend import KernelBackend, check_out_elements, check_out_shape_dtype
from . import _kernels, _runtime

#: The kernel functions ``KernelBackend`` calls, all with the compiled CPU
#: module's signatures.
KERNEL_FUNCTIONS = ("correlate", "box_pass", "extreme_pass", "extreme_footprint",
                    "extreme_structure", "rank_filter", "pool")


def _without_thread_count(launch):
    def call(*args):
        # The CPU signature ends with the OpenMP thread count; a launch has
        # no use for it (kernel_threads refused any threads= already).
        return launch(*args[:-1])

    call.__name__ = call.__qualname__ = launch.__name__
    call.__doc__ = launch.__doc__
    return call


class LaunchWrappers:
    """``imgconv.cuda._kernels`` with the compiled CPU kernel module's
    signatures: the launch wrappers take every argument but the trailing
    ``nthreads``."""

    def __init__(self, module):
        for name in KERNEL_FUNCTIONS:
            setattr(self, name, _without_thread_count(getattr(module, name)))


class CudaBackend(KernelBackend):
    """Arrays of ``xp`` (CuPy on a GPU, numpy in the simulator) through the
    CUDA kernels.

    Parameters
    ----------
    xp : module
        ``cupy``, or ``numpy`` in the simulator (``_runtime.xp()``).
    kernels : object
        The kernel functions with the CPU module's signatures
        (:class:`LaunchWrappers` of ``imgconv.cuda._kernels``).

    Notes
    -----
    ``threads=`` sets CPU threads: any value but None is an error here.
    """

    has_fft = True

    def __init__(self, xp, kernels):
        self.host_arrays = xp is np
        super().__init__("cuda", xp, kernels, ("numpy",) if self.host_arrays else ("cupy",))
        if self.host_arrays:
            # the simulator's device arrays are numpy arrays: the CPU's checks
            self.take_input = _cpu.as_input_array
            self.check_out = _cpu.check_out
            self.extreme_output = _cpu.extreme_output

    def __repr__(self):
        where = "simulator" if self.host_arrays else "GPU"
        return f"<imgconv backend 'cuda' ({where})>"

    def fft_correlate(self, inp, weights, geom, out, threads):
        """Correlation through the transforms of :attr:`xp` (``_xp_fft``);
        ``threads`` is None (``call`` refuses any other)."""
        return _xp_fft.fft_correlate(self.xp, inp, inp.x, weights, geom, out)

    def fft_cost(self, inp, extent, to_beat, stride=None):
        """The GPU's cost model of the FFT (``_xp_fft.gpu_fft_cost``), in the
        simulator too, so that ``method='auto'`` chooses there as on a GPU
        (whole-array transforms: the stride does not change their cost)."""
        return _xp_fft.gpu_fft_cost(inp.spatial_shape, extent, inp.channels, inp.compute)

    # ----------------------------------------------------------------------
    # The whole call: device context, host inputs and results
    # ----------------------------------------------------------------------
    def call(self, function, x, args, kwargs):
        """Run the public ``function`` on ``x``: a device array on its own
        device, a host array (numpy, or what numpy takes) by a copy to the
        current device, its results copied back (into a numpy ``out=`` when
        given)."""
        if kwargs.get("threads") is not None:
            raise ValueError(f"threads={kwargs['threads']!r} sets CPU threads; the cuda backend "
                             "takes none (leave threads=None)")
        if self.host_arrays:
            return function(x, *args, **kwargs)
        if isinstance(x, self.xp.ndarray):
            with x.device:
                return function(x, *args, **kwargs)
        return self.host_round_trip(function, x, args, kwargs)

    def host_round_trip(self, function, x, args, kwargs):
        """``function`` of the host array ``x`` run on the current device:
        one copy there, one copy of each result back.  A numpy ``out=``
        receives the result (checked first as the CPU checks it: writeable,
        element-aligned, no overlap with ``x`` or itself)."""
        cupy = self.xp
        host = host_array(x)
        out = kwargs.get("out")
        if out is not None:
            if isinstance(out, cupy.ndarray):
                raise TypeError("out is a cupy array but x is a numpy array: with "
                                "backend='cuda', give both on the GPU or both on the host")
            check_host_out(out, host)
            kwargs = {**kwargs, "out": cupy.empty(out.shape, out.dtype)}
        result = function(cupy.asarray(host), *args, **kwargs)
        if isinstance(result, tuple):       # pool's values and indices
            return tuple(self.to_host(r, out if i == 0 else None) for i, r in enumerate(result))
        return self.to_host(result, out)

    def to_host(self, result, out=None):
        """A device ``result`` as a numpy array: ``out`` if given, else a new one."""
        if out is None:
            return self.xp.asnumpy(result)
        if out.flags.c_contiguous:
            result.get(out=out)
        else:
            out[...] = self.xp.asnumpy(result)
        return out

    # ----------------------------------------------------------------------
    # Device arrays (GPU; the simulator takes the CPU's, see __init__)
    # ----------------------------------------------------------------------
    def take_input(self, x, name="x", exact=False):
        """``x`` (a CuPy array) as the kernels read it: a supported dtype
        (float16, int8, ... widened as on the CPU; with ``exact``, also 64-bit
        integers), element strides; copied once on the device if needed,
        never modified."""
        if not isinstance(x, self.xp.ndarray):
            raise TypeError(f"{name} must be a cupy array for the cuda backend, "
                            f"got {type(x).__module__}.{type(x).__name__}")
        target = v.kernel_input_dtype(x.dtype, name, exact)
        if x.dtype.kind == "b":
            # bool and uint8 share a layout: a view, not a copy
            return x.view(np.uint8)
        if target != x.dtype:
            return x.astype(target)
        if any(s % x.itemsize for s in x.strides):
            return self.xp.ascontiguousarray(x)
        return x

    def check_out(self, out, shape, dtype, x, name="out", allow_bool=False):
        """``out`` (a CuPy array on ``x``'s device) if it can receive a result
        of ``shape`` (``dtype`` None takes its dtype) without overlapping ``x``."""
        cupy = self.xp
        if not isinstance(out, cupy.ndarray):
            raise TypeError(f"{name} must be a cupy array (on the input's device) for a cupy "
                            f"input, got {type(out).__module__}.{type(out).__name__}")
        if isinstance(x, cupy.ndarray) and out.device.id != x.device.id:
            raise ValueError(f"{name} is on GPU {out.device.id} and the input on GPU "
                             f"{x.device.id}: give out on the input's device")
        check_out_shape_dtype(out, shape, dtype, name, allow_bool)
        check_out_elements(out, x if isinstance(x, cupy.ndarray) else None, name,
                           cupy.may_share_memory)
        return out


def host_array(x, name="x"):
    """``x``, a host input of ``backend='cuda'``, as a numpy array in native
    byte order (what CuPy copies to a device), without copying a numpy array
    that already is one."""
    if type(x).__module__.split(".", 1)[0] in ("dask", "torch"):
        raise TypeError(f"{name} must be a numpy or cupy array for the cuda backend, "
                        f"got {type(x).__module__}.{type(x).__name__}")
    try:
        x = np.asarray(x)
    except Exception as exc:
        raise TypeError(f"{name} must be an array, got {type(x).__name__}") from exc
    if not x.dtype.isnative:
        x = x.astype(x.dtype.newbyteorder("="))
    return x


def check_host_out(out, x, name="out"):
    """The checks of a numpy ``out=`` for a host input of ``backend='cuda'``
    that the device array the result is computed in cannot make: a numpy
    array, writeable, element-aligned, one place per element, not
    overlapping ``x``."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy array for a numpy input, "
                        f"got {type(out).__module__}.{type(out).__name__}")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")
    check_out_elements(out, x, name, np.may_share_memory, out.flags.aligned)


def load_backend():
    """The CUDA backend for this process: on the GPU through CuPy, or in the
    simulator with ``IMGCONV_CUDA_SIMULATOR=1``.

    Raises
    ------
    imgconv.cuda.CudaUnavailable
        Saying what is missing: CuPy, the CUDA driver or a GPU (the
        simulator: a C++ compiler).
    """
    return CudaBackend(_runtime.xp(), LaunchWrappers(_kernels))
