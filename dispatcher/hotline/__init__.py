"""The hotline: the inbound call flow and the review calls."""
