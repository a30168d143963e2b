"""atheris harness: Intune discovered-apps CSV exports (`--from intune`).

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_intune_csv.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("intune-csv")
