"""atheris harness: CycloneDX JSON SBOMs (`--from cyclonedx`).

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_cyclonedx_json.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("cyclonedx-json")
