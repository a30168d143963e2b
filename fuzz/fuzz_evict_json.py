"""atheris harness: evict's own JSON-lines inventories (`--from evict`, the agent's spool).

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_evict_json.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("evict-json")
