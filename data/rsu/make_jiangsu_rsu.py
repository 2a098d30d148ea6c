"""Regenerate ``jiangsu_rsu_SYNTHETIC.geojson`` (synthetic demo RSUs; see README.md).

Run from the repository root: ``python data/rsu/make_jiangsu_rsu.py``. Uses the bundled
schematic roads and city boundaries; the output is deterministic (seeded).
"""

from __future__ import annotations

import json
from pathlib import Path

from geo5g.boundaries import read_boundaries
from geo5g.corridors import rsu_road_km, synthetic_rsu
from geo5g.roads import read_demo_roads, read_rsu

#: Connected-vehicle pilot cities named by the Jiangsu plan (南京、无锡、苏州, §二(二)2)
#: and the kilometres of expressway equipped in this synthetic deployment.
KM_BY_CITY = {320100: 70.0, 320200: 80.0, 320500: 60.0}
SEED = 2024
OUT = Path(__file__).resolve().parent / "jiangsu_rsu_SYNTHETIC.geojson"


def main() -> None:
    roads = read_demo_roads("jiangsu")
    cities = read_boundaries("jiangsu", "city")
    rsu = synthetic_rsu(roads, cities, KM_BY_CITY, spacing_m=500.0, range_m=300.0, seed=SEED)
    tmp = OUT.with_suffix(".tmp.geojson")
    rsu.to_file(tmp, driver="GeoJSON")
    tmp.replace(OUT)
    result = rsu_road_km(roads, read_rsu(OUT), cities, target_km=300)
    print(len(rsu), "RSUs;", json.dumps({k: round(float(v), 1) for k, v in result.total.items()}))
    print(result.by_city.round(1).to_string())


if __name__ == "__main__":
    main()
