"""atheris harness: dpkg status files copied off hosts (`--from dpkg-status`).

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_dpkg_status.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("dpkg-status")
