"""atheris harness: rpm header blobs, as the local rpm collector decodes them.

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_rpm_header.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("rpm-header")
