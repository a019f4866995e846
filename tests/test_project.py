"""The project's promises about itself: commands, packaging, version."""

import os
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
