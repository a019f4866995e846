"""A quiet first import of Keras (and TensorFlow under its backend).

TensorFlow writes start-up lines straight to file descriptor 2 from C++
before its logging is configured ("Could not find cuda drivers", twice on a
machine without a GPU; "failed call to cuInit" at error level; the CPU
feature banner; "oneDNN custom operations are on" on CPUs where oneDNN is
the default), so neither `TF_CPP_MIN_LOG_LEVEL` nor Python's logging can
hide them. `import_keras()` imports Keras with descriptor 2 sent to a
temporary file, initializes TensorFlow's devices there, then writes back
every captured line that is neither an info-level line ("I0000 ...", which
`TF_CPP_MIN_LOG_LEVEL` 1 means to hide) nor one of the known start-up
warnings and errors above: real warnings and errors still show.

Nothing is captured when Keras is already imported, or when the user set
`TF_CPP_MIN_LOG_LEVEL=0` (they asked for everything). Info lines logged
later ("Compiled cluster using XLA!") are hidden by defaulting
`TF_CPP_MIN_LOG_LEVEL` to 1 (errors and warnings still show).
"""

import os
import re
import sys
import tempfile

STARTUP_NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "cudart_stub.cc",
    "cpu_feature_guard.cc",
    "To enable the following instructions",
    "failed call to cuInit",
    "Unable to register cuDNN factory",
    "Unable to register cuFFT factory",
    "Unable to register cuBLAS factory",
    "computation_placer.cc",
)
INFO_LINE = re.compile(r"I\d{4} ")  # absl's info prefix: I, month and day, a space


def import_keras():
    """Imports Keras, hiding TensorFlow's known start-up lines."""
    if "keras" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0":
        import keras

        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401

            if "tensorflow" in sys.modules:
                # Device set-up (cuInit) happens on first use; do it here.
                sys.modules["tensorflow"].config.list_physical_devices()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(x for x in lines if not _is_noise(x)))


def _is_noise(line):
    return (
        not line.strip()
        or INFO_LINE.match(line) is not None
        or any(marker in line for marker in STARTUP_NOISE)
    )


import_keras()  # importing this module imports Keras, quietly: `import keras_has._quiet` first
