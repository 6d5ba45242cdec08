"""Partner companies: contracts, offerings, offers and their answers."""
