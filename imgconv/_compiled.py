"""The compiled extension modules, imported in one place.

Python run from the repository root imports the source folder ``imgconv/``
rather than an installed copy.  Where that folder was never built, the first
filter would fail with a bare ``ImportError`` from whichever module happened
to ask first; instead, :func:`load` says why and what to run (as numpy does
when imported from its source directory).
"""
import importlib
import importlib.util
import os


class NotBuiltError(ImportError):
    """imgconv's compiled kernels are missing from the imgconv being imported."""


def load(name):
    """Import the compiled module ``imgconv.<name>``, or raise :class:`NotBuiltError`.

    Examples
    --------
    >>> load("_openmp").__name__
    'imgconv._openmp'
    """
    qualified = f"{__package__}.{name}"
    try:
        return importlib.import_module(qualified)
    except ModuleNotFoundError as error:
        if error.name != qualified:
            raise
        raise NotBuiltError(_not_built_message(name)) from None


def is_built(name):
    """True if the compiled module ``imgconv.<name>`` is there to import."""
    return importlib.util.find_spec(f"{__package__}.{name}") is not None


def _not_built_message(name):
    package = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(package)
    if os.path.exists(os.path.join(root, "setup.py")):
        return (
            f"imgconv's compiled kernels ({name}) are not built in {package}: this is "
            f"imgconv's source tree, imported because Python runs from {root}. Build it in "
            f"place with `pip install -e .` in {root}, or run Python from another folder "
            "to use an installed imgconv."
        )
    return (
        f"imgconv's compiled kernels ({name}) are missing from {package}: the "
        "installation is incomplete; reinstall imgconv (`pip install --force-reinstall imgconv`)."
    )
