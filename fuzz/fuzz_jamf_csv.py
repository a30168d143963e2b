"""atheris harness: Jamf Pro advanced search CSV exports (`--from jamf`).

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_jamf_csv.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("jamf-csv")
