"""Point-in-polygon assignment of sites to zones."""

from unittest import mock

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import box

from geo5g.zones import assign_zones, locate


def _zones():
    return gpd.GeoDataFrame(
        {"name_zh": ["甲", "乙"]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
        index=pd.Index([320100, 320200], name="adcode"),
        crs="EPSG:3857",
    )


def test_locate_inside_outside_and_border():
    pos = locate([0.5, 1.5, 3.0, 1.0, 0.0], [0.5, 0.5, 0.5, 0.5, 0.0], _zones())
    # a point on the shared border goes to the first zone; a corner point counts too
    assert pos.tolist() == [0, 1, -1, 0, 0]


def test_locate_empty():
    assert locate([], [], _zones()).tolist() == []


def test_assign_zones_nullable_ids():
    sites = gpd.GeoDataFrame(geometry=shapely.points([[0.5, 0.5], [5, 5]]), crs="EPSG:3857")
    got = assign_zones(sites, _zones())
    assert got.name == "adcode"
    assert got.iloc[0] == 320100
    assert got.isna().tolist() == [False, True]


def test_multipolygon_with_hole():
    outer = shapely.Polygon(
        [(0, 0), (4, 0), (4, 4), (0, 4)], holes=[[(1, 1), (3, 1), (3, 3), (1, 3)]]
    )
    zones = gpd.GeoSeries([shapely.MultiPolygon([outer, box(10, 10, 11, 11)])])
    assert locate([2, 0.5, 10.5], [2, 0.5, 10.5], zones).tolist() == [-1, 0, 0]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-1, 3), st.floats(-1, 2)), min_size=1, max_size=60))
def test_locate_agrees_with_sjoin(points):
    xy = np.array(points)
    zones = _zones()
    pos = locate(xy[:, 0], xy[:, 1], zones)
    pts = shapely.points(xy)
    for k, geom in enumerate(zones.geometry):
        inside = shapely.intersects(geom, pts)
        # every point given to zone k lies in it; points in no earlier zone are never missed
        assert inside[pos == k].all()
    covered = np.zeros(len(xy), bool)
    for geom in zones.geometry:
        covered |= shapely.intersects(geom, pts)
    assert ((pos >= 0) == covered).all()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-1, 3), st.floats(-1, 2)), min_size=1, max_size=80),
    st.integers(1, 9),
)
def test_the_label_grid_in_slices_agrees_with_the_exact_pass(points, slice_size):
    # the grid looks points up a slice at a time: any slicing gives the exact answer
    import geo5g.zones as zones_module

    xy = np.array([*points, (np.nan, 0.5)])
    zones = _zones()
    with mock.patch.object(zones_module, "_GRID_MIN_POINTS", 10**9):
        exact = locate(xy[:, 0], xy[:, 1], zones)
    with (
        mock.patch.object(zones_module, "_GRID_MIN_POINTS", 0),
        mock.patch.object(zones_module, "_LOOKUP_SLICE", slice_size),
    ):
        gridded = locate(xy[:, 0], xy[:, 1], zones)
    assert gridded.tolist() == exact.tolist()
    assert gridded[-1] == -1  # NaN: in no zone
