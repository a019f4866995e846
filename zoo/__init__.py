"""Model builders and pretrained weights (the CAM localization issue adds them)."""
