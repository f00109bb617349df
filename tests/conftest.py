"""Shared test settings.

Hypothesis runs derandomised under CI (CI=true) so that a green main stays
green; locally it explores new examples on every run.
"""
import os

import matplotlib
from hypothesis import settings

matplotlib.use("Agg")

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
