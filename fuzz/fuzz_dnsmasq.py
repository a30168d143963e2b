"""atheris harness: network logs (`--from dnsmasq`, dnsmasq).

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_dnsmasq.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("dnsmasq")
