"""The project's promises about itself: commands, packaging, version."""

import os
import re
import subprocess
import sys
import zipfile

import keras_has

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(name):
    with open(os.path.join(ROOT, name)) as f:
        return f.read()


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    commands = [line for line in read("README.md").splitlines()[:12] if line.startswith("    ")]
    assert len(commands) == 2
    main_job, tests = (c.strip() for c in commands)
    assert main_job.endswith("python -m recipes.wsol") and "python -m pytest" in tests
    assert read(".ci/run").strip().splitlines()[-1] == tests


def test_wheel_installs_the_three_packages_and_the_weights(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path)],
        check=True, capture_output=True,
    )
    (wheel,) = [p for p in os.listdir(tmp_path) if p.endswith(".whl")]
    assert wheel.startswith(f"keras_has-{keras_has.__version__}-")
    with zipfile.ZipFile(tmp_path / wheel) as archive:
        names = archive.namelist()
    tops = {name.split("/")[0] for name in names if "dist-info" not in name}
    assert tops == {"keras_has", "zoo", "recipes"}
    assert "zoo/weights/googlenet_has_builtin.weights.h5" in names


QUIET_SCRIPT = """
import numpy as np
import keras_has
from keras_has import boxes

layer = keras_has.HideAndSeek(patch_size=[0, 8, 16], seed=1)
layer.adapt(np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32"))
for side in (24, 32, 40, 48, 56, 64):
    layer(np.ones((2, side, side, 3), "float32"), training=True)
print("done")
"""
# TensorFlow's C++ log lines start with a severity letter and a date: I0000 00:00:17...
TF_LOG_LINE = r"^[IWEF]\d{4} \d\d:\d\d:\d\d"


def test_ordinary_library_use_prints_no_tensorflow_log_lines():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-c", QUIET_SCRIPT],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
    noise = [
        line
        for line in result.stderr.splitlines()
        if re.match(TF_LOG_LINE, line)
        or any(word in line for word in ("cuda", "cuInit", "XLA", "retracing", "absl"))
    ]
    assert noise == [], "\n".join(noise)
