"""Regenerate the catalog rules from the pinned registries (``make catalog``).

Reads ``src/evict/catalog/registries/*.yaml`` and writes
``src/evict/catalog/data/products/generated/*.yaml``; ``--check`` only reports stale files.
"""

import sys

from evict.catalog.generate import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
