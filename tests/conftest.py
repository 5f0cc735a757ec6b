"""Make tests/reference.py importable whatever pytest's import mode, and
provide the ``backend`` fixture: every available backend, for the suites
that hold each backend to the same references (tests/test_conformance.py)."""
import importlib
import os
import sys
from typing import Callable, NamedTuple

import numpy as np
import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


class BackendUnderTest(NamedTuple):
    """A backend as the conformance tests drive it."""

    name: str                      # as backend= takes it
    asarray: Callable              # numpy array -> an input array of this backend
    to_numpy: Callable             # a result of this backend -> numpy array
    simulated: object = None       # the backend object, where it runs in its simulator


#: (backend name, the array module of its inputs and results).  Adding a
#: backend to the conformance suites is one line here.
BACKENDS_UNDER_TEST = [
    ("cpu", "numpy"),
    ("cuda", "cupy"),
]

#: The environment variable that runs a backend in its simulator (numpy in
#: and out), for machines that cannot run it for real.
SIMULATORS = {"cuda": "IMGCONV_CUDA_SIMULATOR"}


def _backend_param(name, array_module):
    """``name`` as a parameter of the ``backend`` fixture: the real backend,
    else its simulator (id ``<name>-sim``), else skipped saying why."""
    from imgconv import _dispatch

    try:
        _dispatch.load(name)
        xp = importlib.import_module(array_module)
    except (ImportError, NotImplementedError, RuntimeError) as exc:
        reason = f"backend {name!r}: {exc}"
    else:
        return pytest.param(BackendUnderTest(name, xp.asarray, getattr(xp, "asnumpy", np.asarray)),
                            id=name)
    if name in SIMULATORS:
        try:
            simulated = _load_simulated(name)
        except RuntimeError as exc:
            reason += f"; its simulator: {exc}"
        else:
            return pytest.param(BackendUnderTest(name, np.asarray, np.asarray, simulated),
                                id=f"{name}-sim")
    return pytest.param(None, id=name, marks=pytest.mark.skip(reason=reason))


def _load_simulated(name):
    """The backend ``name`` loaded in its simulator, without leaving it in
    ``_dispatch``'s loaded backends (the fixture puts it there per test)."""
    from imgconv import _dispatch

    saved = os.environ.get(SIMULATORS[name])
    os.environ[SIMULATORS[name]] = "1"
    try:
        return importlib.import_module(_dispatch.BACKEND_MODULES[name]).load_backend()
    finally:
        if saved is None:
            del os.environ[SIMULATORS[name]]
        else:
            os.environ[SIMULATORS[name]] = saved


def _generic_kernel_backend():
    """``_backend.KernelBackend`` on numpy and the compiled kernels with none
    of the CPU backend's extras (prepared calls, FFT, the fused volume
    sweep, cache fitting, OpenMP thread counts): the route a backend that
    only brings a kernel module takes, checked against the same references."""
    from imgconv import _backend, _cpu

    class GenericNumpyBackend(_backend.KernelBackend):
        take_input = staticmethod(_cpu.as_input_array)
        check_out = staticmethod(_cpu.check_out)

    return GenericNumpyBackend("cpu", np, _cpu.kernels, ("numpy",))


@pytest.fixture(params=[_backend_param(name, module) for name, module in BACKENDS_UNDER_TEST]
                + [pytest.param("generic", id="cpu-generic")])
def backend(request, monkeypatch):
    """Each available backend (a :class:`BackendUnderTest`; a simulated one
    runs with its simulator's variable set), and the CPU's kernels through
    the generic orchestration alone (``cpu-generic``)."""
    from imgconv import _convolve, _dispatch

    if request.param != "generic":
        under_test = request.param
        if under_test.simulated is not None:
            monkeypatch.setenv(SIMULATORS[under_test.name], "1")
            monkeypatch.setitem(_dispatch._loaded, under_test.name, under_test.simulated)
            # plans made by this object stay with this test
            _convolve._plan_cache.clear()
        yield under_test
        if under_test.simulated is not None:
            _convolve._plan_cache.clear()
        return
    # backend='cpu' runs on the generic object for this test; no plan made
    # by the real CPU backend is used meanwhile, none of this one's after
    monkeypatch.setitem(_dispatch._loaded, "cpu", _generic_kernel_backend())
    _convolve._plan_cache.clear()
    yield BackendUnderTest("cpu", np.asarray, np.asarray)
    _convolve._plan_cache.clear()
