"""atheris harness: tarballs of a Mac's folders (`--from macos FILE.tgz`).

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_macos_tar.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("macos-tar")
