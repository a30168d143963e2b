"""atheris harness: Windows Amcache.hve (`--from hive`, through regipy).

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_amcache.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("amcache")
