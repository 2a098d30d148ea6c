"""Key places: classes, user layers, the bundled airports."""

from __future__ import annotations

import pandas as pd
import pytest

from geo5g.errors import DataError
from geo5g.places import PLACE_CLASSES, bundled_airports, normalise_class, read_places


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("机场", "airport"),
        ("三甲医院", "hospital"),
        ("5A景区", "scenic_spot"),
        ("Campus", "campus"),
    ],
)
def test_classes_in_chinese_and_english(given, canonical):
    assert normalise_class([given]).tolist() == [canonical]


def test_unknown_class_lists_the_classes():
    with pytest.raises(DataError, match="unknown place class 'bakery'; use one of airport"):
        normalise_class(["bakery"])


def test_a_user_layer_with_a_class_column(tmp_path):
    path = tmp_path / "places.csv"
    path.write_text(
        "name,类别,经度,纬度\n鼓楼医院,医院,118.78,32.06\n南京大学,高校,118.96,32.12\n",
        encoding="utf-8",
    )
    places = read_places(path)
    assert places["place_class"].tolist() == ["hospital", "campus"]
    assert places["name"].tolist() == ["鼓楼医院", "南京大学"]


def test_one_class_for_a_whole_file_and_missing_class(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("name,lon,lat\nA,118.78,32.06\n", encoding="utf-8")
    assert read_places(path, "hospital")["place_class"].tolist() == ["hospital"]
    with pytest.raises(DataError, match="no class column"):
        read_places(path)


def test_bundled_airports_are_real_and_in_china():
    airports = bundled_airports()
    assert len(airports) > 200 and set(airports["place_class"]) == {"airport"}
    nkg = airports.set_index("port_id").loc["ZSNJ"]
    assert "Nanjing" in nkg["name"]
    assert nkg.geometry.x == pytest.approx(118.86, abs=0.05)
    assert nkg.geometry.y == pytest.approx(31.74, abs=0.05)


def test_the_bundled_file_is_rebuilt_byte_for_byte(tmp_path):
    pytest.importorskip("airportsdata")
    from geo5g._paths import data_dir
    from geo5g.places import build_airports

    build_airports(tmp_path / "a.csv")
    committed = data_dir("places", "airports_china.csv").read_bytes()
    rebuilt = (tmp_path / "a.csv").read_bytes()
    if rebuilt != committed:
        pytest.skip("airportsdata changed since the bundled file was built")
    assert pd.read_csv(tmp_path / "a.csv")["port_id"].is_unique


def test_every_class_has_its_own_name_as_a_spelling():
    for cls, names in PLACE_CLASSES.items():
        assert cls in names
