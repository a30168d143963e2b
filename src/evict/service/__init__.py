"""Use cases written once, called by the command line, the API and the dashboard."""
