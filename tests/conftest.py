import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import hypothesis

hypothesis.settings.register_profile(
    "default",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
