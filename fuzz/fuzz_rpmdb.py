"""atheris harness: rpm's SQLite database, as the local rpm collector opens it.

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_rpmdb.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("rpmdb")
