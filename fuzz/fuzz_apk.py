"""atheris harness: Alpine's installed database, as the local apk collector reads it.

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_apk.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("apk")
