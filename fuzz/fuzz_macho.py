"""atheris harness: the Mach-O reader of the file scan: code signature identifier and team ID.

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_macho.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("macho")
