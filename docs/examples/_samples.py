"""Where the gallery scripts beside this file find the bundled samples.

``SAMPLES`` is the repository's ``samples/`` folder.  A script finds this
module wherever it runs from: Python puts a script's own folder on
``sys.path``, and sphinx-gallery runs the scripts in this folder (where they
have no ``__file__``, which this module has).  sphinx-gallery leaves it out
of the gallery (``ignore_pattern`` in docs/conf.py).
"""
import os

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "samples")
