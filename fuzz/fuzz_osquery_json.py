"""atheris harness: `osqueryi --json` outputs in a host folder (`--from osquery DIR`).

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_osquery_json.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("osquery-json")
