"""The parameter descriptions that several public docstrings share, each
written once, and :func:`docfiller`, which puts them into the docstrings (as
scipy.ndimage's ``_ni_docstrings``).

A docstring stays in its function's body, with its own summary, specific
parameters, Returns and Examples; a shared entry is a line holding only a
placeholder, ``%(name)s``, indented as the entries around it::

    @docfiller
    def dilate(x, footprint=None, *, ...):
        '''Grey-scale (or binary) dilation: ...

        Parameters
        ----------
        %(morphology_parameters)s

        Returns
        -------
        ...
        '''

The placeholder line becomes the entry (or entries) of :data:`docdict`,
every line indented as the placeholder was, so numpydoc reads the same
docstring as if it were written out.  Only whole placeholder lines are
filled: a ``%`` anywhere else in a docstring is left as it is (no ``%%``),
and a placeholder that is not alone on its line, or names no entry, raises
an error when the module defining the function is imported.

Imports nothing heavy: ``import imgconv`` stays light.
"""
import re
import textwrap

__all__ = ["docdict", "docfiller"]


def _entries(text):
    """A numpydoc parameter list written flush left (entries at column 0,
    descriptions indented by 4), without the blank lines around it."""
    return textwrap.dedent(text).strip("\n")


# ---------------------------------------------------------------------------
# correlate and convolve (imgconv._convolve)
# ---------------------------------------------------------------------------
_CORRELATE = {
    "x_correlate": """
        x : array_like
            Image ``(H, W)``, volume ``(D, H, W)`` or signal ``(N,)``, optionally with a
            channel axis (see ``channel_axis``).  uint8, uint16, int16, int32, float32,
            float64 (bool, int8, float16 are widened; uint32, int64, uint64 go through
            float64), or complex64, complex128 (filtered as its real and imaginary
            parts).  Any strides and byte order; ``x`` is never modified.
        """,
    "kernel": """
        kernel : array_like
            Weights, with as many dimensions as ``x`` has spatial axes; real or
            complex (``correlate`` uses a complex kernel's conjugate, as
            ``numpy.correlate`` and ``scipy.ndimage.correlate``; ``convolve`` does not).
        """,
    "mode_correlate": """
        mode : str or sequence of str
            Boundary mode: 'reflect' (default; ``c b | a b c d | c b``, numpy/torch
            'reflect', scipy 'mirror'), 'symmetric', 'replicate', 'wrap', 'zero'
            (with ``cval``), or an alias ('mirror', 'reflect101', 'nearest', 'edge',
            'circular', 'constant').  One name, or a sequence of one per filtered
            axis (in the order of ``axes``): each axis padded by its own mode;
            a non-separable kernel then costs one padded copy of ``x``.
        """,
    "cval_correlate": """
        cval : float or complex
            Value outside the image, with mode 'zero' only (default 0; on the
            'zero' axes of per-axis modes); a nonzero cval without a 'zero' axis
            raises ValueError rather than being ignored.  Complex only for a
            complex ``x``.
        """,
    "padding": """
        padding : {'same', 'valid', 'full'}, int, or per-axis ints / (lo, hi) pairs
            'same' keeps the size (``ceil(n / stride)`` with a stride); 'valid' pads
            nothing; 'full' pads ``dilation * (k - 1)`` on both sides.
        """,
    "stride_dilation": """
        stride, dilation : int or tuple of int
            Per spatial axis, >= 1.  Output size ``floor((n + pad_lo + pad_hi -
            dilation*(k-1) - 1) / stride) + 1``.
        """,
    "origin_correlate": """
        origin : int or tuple of int
            Shift of the kernel's centre tap ``k//2 + origin`` (padding='same' only),
            as scipy.ndimage.
        """,
    "channel_axis_correlate": """
        channel_axis : int or None
            Axis of ``x`` holding channels, filtered independently with the same kernel.
        """,
    "axes_correlate": """
        axes : int or sequence of int, optional
            The axes to filter (as scipy.ndimage): the kernel's dimensions map
            onto them in ascending array order, per-axis arguments (stride,
            dilation, origin, padding) follow the order given; every other axis
            is filtered independently, e.g. ``axes=(1, 2)`` filters a stack of
            images slice by slice.  Default: all axes but ``channel_axis``.
        """,
    "dtype_correlate": """
        dtype : dtype, optional
            Output dtype; default float32 for float32 and integer inputs up to 16 bits,
            float64 otherwise (complex64 and complex128 for complex data: complex64
            for complex64 images and the real ones computed in float32).  Integer
            outputs are rounded to nearest and saturated.  A complex dtype takes a
            real result too (imaginary part 0); a real one refuses a complex result.
        """,
    "out_correlate": """
        out : ndarray, optional
            Preallocated output of the result's shape (and ``dtype``, if given).
        """,
    "method": """
        method : {'auto', 'direct', 'separable', 'fft'}
            'direct' sums the taps (zero weights are skipped, so a NaN under a zero
            weight does not spread, except in the CUDA backend's fast float32
            path); 'separable' runs one 1D pass per axis and
            needs a rank-1 kernel (second singular value below 1e-6 of the first
            in float32, 1e-12 in float64); 'fft' multiplies spectra (imgconv's
            compiled tiles in 2D and 3D, else scipy.fft if
            installed or numpy.fft; a NaN or inf spreads over its whole tile;
            cuFFT on the GPU).  'auto' (default) picks the cheapest
            by a cost model, never 'fft' for data or a kernel holding NaN or inf.  All agree to float rounding: about 1e-6 of
            ``sum(|kernel|) * max(|x|)`` in float32, 1e-12 in float64.
        """,
    "backend": """
        backend : {'auto', 'cpu', 'cuda', 'dask'}
            'auto' runs on the array's own device (numpy: the CPU kernels;
            a CuPy array: the CUDA kernels, on its GPU, giving CuPy results;
            a dask array: chunk by chunk, giving a lazy dask array).
            'cuda' with a numpy array copies it to the GPU and the result
            back (see the GPU guide); without CuPy, a CUDA driver or a GPU
            it raises ``imgconv.cuda.CudaUnavailable``.  'dask' with a numpy
            array (and ``chunks=``, dask's chunk notation) gives a lazy dask
            array (see the guide's "Large volumes with dask").
        """,
    "threads_correlate": """
        threads : int, optional
            CPU threads to use; default :func:`imgconv.get_num_threads`.  The
            CUDA backend takes none (giving it is an error); on dask arrays
            it is each chunk's, default 1 (dask runs the chunks in parallel).
        """,
}

# ---------------------------------------------------------------------------
# the filters built on correlation (imgconv._filters)
# ---------------------------------------------------------------------------
_FILTERS = {
    "x_filter": """
        x : array_like
            Image or volume.
        """,
    "axis_derivative": """
        axis : int or None
            Array axis of the derivative; None for the gradient magnitude.
        """,
    "truncate_radius": """
        truncate : float
            Kernel radius ``int(truncate * sigma + 0.5)`` pixels (sigma in
            pixels), unless ``radius`` is given.
        radius : int or sequence of int, optional
            The kernel's radius in pixels per spatial axis (scipy's ``radius``):
            ``2 * radius + 1`` taps, ``truncate`` ignored.
        """,
    "mode": """
        mode : str or sequence of str
            Boundary mode ('reflect' default, 'symmetric', 'replicate', 'wrap',
            'zero' with ``cval``, or an alias; see :func:`imgconv.correlate`):
            one name, or a sequence of one per filtered axis (in the order of
            ``axes``), as scipy.ndimage takes them.
        """,
    "cval": """
        cval : float or complex
            Value outside the image, with mode 'zero' only (default 0; on the
            'zero' axes of per-axis modes); a nonzero cval without a 'zero' axis
            raises ValueError.  Complex only for a complex ``x`` (of the filters
            that take complex data).
        """,
    "channel_axis": """
        channel_axis : int or None
            Axis holding channels, filtered independently.
        """,
    "axes": """
        axes : int or sequence of int, optional
            Axes to filter (default: all but ``channel_axis``); per-axis arguments
            (and ``sepfilter``'s kernels) follow the order given, and every other
            axis is filtered independently.
        """,
    "dtype": """
        dtype : dtype, optional
            Output dtype (default float32 for float32 and integer inputs up to 16
            bits, else float64; complex64 or complex128 for complex data, see
            :func:`imgconv.correlate`); integers are rounded and saturated.
        """,
    "out": """
        out : ndarray, optional
            Preallocated output.
        """,
    "threads": """
        threads : int, optional
            CPU threads to use (default :func:`imgconv.get_num_threads`); the
            CUDA backend takes none.
        """,
}

# ---------------------------------------------------------------------------
# morphology (imgconv._morphology) and pooling (imgconv._pool)
# ---------------------------------------------------------------------------
_MORPHOLOGY = {
    "x_morphology": """
        x : ndarray
            1D, 2D or 3D image (uint8, uint16, int16, int32, float32, float64, or
            bool for binary morphology), optionally with a channel axis.  Other
            real dtypes keep their dtype, exactly (int8, float16 and uint32 run
            widened; int64 and uint64 as they are).
        """,
    "footprint": """
        footprint : array of bool, optional
            The flat structuring element, with up to as many dimensions as ``x``
            has spatial axes (missing leading axes get length 1); for example
            :func:`imgconv.footprints.disk`.  Values must be booleans (0/1).
            With ``axes``, its dimensions map onto them in ascending array order
            (as scipy.ndimage); ``size`` and ``origin`` follow the order given.
        """,
    "size_morphology": """
        size : int or sequence of int, optional
            Without ``footprint``: a box of this size (default 3).
        """,
    "structure_morphology": """
        structure : array of float, optional
            Non-flat (grey-scale) morphology, as scipy.ndimage's ``structure``:
            the height of each cell, added to its sample before a dilation's
            maximum (mirrored with the footprint) and subtracted before an
            erosion's minimum.  With ``footprint`` (same shape, else ValueError)
            only its True cells take part; without, every cell does; not with
            ``size``.  Integer images take whole-number heights (a fractional one
            is an error) and their sums saturate to the dtype's range (scipy's
            wrap); float images add the heights in their own dtype.  Not for
            bool images.
        """,
    "mode_morphology": """
        mode : str or sequence of str, optional
            Boundary handling.  Default (None): pad with the value that never
            wins, so the border does not shrink or grow shapes: the dtype's
            minimum (-inf, False) for a dilation, its maximum (+inf, True) for an
            erosion.  ``'zero'`` pads with ``cval`` (default 0), saturated to the
            dtype; ``'replicate'``, ``'reflect'``, ``'symmetric'``, ``'wrap'`` as
            everywhere in imgconv; a sequence gives one per filtered axis (in
            the order of ``axes``; footprints other than boxes then cost one
            padded copy of ``x``).  Note scipy's ``binary_erosion`` pads with
            False by default; pass ``mode='zero'`` for that.
        """,
    "cval_morphology": """
        cval : float, optional
            Padding value, only with ``mode='zero'``; given with any other mode
            (or the default None) it raises ValueError.
        """,
    "origin_morphology": """
        origin : int or sequence of int
            Shifts the footprint's centre cell to ``k // 2 + origin``
            (scipy.ndimage's rule).
        """,
    "channel_axis_axes_as_correlate": """
        channel_axis, axes : optional
            As in :func:`imgconv.correlate`.
        """,
    "out_morphology": """
        out : ndarray, optional
            Array of the input's shape and dtype to write the result into.
        """,
    "backend_threads_as_correlate": """
        backend, threads : optional
            As in :func:`imgconv.correlate`.
        """,
}

#: name -> the text that fills ``%(name)s``: one or more numpydoc parameter
#: entries, flush left
docdict = {name: _entries(text) for name, text in {**_CORRELATE, **_FILTERS,
                                                    **_MORPHOLOGY}.items()}


def _join(*names):
    return "\n".join(docdict[name] for name in names)


# Whole parameter lists, for functions that share every one of their
# parameters (correlate and convolve; the seven morphology functions) or a
# run of them (the options that follow the filters' own parameters).
docdict["correlate_parameters"] = _join(
    "x_correlate", "kernel", "mode_correlate", "cval_correlate", "padding",
    "stride_dilation", "origin_correlate", "channel_axis_correlate", "axes_correlate",
    "dtype_correlate", "out_correlate", "method", "backend", "threads_correlate")
docdict["filter_options"] = _join("mode", "cval", "channel_axis", "axes", "dtype", "out",
                                  "threads")
docdict["morphology_parameters"] = _join(
    "x_morphology", "footprint", "size_morphology", "structure_morphology", "mode_morphology",
    "cval_morphology", "origin_morphology", "channel_axis_axes_as_correlate", "out_morphology",
    "backend_threads_as_correlate")

_PLACEHOLDER_LINE = re.compile(r"^([ \t]*)%\((\w+)\)s[ \t]*$", re.M)
_PLACEHOLDER = re.compile(r"%\(\w+\)s")


def fill(docstring, entries=None):
    """``docstring`` with each line that holds only ``%(name)s`` replaced by
    ``entries[name]`` (default :data:`docdict`), indented as that line."""
    entries = docdict if entries is None else entries

    def entry(match):
        indent, name = match.groups()
        if name not in entries:
            raise KeyError(f"no shared docstring entry {name!r} (see imgconv._docstrings)")
        return "\n".join(indent + line if line else line
                         for line in entries[name].splitlines())

    filled = _PLACEHOLDER_LINE.sub(entry, docstring)
    stray = _PLACEHOLDER.search(filled)
    if stray:
        raise ValueError(f"placeholder {stray.group()} must stand alone on its line")
    return filled


def docfiller(f):
    """Decorator: fill the placeholders of ``f``'s docstring (see :func:`fill`)."""
    if f.__doc__:   # None under python -OO
        f.__doc__ = fill(f.__doc__)
    return f
