"""atheris harness: a plist inside a folder tree copied from a Mac (`--from macos DIR`).

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_macos_plist.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("macos-plist")
