"""Running the service: the scheduler's sweepers, health, the server, logs, fault hooks and `vnh chaos`."""
