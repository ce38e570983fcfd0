#!/usr/bin/env bash
# Installs hyp_face and its Python dependencies into the current Python environment.
#   ./install.sh          runtime + test dependencies, editable install of this checkout
# torch is pinned to a known-good release when it is not installed yet (pip would otherwise take the newest
# build); an existing torch (e.g. a CUDA build of your own) is kept.
set -euo pipefail
cd "$(dirname "$0")"
py=${HYP_FACE_PYTHON:-python3}
if ! $py -c "import torch" 2>/dev/null; then
  $py -m pip install "torch==2.13.0"
fi
$py -m pip install -e ".[test]"
# GE2E parity reference of the tests (Apache-2.0): without its dependencies, which the test extra provides
$py -m pip install --no-deps "resemblyzer==0.1.4"
$py -c "import hyp_face, torch, av, dlib; print('hyp_face', hyp_face.__version__, '| torch', torch.__version__, '| PyAV', av.__version__, '| dlib', dlib.__version__)"
