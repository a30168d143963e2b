"""atheris harness: the PE reader of the file scan: version resource and Authenticode signer.

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_pe.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("pe")
