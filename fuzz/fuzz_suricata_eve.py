"""atheris harness: network logs (`--from suricata`, eve.json).

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_suricata_eve.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("suricata-eve")
