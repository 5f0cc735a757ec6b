"""Sphinx configuration of imgconv's documentation.

Build (from the repository root, after building the kernels in place or
installing the package)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""
import os
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DOCS)
# An installed imgconv (pip install -e .) is found anyway; the repository root
# makes an in-place build (setup.py build_ext --inplace) work too.
sys.path.insert(0, ROOT)

import imgconv  # noqa: E402

project = "imgconv"
author = "imgconv developers"
copyright = "imgconv developers"
version = release = imgconv.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "examples/README.rst", "**/*.ipynb"]

# MyST: heading anchors so pages can link to sections ("guide/modes.md#aliases").
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "dollarmath"]

# API reference: one page per public name, from the numpydoc docstrings.
autosummary_generate = True
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Docstrings name parameters in prose (``x``), not as cross-references.
numpydoc_xref_param_type = False

# Gallery: the scripts in docs/examples/, run at build time on the small
# bundled samples (each runs in well under a second).
sphinx_gallery_conf = {
    "examples_dirs": ["examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    # _samples.py is the scripts' helper (where the samples are), not an example
    "ignore_pattern": r"__init__\.py|(^|[\\/])_samples\.py$",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "show_memory": False,
    "show_signature": False,
    "write_computation_times": False,
}

html_theme = "pydata_sphinx_theme"
html_title = f"imgconv {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_show_sourcelink = False
