"""atheris harness: one file among others on a disk scanned with `evict scan --files`.

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_file_scan.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("file-scan")
