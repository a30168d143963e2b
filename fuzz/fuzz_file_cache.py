"""atheris harness: the rows of the file-scan cache, replayed on the next scan.

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_file_cache.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("file-cache")
