"""The hotline: the inbound call flow, provider SMS replies, and the review, wellbeing and visit-notice calls."""
