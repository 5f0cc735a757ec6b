#!/usr/bin/env bash
# Time the README's two install commands on a fresh clone, as a new user runs
# them: a clean checkout (no generated C, no built modules) in a new virtual
# environment.  The second command must reuse the first one's build.
#
#   bash benchmarks/install_time.sh            # clones this repository's HEAD
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/imgconv"
python3 -m venv "$work/venv"
# shellcheck disable=SC1091
source "$work/venv/bin/activate"
python -m pip install -q --upgrade pip
cd "$work/imgconv"
# pip's wheel cache holds no imgconv (editable builds are never cached), so
# the first command compiles everything
TIMEFORMAT='%R s wall, %U s user, %S s sys'
echo "first command:  pip install -e . && imgconv filter samples/shapes.png"
time (pip install -q -e . >/dev/null && imgconv filter samples/shapes.png >/dev/null)
echo "second command's install:  pip install -e \".[test]\""
time (pip install -q -e ".[test]" >/dev/null)
