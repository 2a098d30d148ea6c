"""The per-city ledger (geo5g.ledger): the table, and the workbook against the CSV."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo5g.density import density_table
from geo5g.errors import DataError
from geo5g.ledger import CHINESE_HEADERS, LEDGER_COLUMNS, city_ledger, write_ledger_xlsx
from geo5g.outputs import write_csv


def _table():
    zones = pd.DataFrame(
        {
            "name_zh": ["南京市", '=HYPERLINK("x")', "苏州市"],
            "name_en": ["Nanjing", "Evil", "Suzhou"],
        },
        index=pd.Index([320100, 320200, 320500], name="adcode"),
    )
    # 30 sites in Nanjing, 5 in the second city, none in Suzhou
    zone_of = pd.Series([320100] * 30 + [320200] * 5, dtype="Int64")
    pop = pd.Series({320100: 10_000, 320200: 20_000, 320500: 5_000})
    return density_table(zones, zone_of, pop, 26, ">")


def _ledger():
    return city_ledger(
        _table(),
        on_track=pd.Series({320100: True, 320200: False}),
        gap_km=pd.Series({320100: 1.25, 320200: 12.5}),
        candidates=pd.DataFrame({"city_adcode": [320200, 320200, 320500]}),
        rsu_km=pd.Series({320100: 3.0}),
    )


def test_ledger_rows_and_columns():
    ledger = _ledger()
    assert ledger.index.tolist() == [320100, 320200, 320500]
    assert ledger.columns.tolist() == list(LEDGER_COLUMNS)
    # the density figures pass through: 30 / 10,000 × 10,000 = 30 per 10k; 26 needs 27
    assert ledger.loc[320100, "per_10k"] == 30.0
    assert ledger.loc[320200, "shortfall"] == 26 * 2 + 1 - 5
    assert ledger["candidates"].tolist() == [0, 2, 1]  # counted per city, 0 without
    assert ledger["on_track"].isna().tolist() == [False, False, True]
    assert ledger["rsu_km"].isna().tolist() == [False, True, True]
    assert ledger["gap_km"].dtype == "Float64"


def test_optional_columns_only_when_given():
    ledger = city_ledger(_table(), gap_km=pd.Series({320500: 4.0}))
    assert ledger.columns.tolist()[-1] == "gap_km"
    assert "on_track" not in ledger.columns and "candidates" not in ledger.columns
    assert ledger["gap_km"].isna().tolist() == [True, True, False]


def test_ledger_refuses_mismatched_input():
    with pytest.raises(DataError, match="adcodes 999999 are not in the density table"):
        city_ledger(_table(), gap_km=pd.Series({999999: 1.0}))
    with pytest.raises(DataError, match="missing columns shortfall"):
        city_ledger(_table().drop(columns="shortfall"))
    with pytest.raises(DataError, match="city_adcode"):
        city_ledger(_table(), candidates=pd.DataFrame({"ref": ["G2"]}))


def _read_xlsx(path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.load_workbook(path)
    return book


def test_workbook_numbers_equal_the_csv(tmp_path):
    pytest.importorskip("openpyxl")
    ledger = _ledger()
    write_csv(ledger, tmp_path / "cities.csv")
    out = write_ledger_xlsx({"cities": ledger}, tmp_path / "ledger.xlsx")
    assert out == tmp_path / "ledger.xlsx"
    csv = pd.read_csv(tmp_path / "cities.csv", encoding="utf-8-sig")
    sheet = _read_xlsx(out)["cities"]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == csv.columns.tolist()
    assert len(rows) - 1 == len(csv) == 3
    for column in ("adcode", "population", "stations", "per_10k", "target", "shortfall"):
        k = csv.columns.get_loc(column)
        got = [r[k] for r in rows[1:]]
        assert all(isinstance(v, int | float) for v in got), column  # numbers, not text
        assert got == pytest.approx(csv[column].tolist()), column
    for column in ("gap_km", "rsu_km", "candidates"):
        k = csv.columns.get_loc(column)
        got = np.array([np.nan if r[k] is None else r[k] for r in rows[1:]], dtype=float)
        np.testing.assert_allclose(got, csv[column].to_numpy(dtype=float))
    k = csv.columns.get_loc("name_zh")
    # the formula is neutralised in both, the same way
    assert [r[k] for r in rows[1:]] == csv["name_zh"].tolist()
    assert rows[2][k] == '\'=HYPERLINK("x")'
    cell = sheet.cell(row=3, column=k + 1)
    assert cell.data_type == "s"
    k = csv.columns.get_loc("met")
    assert [r[k] for r in rows[1:]] == [True, False, False]


def test_workbook_layout_and_chinese_headers(tmp_path):
    pytest.importorskip("openpyxl")
    ledger = _ledger()
    other = pd.DataFrame({"ref": ["G2", "G42"], "gap_km": [3.5, 0.0]})
    path = write_ledger_xlsx(
        {"城市台账": ledger, "roads": other}, tmp_path / "l.xlsx", chinese_headers=True
    )
    book = _read_xlsx(path)
    assert book.sheetnames == ["城市台账", "roads"]
    sheet = book["城市台账"]
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["行政区划代码", "城市", "英文名", "人口"]
    assert header == [CHINESE_HEADERS[c] for c in ["adcode", *LEDGER_COLUMNS]]
    assert sheet.freeze_panes == "A2"
    assert all(c.font.bold for c in sheet[1])
    widths = [sheet.column_dimensions[chr(ord("A") + k)].width for k in range(len(header))]
    assert all(8 <= w <= 60 for w in widths)
    # "高速公路覆盖缺口（公里）": 12 CJK characters, two units each, plus the margin
    assert widths[header.index(CHINESE_HEADERS["gap_km"])] == 12 * 2 + 2
    roads = book["roads"]  # a RangeIndex is not written
    assert [c.value for c in roads[1]] == ["ref", CHINESE_HEADERS["gap_km"]]
    assert [c.value for c in roads["B"][1:]] == [3.5, 0.0]


def test_a_failed_write_leaves_the_earlier_workbook(tmp_path):
    pytest.importorskip("openpyxl")
    path = write_ledger_xlsx({"cities": _ledger()}, tmp_path / "l.xlsx")
    before = path.read_bytes()
    with pytest.raises(DataError, match="sheet name"):
        write_ledger_xlsx({"bad/name": _ledger()}, path)
    with pytest.raises(DataError, match="repeats"):
        write_ledger_xlsx({"A": _ledger(), "a": _ledger()}, path)
    with pytest.raises(DataError, match="no tables"):
        write_ledger_xlsx({}, path)
    bad = pd.DataFrame({"x": [object()]})  # openpyxl cannot write it: fails mid-way
    with pytest.raises(ValueError):
        write_ledger_xlsx({"cities": _ledger(), "bad": bad}, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.xlsx"]


@settings(max_examples=30)  # each example writes and reads a workbook
@given(
    st.lists(
        st.tuples(
            st.integers(0, 10**7),
            st.one_of(st.none(), st.floats(-1e9, 1e9, allow_nan=False)),
            st.text(alphabet="=+-@南京a1 \t", max_size=6),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_workbook_round_trip(tmp_path_factory, rows):
    pytest.importorskip("openpyxl")
    table = pd.DataFrame(rows, columns=["n", "x", "text"])
    table["x"] = table["x"].astype("Float64")
    path = write_ledger_xlsx({"t": table}, tmp_path_factory.mktemp("wb") / "t.xlsx")
    got = list(_read_xlsx(path)["t"].iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in got] == table["n"].tolist()
    # openpyxl stores 16 significant digits
    want = [None if pd.isna(v) else pytest.approx(v, rel=1e-15) for v in table["x"]]
    assert [r[1] for r in got] == want
    safe = [t if t else None for t in table["text"]]  # empty text is an empty cell
    for cell, text in zip([r[2] for r in got], safe, strict=True):
        if text is None:
            continue
        # what a spreadsheet would run is prefixed; a number such as -5 stays as it is
        assert cell == text or cell == "'" + text
        if _is_number(text):  # "+1", "-5": numbers are left alone (spreadsheet_safe)
            continue
        assert not (isinstance(cell, str) and cell[:1] in "=+@")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
