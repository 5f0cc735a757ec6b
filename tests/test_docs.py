"""What the README and docs/ promise: their Python blocks run as written
from the repository root, the README's two commands are the ones CI runs,
its links lead somewhere, and the API reference lists every public name.

(The docs themselves are built by .ci/run with Sphinx, warnings as errors.)
"""
import json
import os
import re
import subprocess
import sys

import pytest

import imgconv as ic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
DOCS = os.path.join(ROOT, "docs")
CI_RUN = os.path.join(ROOT, ".ci", "run")
# the imgconv under test, which need not be the source tree's (pip install .)
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(ic.__file__)))

# The README's two commands: build, install and run the command; run the tests.
COMMANDS = [
    "pip install -e . && imgconv filter samples/shapes.png",
    'pip install -e ".[test]" && pytest tests',
]

pytestmark = pytest.mark.skipif(not os.path.exists(README), reason="README.md not beside the tests")


def readme():
    with open(README, encoding="utf-8") as f:
        return f.read()


def fenced_blocks(text, language):
    """The contents of the ```language blocks of a Markdown text, in order."""
    return re.findall(rf"^```{language}[ \t]*\n(.*?)^```", text, flags=re.S | re.M)


def run_blocks(blocks, tmp_path):
    """Run code blocks in order as one script, with the repository root as the
    working directory (the blocks use samples/...) and temporary files in
    tmp_path.  The script lies outside the repository, so that sys.path[0]
    is not the source tree: PYTHONPATH picks the imgconv under test."""
    script = tmp_path / "blocks.py"
    script.write_text("\n".join(blocks), encoding="utf-8")
    pythonpath = os.pathsep.join([PACKAGE_ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    return subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": pythonpath,
                                            "TMPDIR": str(tmp_path)})


# Appended to the README's code: the shape and dtype of every array it made.
REPORT = """
import json as _json
import numpy as _np
print("@@ARRAYS@@", _json.dumps({_name: [list(_value.shape), str(_value.dtype)]
                                  for _name, _value in dict(globals()).items()
                                  if isinstance(_value, _np.ndarray)}))
"""


def test_readme_python_blocks_run_from_the_repository_root(tmp_path):
    """Every ```python block of the README, run in order as one script."""
    blocks = fenced_blocks(readme(), "python")
    assert blocks, "README.md has no ```python block"
    proc = run_blocks(blocks + [REPORT], tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = [line for line in proc.stdout.splitlines() if line.startswith("@@ARRAYS@@ ")]
    arrays = json.loads(report[-1].split(" ", 1)[1])
    # what the README's comments say of them
    assert arrays["img"] == [[256, 256], "uint8"]
    assert arrays["edges"] == [[256, 256], "float32"]
    assert arrays["small"] == [[128, 128], "uint8"]
    assert arrays["clean"] == [[256, 256], "uint8"]
    assert arrays["where"] == [[128, 128], "int64"]
    assert arrays["ct"] == [[64, 64, 64], "int16"]
    assert arrays["smooth"] == [[64, 64, 64], "float32"]
    assert arrays["y"] == [[8, 64, 64, 64], "float32"]
    assert arrays["gw"] == [[64, 32, 3, 3], "float32"]


def _markdown_pages():
    if not os.path.isdir(DOCS):
        return []
    return sorted(os.path.relpath(os.path.join(folder, name), ROOT)
                  for folder, _, names in os.walk(DOCS) if "_build" not in folder
                  for name in names if name.endswith(".md"))


@pytest.mark.parametrize("page", [p for p in _markdown_pages()
                                  if "```python" in open(os.path.join(ROOT, p), encoding="utf-8").read()])
def test_docs_python_blocks_run(page, tmp_path):
    """The ```python blocks of each docs/ page, run in order from the repository root."""
    with open(os.path.join(ROOT, page), encoding="utf-8") as f:
        proc = run_blocks(fenced_blocks(f.read(), "python"), tmp_path)
    assert proc.returncode == 0, f"{page}: {proc.stderr}"


def test_readme_commands_are_the_ones_ci_runs():
    """The README's install commands are the two above, and .ci/run runs each
    of them verbatim, in that order."""
    commands = [line.strip() for block in fenced_blocks(readme(), "bash")
                for line in block.splitlines() if line.strip().startswith("pip ")]
    assert commands == COMMANDS
    if not os.path.exists(CI_RUN):
        pytest.skip(".ci/run not beside the tests")
    with open(CI_RUN, encoding="utf-8") as f:
        ci_lines = [line.strip() for line in f]
    missing = [c for c in commands if c not in ci_lines]
    assert not missing, f".ci/run does not run the README's {missing}"
    positions = [ci_lines.index(c) for c in commands]
    assert positions == sorted(positions)


def test_readme_links_lead_to_files():
    """Relative links and images of the README point at files in the repository."""
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme())
    local = [t for t in targets if "://" not in t and not t.startswith("mailto:")]
    assert local
    missing = [t for t in local if not os.path.exists(os.path.join(ROOT, t))]
    assert not missing, f"README.md links to missing files: {missing}"


def test_readme_figure_is_small():
    figure = os.path.join(DOCS, "images", "filters.png")
    if not os.path.exists(figure):
        pytest.skip("docs/ not beside the tests")
    assert os.path.getsize(figure) < 300_000


def test_api_reference_lists_every_public_name():
    """docs/api.rst names every public function (imgconv._EXPORTS), every
    footprint and every name of imgconv.nn, so a new function cannot go
    undocumented."""
    api = os.path.join(DOCS, "api.rst")
    if not os.path.exists(api):
        pytest.skip("docs/ not beside the tests")
    with open(api, encoding="utf-8") as f:
        listed = {line.strip() for line in f}
    public = set(ic._EXPORTS) - {"footprints", "nn"}
    public |= set(ic.footprints.__all__)   # listed under imgconv.footprints
    public |= set(ic.nn.__all__) - {"grad"}   # under imgconv.nn
    public |= set(ic.nn.grad.__all__)         # under imgconv.nn.grad
    missing = sorted(public - listed)
    assert not missing, f"docs/api.rst does not list {missing}"
