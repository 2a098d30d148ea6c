"""The national page: every unit of the boundary data, maritime lines, provinces."""

from __future__ import annotations

import pandas as pd
import pytest
import shapely

from geo5g.boundaries import read_maritime

pytestmark = pytest.mark.slow


def test_taiwan_hong_kong_and_macao_are_shown_as_no_data(national_report):
    report, paths = national_report
    zones = report.zones
    for code, name in ((710000, "台湾省"), (810000, "香港特别行政区"), (820000, "澳门特别行政区")):
        assert zones.loc[code, "name_zh"] == name
        assert pd.isna(zones.loc[code, "per_10k"]) and pd.isna(zones.loc[code, "met"])
    html = paths["html"].read_text(encoding="utf-8")
    assert "台湾省" in html and "香港特别行政区" in html and "澳门特别行政区" in html
    cities = pd.read_csv(paths["cities"], encoding="utf-8-sig", index_col="adcode")
    assert len(cities) == 370 and cities.loc[710000, "stations"] != cities.loc[710000, "stations"]
    # the count of cities meeting the target is over the 367 with data
    assert "of 367 meet it" in html


def test_maritime_lines_and_provinces_are_drawn(national_report):
    report, paths = national_report
    lines = read_maritime()
    assert shapely.equals(report.maritime.geometry.iloc[0], lines.geometry.iloc[0])
    assert report.maritime.total_bounds[1] < 5  # reaches the south of the South China Sea
    html = paths["html"].read_text(encoding="utf-8")
    assert "Maritime boundary lines" in html and "Provinces: outlines and totals" in html
    provinces = pd.read_csv(paths["provinces"], encoding="utf-8-sig")
    assert len(provinces) == 31
    assert provinces["stations"].sum() == report.zones["stations"].sum()
    assert provinces["cities"].sum() == 367
    js = provinces.set_index("province_adcode").loc[320000]
    assert js["per_10k"] == pytest.approx(js["stations"] / js["population"] * 1e4)
