"""Enrollment: elders, providers and offerings from the bureau's files; ID numbers, phones, geocoding."""
