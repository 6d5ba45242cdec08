"""Geocoding addresses to WGS-84: the `Geocoder` port, an offline gazetteer, geopy adapters, a cache.

The gazetteer is the default and needs no network: a CSV file of communities (their centre) and
known addresses. A geopy service is chosen with `VNH_GEOCODER` and built by the command that
needs it, wrapped in geopy's RateLimiter; its answers are converted from the service's datum to
WGS-84 and cached in the database. An address nobody knows is answered with None, never guessed.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.enrollment.coords import DATUMS, to_wgs84
from dispatcher.enrollment.models import GeocodeCacheEntry

DEFAULT_GAZETTEER = Path(__file__).parents[1] / "data" / "gazetteer.csv"
GEOCODERS = ("gazetteer", "nominatim", "baidu", "google")
# The datum each service answers in; Google answers GCJ-02 inside mainland China.
SERVICE_DATUMS = {"nominatim": "wgs84", "baidu": "bd09", "google": "gcj02"}
# Answers this coarse place an elder nowhere useful: refuse them rather than guess. Baidu names
# its answer's `level`, Nominatim its `addresstype`, Google its `types`.
COARSE_LEVELS = frozenset({"国家", "省", "城市", "区县", "乡镇"})
COARSE_ADDRESS_TYPES = frozenset({
    "country", "state", "province", "region", "county", "city", "municipality", "district",
    "city_district", "borough", "town", "suburb",
})  # fmt: skip
COARSE_GOOGLE_TYPES = frozenset({
    "political", "country", "administrative_area_level_1", "administrative_area_level_2",
    "administrative_area_level_3", "locality", "sublocality", "sublocality_level_1", "postal_code",
})  # fmt: skip
_MAX_FAILURES = 3
_BATCH = 500
_QUERY_LENGTH = 300
_BUILDING = re.compile(r"(\d+)(?:#楼?|栋|幢|号楼)")


@dataclass(frozen=True)
class GeocodeQuery:
    address: str
    street: str = ""
    community: str = ""


@dataclass(frozen=True)
class Place:
    """A WGS-84 point and how precisely it places the address (address, community, …)."""

    latitude: float
    longitude: float
    precision: str


class GeocoderUnavailable(RuntimeError):
    """The geocoding service failed (network, quota, key): the address is neither found nor not."""


class Geocoder(Protocol):
    name: str
    is_remote: bool

    def geocode(self, query: GeocodeQuery) -> Place | None:
        """Return the address's WGS-84 place, or None if it cannot be found."""


def normalise_address(text: str) -> str:
    """Fold an address for matching: half-width digits, no spaces, 3栋/3#/3幢 written 3号楼."""
    folded = "".join(unicodedata.normalize("NFKC", text).split())
    return _BUILDING.sub(r"\1号楼", folded)


class Gazetteer:
    """Communities with their centres and addresses with their points, read from a CSV file.

    The file's columns are street, community, address, latitude, longitude (WGS-84); a row with
    a blank address is the community's centre.
    """

    def __init__(self, rows: Iterable[Mapping[str, str]]):
        self.communities: dict[tuple[str, str], tuple[float, float]] = {}
        addresses: list[tuple[str, str, str, tuple[float, float]]] = []
        for row in rows:
            point = (float(row["latitude"]), float(row["longitude"]))
            street, community = row["street"].strip(), row["community"].strip()
            address = normalise_address(row.get("address") or "")
            if address:
                addresses.append((street, community, address, point))
            else:
                self.communities[(street, community)] = point
        names = [community for _, community in self.communities]
        # An anchor is where an address starts to name a place this gazetteer knows.
        self.anchors: dict[str, tuple[str, str]] = {}
        for street, community in self.communities:
            unique = names.count(community) == 1
            self.anchors[community if unique else street + community] = (street, community)
        self._by_name = {c: s for s, c in self.communities if names.count(c) == 1}
        self.addresses = {self.canonical(a): p for _, _, a, p in addresses}
        self._shortest = min((len(a) for a in self.addresses), default=1)

    @classmethod
    def from_file(cls, path: Path = DEFAULT_GAZETTEER) -> Gazetteer:
        with Path(path).open(encoding="utf-8-sig", newline="") as f:
            return cls(csv.DictReader(f))

    def canonical(self, address: str) -> str:
        """The address from the first place it names onwards (province and city dropped)."""
        folded = normalise_address(address)
        best = None
        for anchor in self.anchors:
            at = folded.find(anchor)
            if at >= 0 and (best is None or (at, -len(anchor)) < best):
                best = (at, -len(anchor))
        return folded[best[0] :] if best else folded

    def locate(self, query: GeocodeQuery) -> Place | None:
        """A known address's point, else the centre of the community the address or row names."""
        canonical = self.canonical(query.address)
        for end in range(len(canonical), self._shortest - 1, -1):
            point = self.addresses.get(canonical[:end])
            if point is not None:
                return Place(*point, "address")
        for anchor, key in self.anchors.items():
            if canonical.startswith(anchor):
                return Place(*self.communities[key], "community")
        street = query.street or self._by_name.get(query.community, "")
        point = self.communities.get((street, query.community))
        return Place(*point, "community") if point else None


class GazetteerGeocoder:
    """The offline geocoder: a gazetteer file, no network, no cache needed."""

    name = "gazetteer"
    is_remote = False

    def __init__(self, gazetteer: Gazetteer):
        self.gazetteer = gazetteer

    def geocode(self, query: GeocodeQuery) -> Place | None:
        return self.gazetteer.locate(query)


class GeopyGeocoder:
    """A geopy geocoder (already wrapped in RateLimiter) whose answers are converted to WGS-84."""

    is_remote = True

    def __init__(
        self,
        name: str,
        lookup: Callable,
        *,
        datum: str,
        region: str = "",
        options: Mapping[str, object] | None = None,
    ):
        if datum not in DATUMS:
            raise ValueError(f"unknown datum {datum!r}: use one of {', '.join(DATUMS)}")
        self.name = name
        self.lookup = lookup
        self.datum = datum
        self.region = region
        self.options = dict(options or {})
        self._failures = 0

    def query_text(self, query: GeocodeQuery) -> str:
        """The text sent to the service: the address, with its community and region if missing."""
        text = normalise_address(query.address)
        if query.community and query.community not in text:
            text = query.street + query.community + text
        if self.region and self.region not in text:
            text = self.region + text
        return text

    def geocode(self, query: GeocodeQuery) -> Place | None:
        from geopy.exc import GeopyError

        if self._failures >= _MAX_FAILURES:
            raise GeocoderUnavailable(
                f"{self.name} failed {self._failures} times in a row; not asked again this run"
            )
        try:
            location = self.lookup(self.query_text(query), **self.options)
        except GeopyError as exc:
            self._failures += 1
            raise GeocoderUnavailable(f"{self.name}: {type(exc).__name__}: {exc}") from None
        self._failures = 0
        if location is None or _is_coarse(location.raw):
            return None
        latitude, longitude = to_wgs84(location.latitude, location.longitude, self.datum)
        if not (18.0 <= latitude <= 54.0 and 73.0 <= longitude <= 135.0):
            return None
        return Place(latitude, longitude, self.name)


class CachedGeocoder:
    """Ask the database before the service, and remember the service's answers there.

    New answers wait in `pending` until `save` adds them to the session, so an import can keep
    them even when it refuses its file (the service need not be asked again after a fix).
    """

    is_remote = False

    def __init__(self, session: Session, inner: Geocoder, now: datetime):
        self.name = inner.name
        self.inner = inner
        self.session = session
        self.now = now
        self.asked = 0
        self.pending: list[GeocodeCacheEntry] = []
        self._known: dict[str, Place | None] = {}

    def prefetch(self, queries: Iterable[GeocodeQuery]) -> None:
        """Load the cached answers for many queries at once."""
        keys = list({cache_key(q) for q in queries} - self._known.keys())
        for start in range(0, len(keys), _BATCH):
            batch = keys[start : start + _BATCH]
            for entry in self.session.scalars(
                select(GeocodeCacheEntry).where(
                    GeocodeCacheEntry.geocoder == self.name, GeocodeCacheEntry.query.in_(batch)
                )
            ):
                self._known[entry.query] = Place(entry.latitude, entry.longitude, entry.precision)

    def geocode(self, query: GeocodeQuery) -> Place | None:
        key = cache_key(query)
        if key not in self._known:
            self.prefetch([query])
        if key in self._known:
            return self._known[key]
        self.asked += 1
        place = self.inner.geocode(query)
        self._known[key] = place
        if place is not None:
            self.pending.append(
                GeocodeCacheEntry(
                    geocoder=self.name, query=key, latitude=place.latitude,
                    longitude=place.longitude, precision=place.precision, created_at=self.now,
                )
            )  # fmt: skip
        return place

    def save(self) -> None:
        """Add the answers learnt since the last save to the session."""
        self.session.add_all(self.pending)
        self.pending = []


def cache_key(query: GeocodeQuery) -> str:
    key = "|".join((normalise_address(query.address), query.street, query.community))
    return key[:_QUERY_LENGTH]


@dataclass(frozen=True)
class GeocoderSettings:
    kind: str = "gazetteer"
    gazetteer_file: str = ""
    key: str = ""
    user_agent: str = ""
    domain: str = ""
    region: str = ""
    datum: str = ""
    min_delay_s: float = 1.0


def geocoder_settings(env: Mapping[str, str]) -> GeocoderSettings:
    """Read the geocoder's settings from environment variables; raise ValueError if unusable."""
    kind = env.get("VNH_GEOCODER", "").strip().lower() or "gazetteer"
    if kind not in GEOCODERS:
        raise ValueError(f"VNH_GEOCODER must be one of {', '.join(GEOCODERS)}, got {kind!r}")
    raw_delay = env.get("VNH_GEOCODER_MIN_DELAY_S", "").strip() or "1.0"
    try:
        delay = float(raw_delay)
    except ValueError:
        raise ValueError(f"VNH_GEOCODER_MIN_DELAY_S must be a number, got {raw_delay!r}") from None
    settings = GeocoderSettings(
        kind=kind,
        gazetteer_file=env.get("VNH_GAZETTEER_FILE", "").strip(),
        key=env.get("VNH_GEOCODER_KEY", "").strip(),
        user_agent=env.get("VNH_GEOCODER_USER_AGENT", "").strip(),
        domain=env.get("VNH_GEOCODER_DOMAIN", "").strip(),
        region=env.get("VNH_GEOCODER_REGION", "").strip(),
        datum=env.get("VNH_GEOCODER_DATUM", "").strip().lower(),
        min_delay_s=delay,
    )
    if kind in ("baidu", "google") and not settings.key:
        raise ValueError(f"VNH_GEOCODER={kind} needs VNH_GEOCODER_KEY")
    if kind == "nominatim" and not settings.user_agent:
        raise ValueError("VNH_GEOCODER=nominatim needs VNH_GEOCODER_USER_AGENT (its usage policy)")
    if settings.datum and settings.datum not in DATUMS:
        raise ValueError(f"VNH_GEOCODER_DATUM must be one of {', '.join(DATUMS)}")
    return settings


def build_geocoder(settings: GeocoderSettings) -> Geocoder:
    """Build the configured geocoder; a service is wrapped in geopy's RateLimiter."""
    if settings.kind == "gazetteer":
        return GazetteerGeocoder(Gazetteer.from_file(settings.gazetteer_file or DEFAULT_GAZETTEER))
    from geopy.extra.rate_limiter import RateLimiter
    from geopy.geocoders import BaiduV3, GoogleV3, Nominatim

    if settings.kind == "nominatim":
        domain = {"domain": settings.domain} if settings.domain else {}
        service = Nominatim(user_agent=settings.user_agent, **domain)
        options = {"country_codes": "cn"}
    elif settings.kind == "baidu":
        service = BaiduV3(api_key=settings.key)
        options = {}
    else:
        service = GoogleV3(api_key=settings.key)
        options = {"region": "cn"}
    limited = RateLimiter(
        service.geocode, min_delay_seconds=settings.min_delay_s, max_retries=2,
        error_wait_seconds=5.0, swallow_exceptions=False,
    )  # fmt: skip
    return GeopyGeocoder(
        settings.kind,
        limited,
        datum=settings.datum or SERVICE_DATUMS[settings.kind],
        region=settings.region,
        options=options,
    )


def _is_coarse(raw) -> bool:
    if not isinstance(raw, Mapping):
        return False
    if raw.get("level") in COARSE_LEVELS or raw.get("addresstype") in COARSE_ADDRESS_TYPES:
        return True
    types = set(raw.get("types") or ())
    return bool(types) and types <= COARSE_GOOGLE_TYPES
