"""atheris harness: SPDX 2.x JSON documents (`--from spdx`).

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_spdx_json.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("spdx-json")
