"""Integrity checks on visits (overlaps, impossible travel, short visits…), their flags and holds."""
