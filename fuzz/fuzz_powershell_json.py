"""atheris harness: PowerShell `ConvertTo-Json` output (`--from powershell`).

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_powershell_json.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("powershell-json")
