"""Write ``tiny.osm.pbf`` (and return its expected content) for the road-reader tests.

Needs the PyPI package ``osmium`` (pyosmium). ``tests/test_roads.py`` calls
:func:`write_tiny_pbf` into a temporary folder when osmium is installed, and reads
the committed copy made by ``python tests/data/roads/make_tiny_pbf.py`` either way.

Five ways along 118°E–118.2°E at 32°N: a motorway (ref G2), a trunk_link with two refs
(oneway), a motorway without ref, a residential street and a cycleway (the last two
must be left out by the reader).
"""

from __future__ import annotations

from pathlib import Path

#: (way id, node ids, tags) of the extract.
WAYS = [
    (10, [1, 2], {"highway": "motorway", "ref": "G2", "name": "京沪高速", "oneway": "yes"}),
    (11, [2, 3], {"highway": "trunk_link", "ref": "S19;G42", "oneway": "yes"}),
    (12, [3, 4], {"highway": "motorway", "name": "无编号高速"}),
    (13, [1, 4], {"highway": "residential", "name": "某路"}),
    (14, [2, 4], {"highway": "cycleway"}),
]
NODES = {1: (118.0, 32.0), 2: (118.1, 32.0), 3: (118.2, 32.0), 4: (118.2, 32.1)}


def write_tiny_pbf(path, nodes=None, ways=None) -> Path:
    """Write the extract (or ``nodes``: id → (lon, lat), ``ways``) with osmium's SimpleWriter."""
    import osmium

    path = Path(path)
    if path.exists():
        path.unlink()
    writer = osmium.SimpleWriter(str(path))
    try:
        for node_id, location in (NODES if nodes is None else nodes).items():
            writer.add_node(osmium.osm.mutable.Node(id=node_id, location=location))
        for way_id, refs, tags in WAYS if ways is None else ways:
            writer.add_way(osmium.osm.mutable.Way(id=way_id, nodes=refs, tags=tags))
    finally:
        writer.close()
    return path


if __name__ == "__main__":
    print(write_tiny_pbf(Path(__file__).with_name("tiny.osm.pbf")))
