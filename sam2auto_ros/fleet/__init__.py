"""Annotating many bags (or one long one) over the workers of a Ray cluster: ``sam2auto annotate-bags``."""
