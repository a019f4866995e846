"""The project's promises about itself: commands, packaging, version."""

import os
import re
import shutil
import subprocess
import sys
import zipfile

import keras_has

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(name):
    with open(os.path.join(ROOT, name)) as f:
        return f.read()


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    # Everything before the first section heading: the name, what it is, the two commands.
    opening = read("README.md").split("\n## ")[0]
    commands = [line for line in opening.splitlines() if line.startswith("    ")]
    assert len(commands) == 2
    main_job, tests = (c.strip() for c in commands)
    assert main_job.endswith("python -m keras_has.recipes.wsol") and "python -m pytest" in tests
    # CI runs the README's test command (its steps, with a second environment around them).
    ci = [line.strip() for line in read(".ci/run").splitlines()]
    setup, run = tests.rsplit(" && ", 1)
    assert setup in ci and any(line.startswith(run) for line in ci)


# [text](target#fragment): the target and fragment up to a space or a closing parenthesis.
MARKDOWN_LINK = re.compile(r"\]\(([^)\s#]*)(?:#([^)\s]*))?\)")


def without_code(text):
    return re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # code blocks hold no links or headings


def anchors(text):
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.*)$", without_code(text), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_relative_link_in_the_readme_and_docs_points_to_a_file():
    pages = ["README.md"] + sorted(
        os.path.join("docs", name)
        for name in os.listdir(os.path.join(ROOT, "docs"))
        if name.endswith(".md")
    )
    broken = []
    for page in pages:
        for target, fragment in MARKDOWN_LINK.findall(without_code(read(page))):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # a URL
                continue
            name = os.path.normpath(os.path.join(os.path.dirname(page), target)) if target else page
            if not os.path.exists(os.path.join(ROOT, name)):
                broken.append(f"{page}: {target}")
            elif fragment and name.endswith(".md") and fragment not in anchors(read(name)):
                broken.append(f"{page}: {target}#{fragment} (no such heading)")
    assert broken == [], "\n".join(broken)


def test_the_readme_links_every_docs_page():
    readme = read("README.md")
    pages = [name for name in os.listdir(os.path.join(ROOT, "docs")) if name.endswith(".md")]
    missing = [name for name in sorted(pages) if f"(docs/{name})" not in readme]
    assert missing == []


def test_wheel_installs_one_package_with_the_zoo_recipes_weights_and_commands(tmp_path):
    # From a copy of the sources: setuptools would also pack a stale build/ of the tree.
    source = tmp_path / "source"
    skip = shutil.ignore_patterns(".*", "build", "runs", "*.egg-info", "__pycache__", "tests")
    shutil.copytree(ROOT, source, ignore=skip)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(source),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = [p for p in os.listdir(tmp_path / "dist") if p.endswith(".whl")]
    assert wheel.startswith(f"keras_has-{keras_has.__version__}-")
    with zipfile.ZipFile(tmp_path / "dist" / wheel) as archive:
        names = archive.namelist()
        (entry_points,) = [n for n in names if n.endswith("dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()
    # zoo/ and recipes/ install under keras_has: no top-level names of other projects.
    tops = {name.split("/")[0] for name in names if "dist-info" not in name}
    assert tops == {"keras_has"}
    for name in ("zoo/weights/googlenet_has_builtin.weights.h5", "recipes/wsol.py", "zoo/heads.py"):
        assert f"keras_has/{name}" in names, name
    for command in ("wsol", "temporal", "demo"):
        assert f"keras-has-{command} = keras_has.recipes.{command}:console" in scripts


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
