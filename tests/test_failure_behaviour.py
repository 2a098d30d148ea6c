"""Failure behaviour: outputs into special files, one-line write errors, all or nothing,
signals, spreadsheet and terminal safety, usage errors (issue: security and robustness)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from shapely import LineString

from geo5g import outputs
from geo5g.cli import _plain, cli
from geo5g.errors import InputError
from geo5g.outputs import spreadsheet_safe, staged_files, write_csv, write_layers
from geo5g.outputs import write_text_atomic as write_text

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


def _layer():
    return gpd.GeoDataFrame(
        {"ref": ['=HYPERLINK("x")'], "length_m": [10.0]},
        geometry=[LineString([(118.0, 32.0), (118.1, 32.0)])],
        crs=4326,
    )


# ------------------------------------------------------------------ special files


def test_a_fifo_is_written_into_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    write_text(fifo, "adcode,n\n320100,1\n")
    out, _ = reader.communicate(timeout=20)
    assert out == b"adcode,n\n320100,1\n"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a FIFO


def test_a_symlink_to_a_device_is_written_into(tmp_path):
    link = tmp_path / "null"
    link.symlink_to("/dev/null")
    write_text(link, "x")
    assert link.is_symlink() and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_symlink_to_a_file_keeps_the_link_and_the_permissions(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640


def test_the_cli_writes_into_dev_stdout_like_devices(tmp_path):
    target = tmp_path / "out"
    target.symlink_to("/dev/null")
    res = CliRunner().invoke(cli, ["-q", "plans", "--format", "csv"], catch_exceptions=False)
    assert res.exit_code == 0
    res = CliRunner().invoke(
        cli, ["-q", "density", "--format", "csv", "-o", str(target)], catch_exceptions=False
    )
    assert res.exit_code == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)  # /dev/null was not replaced


# ------------------------------------------------------------------ write errors


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_is_one_line():
    with pytest.raises(
        InputError, match=r"^/dev/full: cannot write it \(No space left on device\)$"
    ):
        write_text("/dev/full", "x" * 100_000)


def test_an_unwritable_folder_is_one_line(tmp_path):
    if ROOT:
        target = Path("/proc/geo5g-test/out.csv")  # even root cannot create files there
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
        target = folder / "out.csv"
    with pytest.raises(InputError) as err:
        write_csv(pd.DataFrame({"a": [1]}), target)
    assert "\n" not in str(err.value) and "cannot write it" in str(err.value)


def test_a_gdal_error_while_writing_is_one_line(tmp_path, monkeypatch):
    import pyogrio
    import pyogrio.errors

    def broken(*args, **kwargs):
        raise pyogrio.errors.DataSourceError("Failed to create GPKG file\nmore detail")

    monkeypatch.setattr(pyogrio, "write_dataframe", broken)
    with pytest.raises(InputError, match=r"gaps.gpkg: cannot write it \(Failed to create GPKG"):
        write_layers(tmp_path / "gaps.gpkg", {"gaps": _layer()})
    assert list(tmp_path.iterdir()) == []


def test_a_file_name_that_is_not_utf8_is_one_line(tmp_path):
    name = os.fsdecode(b"gaps-\xff.gpkg")  # a surrogate escape: not valid UTF-8
    with pytest.raises(InputError, match="not valid UTF-8"):
        write_layers(tmp_path / name, {"gaps": _layer()})


def test_several_files_are_all_or_nothing(tmp_path):
    (tmp_path / "out_a.csv").write_text("earlier a")
    with pytest.raises(RuntimeError), staged_files() as stage:
        stage.path(tmp_path / "out_a.csv").write_text("new a")
        stage.path(tmp_path / "out_b.csv").write_text("new b")
        raise RuntimeError("the writer failed half-way")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out_a.csv"]
    assert (tmp_path / "out_a.csv").read_text() == "earlier a"


def test_layers_to_csv_are_staged_together(tmp_path, monkeypatch):
    calls = []
    real = outputs.csv_text

    def second_fails(frame, index=True):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(frame, index=index)

    monkeypatch.setattr(outputs, "csv_text", second_fails)
    table = pd.DataFrame({"km": [1.0]}, index=pd.Index([320100], name="adcode"))
    with pytest.raises(InputError, match="No space left on device"):
        write_layers(tmp_path / "out.csv", {"gaps": _layer(), "by_city": table})
    assert list(tmp_path.iterdir()) == []


def test_report_folder_removed_on_sigterm(tmp_path):
    out = tmp_path / "report"
    proc = subprocess.Popen(
        [sys.executable, "-m", "geo5g", "-q", "report", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.name.startswith(".report.tmp-") for p in tmp_path.iterdir()):
            proc.send_signal(signal.SIGTERM)
            break
        time.sleep(0.005)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the report was written before the signal could be sent")
    assert proc.returncode == 143, err
    assert b"terminated" in err and b"Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # neither the staging folder nor a partial report


# ------------------------------------------------------------------ for their consumers


@given(st.text(max_size=12))
def test_spreadsheet_cells_never_start_a_formula(text):
    safe = spreadsheet_safe(pd.DataFrame({"name": [text]}))["name"].iloc[0]
    number = True
    try:
        float(text)
    except ValueError:
        number = False
    if text.startswith(("=", "+", "-", "@", "\t", "\r")) and not number:
        assert safe == "'" + text
    else:
        assert safe == text


def test_csv_files_carry_a_bom_and_neutralised_cells(tmp_path):
    table = pd.DataFrame({"name": ["=1+2", "南京市", "-3"], "n": [-1, 0, 1]})
    path = write_csv(table, tmp_path / "t.csv", index=False)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(path, encoding="utf-8-sig")  # as Excel reads it
    assert back["name"].tolist() == ["'=1+2", "南京市", "-3"]  # a number: left as it is
    assert back["n"].tolist() == [-1, 0, 1]


@given(st.text(max_size=20))
def test_terminal_text_has_no_control_characters(text):
    shown = _plain(text)
    assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in shown)
    assert "\x1b" not in shown


def test_names_with_escape_sequences_are_shown_plain(tmp_path):
    sites = tmp_path / "s.csv"
    sites.write_text("site_id,lon,lat\n\x1b[31mEVIL\x1b[0m,118.78,32.05\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["density", "--sites", str(sites), "--format", "table"])
    assert res.exit_code == 0, res.output
    assert "\x1b" not in res.output


def test_coords_without_sites_is_a_usage_error():
    res = CliRunner().invoke(cli, ["density", "--coords", "gcj02"])
    assert res.exit_code == 2
    assert "--coords applies to the coordinates of --sites" in res.output


def test_messages_name_cli_options_not_python_arguments(tmp_path):
    cells = tmp_path / "cells.csv"
    cells.write_text(
        "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,"
        "averageSignal\nLTE,460,0,1,123456,0,118.78,32.05,1000,3,1,1600000000,1600000000,0\n",
        encoding="utf-8",
    )
    res = CliRunner().invoke(cli, ["density", "--sites", str(cells)])
    assert res.exit_code == 1
    assert "use --lte to include LTE" in res.stderr and "radios=" not in res.stderr
    assert CliRunner().invoke(cli, ["density", "--sites", str(cells), "--lte"]).exit_code == 0


def test_error_lines_from_file_names_are_plain(tmp_path):
    res = CliRunner().invoke(cli, ["density", "--sites", str(tmp_path / "\x1b[2Jx.csv")])
    assert res.exit_code == 1
    assert "\x1b" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_province_without_demo_sites_uses_the_national_synthetic_ones():
    res = CliRunner().invoke(cli, ["density", "--province", "zhejiang", "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert "杭州市" in res.stdout
    assert "SYNTHETIC national demo sites in Zhejiang" in res.stderr


def test_long_first_run_work_is_announced(tmp_path, monkeypatch):
    import geo5g.demo as demo

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []

    def fake(*args, **kwargs):  # the generation itself is tested in test_demo
        calls.append(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(demo, "synthetic_sites_national", fake)
    res = CliRunner().invoke(cli, ["density", "--province", "all"])
    assert calls and "note: generating 4,800,000 SYNTHETIC national demo sites" in res.stderr
    assert str(tmp_path) in res.stderr
