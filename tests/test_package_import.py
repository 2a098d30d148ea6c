"""The package imports its modules on first use, so the CLI can set memory options first."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_importing_geo5g_loads_no_heavy_library():
    # python -m geo5g sets the malloc options before pandas/pyarrow start their threads
    code = "import sys, geo5g; print(sorted({'pandas', 'pyarrow', 'numpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_and_submodules_resolve_on_first_use():
    import geo5g

    assert geo5g.load_plan("jiangsu-2024").density_target.threshold == 26.0
    assert geo5g.pipeline.run is geo5g.run
    assert set(geo5g.__all__) <= set(dir(geo5g))
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = geo5g.no_such_name
