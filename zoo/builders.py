"""The zoo's builders by name (the registry's `builder` field)."""

from zoo.alexnet import alexnet_gap
from zoo.applications import resnet50_gap, vgg16_gap
from zoo.googlenet import googlenet_gap

BUILDERS = {
    "alexnet_gap": alexnet_gap,
    "googlenet_gap": googlenet_gap,
    "vgg16_gap": vgg16_gap,
    "resnet50_gap": resnet50_gap,
}
