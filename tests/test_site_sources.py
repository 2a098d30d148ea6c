"""Site lists as planners and operators have them: Excel workbooks and PostGIS inventories.

The PostGIS tests run against a real PostgreSQL server with PostGIS that the
``postgis`` fixture starts itself, once per test session:

* binaries: Debian's layout (``/usr/lib/postgresql/<ver>/bin``, PostGIS from
  ``postgresql-<ver>-postgis-3``), else ``postgres`` on ``PATH``; the tests are
  skipped, saying so, when there is no server or no PostGIS for it (``.ci/run``
  installs both);
* ``initdb`` into a fresh folder under the system temporary folder, trust
  authentication, superuser ``geo5g``; ``postgres`` listens on a unix socket in that
  folder only (``listen_addresses=''``: no TCP port, nothing to collide with);
* as root (CI runs as root) PostgreSQL refuses to start: the folder is given to the
  ``postgres`` system user (created by Debian's package; else ``nobody``) and
  ``initdb``/``postgres`` run as that user (``subprocess`` with ``user=``/``group=``,
  no ``su``/``runuser`` needed); root itself connects through the socket;
* stopped (fast shutdown) and the folder removed at the end of the session.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from geo5g.errors import CRSError, DataError, InputError
from geo5g.sites import read_sites

# Five sites well inside four cities of Jiangsu (WGS-84), one without a band.
CSV = """站号,经度,纬度,运营商,频段,开通日期
NJ-1,118.7969,32.0603,中国移动,n41,2021-05-01
NJ-2,118.7801,32.0412,中国电信,n78,2022-03-15
SZ-1,120.5853,31.2990,中国联通,n78,2023-01-09
WX-1,120.3119,31.4912,中国广电,n28,
XZ-1,117.2841,34.2058,中国移动,,2020-11-30
"""
HEADER = ["站号", "经度", "纬度", "运营商", "频段", "开通日期"]


def _workbook(path: Path, sheets: dict) -> Path:
    book = openpyxl.Workbook()
    for i, (name, rows) in enumerate(sheets.items()):
        sheet = book.active if i == 0 else book.create_sheet()
        sheet.title = name
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def _csv_rows() -> list[list]:
    return [line.split(",") for line in CSV.strip().splitlines()[1:]]


@pytest.fixture
def csv_sites(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- Excel


def test_xlsx_with_chinese_headers_reads_as_the_csv(tmp_path, csv_sites):
    rows = []
    for sid, lon, lat, op, band, day in _csv_rows():
        rows.append(
            [
                sid,
                lon if sid == "NJ-2" else float(lon),  # a number stored as text
                float(lat),
                op,
                band or None,
                dt.datetime.fromisoformat(day) if day else None,  # a date cell
            ]
        )
    path = _workbook(tmp_path / "sites.xlsx", {"基站清单": [HEADER, *rows]})
    book = openpyxl.load_workbook(path)
    for r in range(len(rows) + 2, len(rows) + 40):  # formatted, empty rows after the data
        book["基站清单"].cell(row=r, column=2).number_format = "0.000000"
    book["基站清单"].cell(row=len(rows) + 5, column=1).value = "   "
    book.save(path)

    got = read_sites(path, points=False)
    want = read_sites(csv_sites, points=False)
    pd.testing.assert_frame_equal(got, want)
    assert got.attrs["sheet"] == "基站清单"
    assert got.attrs["source"] == "sites.xlsx"
    assert got["operator"].tolist() == [
        "China Mobile", "China Telecom", "China Unicom", "China Broadnet", "China Mobile"
    ]  # fmt: skip
    assert got["band"].tolist()[:4] == ["2.6GHz", "3.5GHz", "3.5GHz", "700MHz"]
    assert pd.isna(got["band"].iloc[4])
    assert got.loc[1, "lon"] == 118.7801
    assert read_sites(path).crs == "EPSG:4326"


def test_xlsx_numeric_ids_are_text_and_fmt_is_detected(tmp_path):
    path = _workbook(
        tmp_path / "gnb.XLSX", {"s": [["基站编号", "lng", "lat"], [10001, 118.8, 32.1]]}
    )
    got = read_sites(path)
    assert got["site_id"].tolist() == ["10001"]
    plain = _workbook(tmp_path / "plain.xlsx", {"s": [["经度", "纬度"], [118.8, 32.1]]})
    assert read_sites(plain)["site_id"].tolist() == ["plain-1"]
    moved = tmp_path / "sites.bin"
    shutil.copy(plain, moved)
    assert len(read_sites(moved, fmt="xlsx")) == 1


@pytest.fixture
def two_years(tmp_path):
    sites = [HEADER, *_csv_rows()]
    return _workbook(
        tmp_path / "years.xlsx",
        {"说明": [["本表为示例"]], "2023": sites[:3], "2024": sites},
    )


def test_sheet_by_name_and_by_index(two_years):
    assert len(read_sites(two_years, sheet="2024")) == 5
    assert len(read_sites(two_years, sheet="2023")) == 2  # a name made of digits is a name
    assert len(read_sites(two_years, sheet=1)) == 2
    assert len(read_sites(two_years, sheet="2")) == 5  # digits that name no sheet: an index
    assert read_sites(two_years, sheet=2).attrs["sheet"] == "2024"


def test_ambiguous_or_unknown_sheet_lists_the_sheets(two_years, tmp_path):
    with pytest.raises(InputError, match=r"2 sheets have longitude.*'2023', '2024'") as err:
        read_sites(two_years)
    assert "'说明' (0), '2023' (1), '2024' (2)" in str(err.value)
    assert "--sheet" in err.value.cli_message()
    with pytest.raises(InputError, match=r"no sheet 'sites'.*'说明' \(0\)"):
        read_sites(two_years, sheet="sites")
    with pytest.raises(InputError, match="no sheet 7"):
        read_sites(two_years, sheet=7)
    # one sheet of sites beside notes: that one is read
    one = _workbook(tmp_path / "one.xlsx", {"说明": [["备注"]], "基站": [HEADER, *_csv_rows()]})
    assert read_sites(one).attrs["sheet"] == "基站"
    none = _workbook(tmp_path / "none.xlsx", {"a": [["x"]], "b": [["y"]]})
    with pytest.raises(DataError, match=r"no sheet has longitude and latitude.*'a' \(0\)"):
        read_sites(none)


def test_bad_cells_are_reported_with_their_rows_at_once(tmp_path):
    rows = [
        HEADER,
        ["A", 118.8, 32.1, "中国移动", "n41", None],
        ["B", "东经118度", 32.1, "中国移动", "n41", None],  # row 3: not a number
        [],  # row 4: empty, skipped
        ["C", 118.8, 95.0, "中国移动", "n41", None],  # row 5: latitude out of range
        ["A", 118.9, 32.2, "中国移动", "n41", "2021-13-45"],  # row 6: duplicate, bad date
    ]
    path = _workbook(tmp_path / "bad.xlsx", {"基站": rows})
    with pytest.raises(DataError) as err:
        read_sites(path)
    message = str(err.value)
    assert message.startswith("bad.xlsx, sheet '基站': ")
    assert "missing or non-numeric coordinates (rows 3)" in message
    assert "latitude outside [-90, 90] (rows 5)" in message
    assert "not unique (e.g. 'A'; rows 2, 6)" in message
    assert "unparseable commissioned dates (e.g. '2021-13-45'; rows 6)" in message


def test_unreadable_workbooks(tmp_path, csv_sites):
    fake = tmp_path / "s.xlsx"
    fake.write_text("lon,lat\n1,2\n")
    with pytest.raises(InputError, match=r"s\.xlsx: not a readable Excel workbook"):
        read_sites(fake)
    old = tmp_path / "s.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputError, match=r"\.xls\).*save it as \.xlsx"):
        read_sites(old)
    headless = _workbook(tmp_path / "h.xlsx", {"s": [["名称", "地址"], ["x", "y"]]})
    with pytest.raises(DataError, match=r"h\.xlsx, sheet 's': no lon and lat column"):
        read_sites(headless)
    with pytest.raises(InputError, match="sheet= is for Excel"):
        read_sites(csv_sites, sheet=0)


# --------------------------------------------------------------------------- PostGIS


def _postgres_bin() -> Path:
    """The newest PostgreSQL bin folder that has PostGIS beside it (or skip, saying why)."""

    def version(path):
        return [int(p) for p in re.findall(r"\d+", Path(path).parent.parent.name)]

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=version, reverse=True)
    if not found and shutil.which("postgres"):
        found = [shutil.which("postgres")]
    if not found:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    for server in map(Path, found):
        config = server.parent / "pg_config"
        share = (
            subprocess.run([config, "--sharedir"], capture_output=True, text=True).stdout.strip()
            if config.exists()
            else f"/usr/share/postgresql/{server.parent.parent.name}"
        )
        if (Path(share) / "extension" / "postgis.control").exists():
            return server.parent
    pytest.skip(
        "PostGIS is not installed for PostgreSQL "
        f"(apt-get install postgresql-{Path(found[0]).parent.parent.name}-postgis-3)"
    )


class _Server:
    def __init__(self, folder: Path, port: int):
        self.folder, self.port = folder, port

    def url(self, db_query: str = "") -> str:
        return f"postgresql:///postgres?host={self.folder}&port={self.port}&user=geo5g{db_query}"

    def connect(self):
        import psycopg

        return psycopg.connect(
            host=str(self.folder), port=self.port, user="geo5g", dbname="postgres", autocommit=True
        )


@pytest.fixture(scope="session")
def postgis():
    """A PostgreSQL + PostGIS server on a unix socket, for this session only."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install geo5g[postgis])")
    import psycopg

    bindir = _postgres_bin()
    root = os.geteuid() == 0
    # as root, a folder the server's user can reach: not inside root's own (TMPDIR may be)
    folder = Path(tempfile.mkdtemp(prefix="geo5g-pg-", dir="/tmp" if root else None))
    as_user = {}
    if root:  # PostgreSQL refuses to run as root: run it as a system user
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            account = pwd.getpwnam("nobody")
        os.chown(folder, account.pw_uid, account.pw_gid)
        as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "LC_ALL": "C", "HOME": str(folder)}
    run = {"cwd": folder, "env": env, **as_user}
    port = 54329
    data = folder / "data"
    initdb = [bindir / "initdb", "-D", data, "-U", "geo5g", "-A", "trust", "-E", "UTF8"]
    done = subprocess.run(
        [*initdb, "--locale=C", "--no-sync"],
        capture_output=True,
        text=True,
        **run,
    )
    if done.returncode:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
    log = open(folder / "server.log", "wb")  # noqa: SIM115 (kept open while it runs)
    options = {
        "listen_addresses": "",  # the unix socket only: no TCP port to collide with
        "fsync": "off",
        "full_page_writes": "off",
        "unix_socket_permissions": "0777",
        "max_connections": "20",
    }
    server = subprocess.Popen(
        [bindir / "postgres", "-D", data, "-k", folder, "-p", str(port)]
        + [arg for key, value in options.items() for arg in ("-c", f"{key}={value}")],
        stdout=log,
        stderr=subprocess.STDOUT,
        **run,
    )
    handle = _Server(folder, port)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with handle.connect() as conn:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    text = (folder / "server.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"PostgreSQL did not start:\n{text}") from None
                time.sleep(0.2)
        yield handle
    finally:
        server.send_signal(signal.SIGINT)  # fast shutdown
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _insert(server: _Server, name: str, sites: pd.DataFrame, *, srid: int, chinese: bool):
    """Write a site table into PostGIS: points in ``srid`` (transformed in the database)."""
    cols = ("站号", "运营商", "频段", "开通日期") if chinese else (
        "site_id", "operator", "band", "commissioned"
    )  # fmt: skip
    rows = [
        (
            r.site_id,
            None if pd.isna(r.operator) else str(r.operator),
            None if pd.isna(r.band) else str(r.band),
            None if pd.isna(r.commissioned) else r.commissioned.date(),
            r.lon,
            r.lat,
        )
        for r in sites.itertuples()
    ]
    with server.connect() as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{name}"')
        conn.execute(
            f'CREATE TABLE "{name}" (gid serial PRIMARY KEY, "{cols[0]}" text, "{cols[1]}" text, '
            f'"{cols[2]}" text, "{cols[3]}" date, geom geometry(Point, {srid}))'
        )
        with conn.cursor() as cur:
            cur.executemany(
                f'INSERT INTO "{name}" ("{cols[0]}", "{cols[1]}", "{cols[2]}", "{cols[3]}", geom) '
                "VALUES (%s, %s, %s, %s, "
                f"ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4326), {srid}))",
                rows,
            )


@pytest.fixture(scope="session")
def inventory(postgis, tmp_path_factory):
    """The CSV's sites, read by geo5g and written into PostGIS in two tables."""
    path = tmp_path_factory.mktemp("inventory") / "sites.csv"
    path.write_text(CSV, encoding="utf-8")
    sites = read_sites(path, points=False)
    # as an operator exports them (Chinese columns, WGS-84) …
    _insert(postgis, "gnb", sites, srid=4326, chinese=True)
    # … and as a bureau keeps them (CGCS2000 / 3-degree Gauss-Kruger CM 120E, metres)
    _insert(postgis, "gnb_cgcs2000", sites, srid=4549, chinese=False)
    return path, sites


def test_postgis_round_trip_is_the_csv(postgis, inventory):
    _, sites = inventory
    got = read_sites(postgis.url("&table=gnb"), points=False)
    pd.testing.assert_frame_equal(got, sites)
    assert got.attrs["source"] == f"database 'postgres' on {postgis.folder}:{postgis.port}, " + (
        "table gnb"
    )
    # GDAL's spelling, a layer= argument and a schema-qualified table give the same
    gdal = f"PG:dbname=postgres host={postgis.folder} port={postgis.port} user=geo5g tables=gnb"
    pd.testing.assert_frame_equal(read_sites(gdal, points=False), sites)
    pd.testing.assert_frame_equal(
        read_sites(postgis.url(), layer="public.gnb", points=False), sites
    )
    points = read_sites(postgis.url("&table=gnb"))
    assert points.crs == "EPSG:4326" and points.geometry.x.tolist() == sites["lon"].tolist()


def test_postgis_projected_table_gives_the_csv_density(postgis, inventory):
    from geo5g.pipeline import Request, run

    path, sites = inventory
    got = read_sites(postgis.url("#gnb_cgcs2000"), points=False)
    pd.testing.assert_frame_equal(
        got.drop(columns=["lon", "lat"]), sites.drop(columns=["lon", "lat"])
    )
    assert (got[["lon", "lat"]] - sites[["lon", "lat"]]).abs().to_numpy().max() < 1e-7
    from_csv = run(Request(province="jiangsu", sites=path), "density").density.table
    from_db = run(
        Request(province="jiangsu", sites=postgis.url("&table=gnb_cgcs2000")), "density"
    ).density.table
    pd.testing.assert_frame_equal(from_db, from_csv)
    assert from_db["stations"].sum() == 5


def test_postgis_query(postgis, inventory):
    query = "SELECT * FROM gnb WHERE 运营商 LIKE 'China Mob%' ORDER BY 站号 DESC"
    got = read_sites(postgis.url(), query=query, points=False)
    assert got["site_id"].tolist() == ["XZ-1", "NJ-1"]
    assert got.attrs["source"].endswith(", query")


def test_postgis_without_a_table_lists_them(postgis, inventory):
    with pytest.raises(InputError, match=r"name the sites' table; .*public\.gnb \(POINT\)") as err:
        read_sites(postgis.url())
    assert "?table=TABLE" in err.value.cli_message()


def test_postgis_srid_0_is_refused(postgis, inventory):
    with postgis.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS nosrid")
        conn.execute("CREATE TABLE nosrid (站号 text, geom geometry(Point))")
        conn.execute("INSERT INTO nosrid VALUES ('A', ST_MakePoint(118.8, 32.1))")
    with pytest.raises(CRSError, match=r"'geom' has SRID 0 \(no CRS\).*UpdateGeometrySRID"):
        read_sites(postgis.url("&table=nosrid"))


def test_postgis_bad_rows_are_reported_at_once(postgis, inventory):
    with postgis.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS mixed")
        conn.execute("CREATE TABLE mixed (gid int, geom geometry(Geometry, 4326))")
        conn.execute(
            "INSERT INTO mixed VALUES (1, ST_MakePoint(118.8, 32.1)), (2, NULL), "
            "(3, ST_GeomFromText('LINESTRING(118 32, 119 33)', 4326)), "
            "(4, ST_GeomFromText('POINT EMPTY', 4326))"
        )
    with pytest.raises(DataError) as err:
        read_sites(postgis.url("&table=mixed"))
    assert "geometries must be points; found LINESTRING (1) (rows 3)" in str(err.value)
    assert "2 rows have no geometry (rows 2, 4)" in str(err.value)


def test_postgis_unknown_table_is_one_line(postgis, inventory):
    with pytest.raises(InputError, match='relation "nope" does not exist') as err:
        read_sites(postgis.url("&table=nope"))
    assert "\n" not in str(err.value)


def test_unreachable_database_is_one_line_without_the_password(tmp_path):
    pytest.importorskip("psycopg")
    url = f"postgresql://planner:s3cret@/inventory?host={tmp_path}&port=1&table=gnb"
    with pytest.raises(InputError) as err:
        read_sites(url)
    message = str(err.value)
    assert message.startswith(f"database 'inventory' on {tmp_path}:1: cannot connect")
    assert "\n" not in message and "s3cret" not in message


@pytest.mark.parametrize(
    "spec, match",
    [
        ("PG:dbname=inventory host", "PostgreSQL connection string: cannot read 'host'"),
        ("postgresql:///db?colour=red", 'not understood .*invalid URI query parameter: "colour"'),
        ("PG:dbname=x tables=a,b", "one table of sites, not several"),
    ],
)
def test_bad_connection_strings_are_one_line(spec, match):
    pytest.importorskip("psycopg")
    with pytest.raises(InputError, match=match) as err:
        read_sites(spec)
    assert "\n" not in str(err.value)
