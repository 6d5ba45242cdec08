"""The order lifecycle: states, slots, dispatch and offers, visits, check-in and check-out, reviews."""
