"""atheris harness: trust-store bundles, as the local trust-store collector reads them.

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_certs.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("certs")
