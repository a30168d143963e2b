"""atheris harness: `system_profiler -json SPApplicationsDataType` output (`--from macos`).

``make fuzz`` runs every harness; run this one alone with
``python fuzz/fuzz_macos_profiler.py`` (``FUZZ_SECONDS``, libFuzzer flags, or a file to replay).
"""

from _harness import main

if __name__ == "__main__":
    main("macos-profiler")
