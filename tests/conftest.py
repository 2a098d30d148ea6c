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


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def national_report(tmp_path_factory):
    """The national page as ``python -m geo5g report --province all`` writes it (≈ 20 s)."""
    from geo5g.outputs import write_report
    from geo5g.pipeline import Request, report_from, run

    report = report_from(run(Request(province="all"), "report"))
    return report, write_report(report, tmp_path_factory.mktemp("china") / "report")
