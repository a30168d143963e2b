"""atheris harness: network logs (`--from windows-dns`).

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_windows_dns.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("windows-dns")
