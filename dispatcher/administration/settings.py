"""What the administration pages hand the importer and the record forms from the app's settings:
the geocoder and the area code for landlines written without one — as `vnh import` does."""

from __future__ import annotations

import os
from datetime import datetime

from flask import Flask
from sqlalchemy.orm import Session


def geocoder_for(app: Flask, session: Session, now: datetime):
    """The app's geocoder if it has one, else the one VNH_GEOCODER names (the gazetteer by default);
    a remote one answers through the database's cache."""
    from dispatcher.enrollment.geocoding import CachedGeocoder, build_geocoder, geocoder_settings

    geocoder = app.extensions.get("vnh.geocoder")
    if geocoder is None:
        geocoder = build_geocoder(geocoder_settings(os.environ))
    if geocoder.is_remote:
        geocoder = CachedGeocoder(session, geocoder, now)
    return geocoder


def area_code_of(app: Flask) -> str:
    """The area code for landlines written without one (VNH_DEFAULT_AREA_CODE, default 0931)."""
    raw = app.config.get("DEFAULT_AREA_CODE") or os.environ.get("VNH_DEFAULT_AREA_CODE", "")
    return raw.strip() or "0931"
