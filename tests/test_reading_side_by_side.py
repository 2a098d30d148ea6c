"""The read stage reads the sites in a worker thread beside the other layers.

Warnings captured while reading (``quiet_library_warnings``) must stay with the
reader that raised them, and errors keep the order in which layers are read.
"""

from __future__ import annotations

import threading
import warnings

import pytest

from geo5g._validate import quiet_library_warnings, readers_side_by_side
from geo5g.errors import Geo5gError
from geo5g.pipeline import Request, load

# a warning raised from inside a reading library is about the file being read
_LIBRARY_FILE = "/site-packages/pyogrio/raw.py"


def _library_warning(text: str) -> None:
    warnings.warn_explicit(text, RuntimeWarning, _LIBRARY_FILE, 1)


def _read_in_turns(name: str, steps: dict, errors: dict) -> None:
    try:
        with quiet_library_warnings(name):
            for wait, then in steps[name]:
                wait.wait(timeout=10)
                then()
    except Geo5gError as exc:
        errors[name] = str(exc)


def test_each_reader_thread_keeps_its_own_warnings():
    # a enters, b enters, a warns, b warns, a leaves first: interleaved, not nested
    a_in, b_in, a_warned, b_warned, a_out = (threading.Event() for _ in range(5))
    done = threading.Event()
    done.set()
    steps = {
        "a.csv": [
            (done, a_in.set),
            (b_in, lambda: _library_warning("from a")),
            (done, a_warned.set),
            (b_warned, a_out.set),
        ],
        "b.csv": [
            (a_in, b_in.set),
            (a_warned, lambda: _library_warning("from b")),
            (done, b_warned.set),
            (a_out, lambda: None),
        ],
    }
    errors: dict = {}
    filters_before, show_before = list(warnings.filters), warnings.showwarning
    with readers_side_by_side():
        threads = [
            threading.Thread(target=_read_in_turns, args=(name, steps, errors)) for name in steps
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
    assert errors == {"a.csv": "a.csv: from a", "b.csv": "b.csv: from b"}
    # the process's warning state is as it was
    assert warnings.filters == filters_before
    assert warnings.showwarning is show_before


def test_a_warning_outside_any_capture_is_issued_when_the_readers_end():
    with pytest.warns(UserWarning, match="not about a file"), readers_side_by_side():
        worker = threading.Thread(target=warnings.warn, args=("not about a file",))
        worker.start()
        worker.join()


def test_a_warning_geo5g_does_not_know_stays_a_warning_side_by_side():
    def read():
        with quiet_library_warnings("c.csv"):
            warnings.warn_explicit("my own", UserWarning, "/somewhere/else.py", 3)

    with pytest.warns(UserWarning, match="my own"), readers_side_by_side():
        worker = threading.Thread(target=read)
        worker.start()
        worker.join()


def test_reading_alone_captures_as_before():
    with pytest.raises(Geo5gError, match=r"^d\.csv: alone$"), quiet_library_warnings("d.csv"):
        _library_warning("alone")


@pytest.fixture()
def bad_layers(tmp_path):
    sites = tmp_path / "sites.csv"
    sites.write_text("name,operator\nA,China Mobile\n", encoding="utf-8")  # no coordinates
    roads = tmp_path / "roads.geojson"
    roads.write_text("not a GeoJSON file", encoding="utf-8")
    return sites, roads


def test_an_error_of_the_sites_comes_before_one_of_the_roads(bad_layers):
    sites, roads = bad_layers
    request = Request(province="jiangsu", sites=sites, roads=roads)
    with pytest.raises(Geo5gError, match=r"sites\.csv"):
        load(request, ("population", "sites", "roads"))


def test_an_error_of_the_roads_is_raised_when_the_sites_are_good(bad_layers):
    _, roads = bad_layers
    request = Request(province="jiangsu", roads=roads)  # the bundled sites
    with pytest.raises(Geo5gError, match=r"roads\.geojson"):
        load(request, ("population", "sites", "roads"))


def test_sources_keep_the_order_of_reading():
    inputs = load(Request(province="jiangsu"), ("population", "sites", "roads", "ports?", "rsu?"))
    layers = [src.layer for src in inputs.sources]
    assert layers[:4] == ["boundaries", "population", "sites", "roads"]
    assert len(inputs.sites) > 0
