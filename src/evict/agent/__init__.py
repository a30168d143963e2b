"""The agent: enrol, scan (or read offline inventories), and push to the fleet server."""
