"""The gazetteer of the demo district, generated from dispatcher/demo/district.py's streets and communities.

`python -m dispatcher.demo.gazetteer` rewrites dispatcher/data/gazetteer.csv; a test checks the
shipped file is what this module makes. Every community has its centre and buildings 1 to
`BUILDINGS` (写作 …社区N号楼) at fixed points spread within 500 m of it.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from dispatcher.demo.district import CENTRE, STREETS
from dispatcher.enrollment.geocoding import DEFAULT_GAZETTEER

BUILDINGS = 24
COLUMNS = ("street", "community", "address", "latitude", "longitude")
_METRES_PER_DEGREE = 111_320
_GOLDEN_ANGLE = math.pi * (3 - math.sqrt(5))
_SPREAD_M = 500


def demo_gazetteer_rows() -> list[tuple[str, str, str, str, str]]:
    """Every community's centre, then its buildings, as gazetteer rows."""
    rows = []
    for street, communities in STREETS.items():
        for community, north, east in communities:
            rows.append((street, community, "", *_point(north, east)))
            for building in range(1, BUILDINGS + 1):
                # A sunflower spiral: evenly spread, the same every time.
                distance = _SPREAD_M * math.sqrt(building / (BUILDINGS + 1))
                angle = building * _GOLDEN_ANGLE
                point = _point(
                    north + distance * math.cos(angle), east + distance * math.sin(angle)
                )
                rows.append((street, community, f"{street}{community}{building}号楼", *point))
    return rows


def write_demo_gazetteer(path: Path = DEFAULT_GAZETTEER) -> Path:
    with Path(path).open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(demo_gazetteer_rows())
    return Path(path)


def _point(north: float, east: float) -> tuple[str, str]:
    latitude = CENTRE[0] + north / _METRES_PER_DEGREE
    longitude = CENTRE[1] + east / (_METRES_PER_DEGREE * math.cos(math.radians(CENTRE[0])))
    return f"{latitude:.6f}", f"{longitude:.6f}"


if __name__ == "__main__":
    print(write_demo_gazetteer())
