"""The package's imports: `import keras_has` is light, Keras is imported quietly on first use,
and a saved model holding the layer loads after `import keras, keras_has`."""

import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
HEAVY = ("keras", "tensorflow", "numpy", "cv2")


def python(code, env=ENV):
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_import_keras_has_imports_nothing_heavy():
    out = python(
        "import sys, keras_has, keras_has.training.runner, keras_has.training.flags\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "code",
    [
        "import keras_has; keras_has.HideAndSeek",
        "from keras_has.data import pipeline",
        "from keras_has import training; training.setup",
        "from keras_has.cam import CAMModel",
    ],
)
def test_first_use_imports_keras_quietly(code):
    """TensorFlow's start-up lines (CUDA probing, the CPU banner) are not shown."""
    assert python(code).stderr == ""


def test_the_start_up_filter_drops_info_lines_and_known_noise_but_keeps_real_messages():
    from keras_has._quiet import _is_noise

    dropped = [
        "I0000 00:00:1796271658.522306   10744 port.cc:153] oneDNN custom operations are on.\n",
        "I1203 04:05:06.000001   1 some_new_module.cc:1] any future info line\n",
        "E0000 00:00:1.0   1 cuda_executor.cc:1] failed call to cuInit: UNKNOWN ERROR (303)\n",
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        "\n",
    ]
    kept = [
        "W0000 00:00:1.0   1 op_kernel.cc:1] OP_REQUIRES failed: out of memory\n",
        "E0000 00:00:1.0   1 some_module.cc:1] a real error\n",
        "Traceback (most recent call last):\n",
        "INFO: a Python log line that is not absl's\n",
    ]
    assert [_is_noise(x) for x in dropped] == [True] * len(dropped)
    assert [_is_noise(x) for x in kept] == [False] * len(kept)


def test_a_saved_model_with_the_layer_loads_after_import_keras_then_keras_has(tmp_path):
    path = tmp_path / "model.keras"
    python(
        "import keras, keras_has\n"
        "inputs = keras.Input((8, 8, 3))\n"
        "outputs = keras_has.HideAndSeek(patch_size=4, fill_value=0.0)(inputs)\n"
        f"keras.Model(inputs, outputs).save({str(path)!r})"
    )
    out = python(
        f"import keras, keras_has\nprint(type(keras.saving.load_model({str(path)!r}).layers[1]).__name__)"
    ).stdout
    assert out.strip() == "HideAndSeek"


def _imports(tree):
    for node in tree.body:
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield (
                f"{node.module}.{node.names[0].name}" if node.module == "keras_has" else node.module
            )


def _quiet_first(path):
    """Whether the module at `path` imports keras_has._quiet before Keras or TensorFlow (or
    imports neither)."""
    with open(path) as f:
        modules = [m or "" for m in _imports(ast.parse(f.read()))]
    heavy = [i for i, m in enumerate(modules) if m.split(".")[0] in ("keras", "tensorflow")]
    quiet = [i for i, m in enumerate(modules) if m == "keras_has._quiet"]
    return not heavy or bool(quiet and quiet[0] < heavy[0]), bool(quiet and quiet[0] == 0)


@pytest.mark.parametrize("folder", ["keras_has", "zoo"])
def test_every_module_importing_keras_imports_the_quiet_module_first(folder):
    """In the module itself, or first thing in its package's __init__ (which runs before it)."""
    late = []
    for base, _, names in os.walk(os.path.join(ROOT, folder)):
        package = os.path.join(base, "__init__.py")
        if not os.path.exists(package):  # data folders (zoo/weights)
            continue
        by_package = base != os.path.join(ROOT, "keras_has") and _quiet_first(package)[1]
        for name in (n for n in names if n.endswith(".py")):
            path = os.path.join(base, name)
            if not (_quiet_first(path)[0] or (by_package and name != "__init__.py")):
                late.append(os.path.relpath(path, ROOT))
    assert not late, f"import keras_has._quiet before Keras/TensorFlow in: {late}"
