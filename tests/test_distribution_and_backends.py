"""Checks that need their own process: tf.distribute devices, other backends."""

import importlib.util
import os
import subprocess
import sys

import pytest

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")


def run_script(name, **env):
    result = subprocess.run(
        [sys.executable, os.path.join(SCRIPTS, name)],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_mirrored_strategy_replicas_draw_different_patterns():
    assert "mirrored OK" in run_script("mirrored_check.py", KERAS_BACKEND="tensorflow")


@pytest.mark.parametrize("backend,module", [("jax", "jax"), ("torch", "torch")])
def test_other_backends(backend, module):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install .[backends])")
    assert f"{backend} OK" in run_script("backend_check.py", KERAS_BACKEND=backend)
