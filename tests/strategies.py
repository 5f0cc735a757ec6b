"""Hypothesis helpers shared by the test modules."""
from hypothesis import strategies as st


def per_axis(data, n, lo, hi, label):
    """A tuple of ``n`` integers in [lo, hi], one per axis."""
    return tuple(data.draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n), label=label))
