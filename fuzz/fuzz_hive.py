"""atheris harness: registry hive files (`--from hive`, through regipy).

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_hive.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("hive")
