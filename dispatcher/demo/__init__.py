"""The demo district, its gazetteer, and the simulator that drives whole lifecycles through the webhooks."""
