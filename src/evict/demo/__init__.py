"""The demo: a realistic simulated fleet and the sample data it starts from."""
