"""atheris harness: osqueryd results logs, JSON lines (`--from osquery FILE`).

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_osquery_log.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("osquery-log")
