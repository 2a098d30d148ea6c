"""Shared test configuration.

In CI (``CI`` set) hypothesis runs derandomised, so a run is reproducible from
the commit alone; locally it explores new examples each time.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
