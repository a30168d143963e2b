"""One measured file scan, in its own process: ``scan_once.py TREE CACHE RULES``.

Kept apart from ``run.py`` so the time measured is evict's (start-up, imports, scan) and not the
benchmark harness's own imports. Prints a one-line JSON summary.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _planted(path: str) -> bool:
    """Whether ``path`` is one of the Kaspersky PE files ``run.py`` puts in the tree."""
    return Path(path).name.startswith(("svc", "avp-"))


def main(tree: str, cache: str, rules: str) -> None:
    """Scan ``tree`` with the cache file ``cache`` and the YARA rules ``rules``."""
    from evict.inventory.files import FileScanSource
    from evict.matching.cache import load_matcher

    # As `evict scan --files` does: the compiled catalog (a pickle), handed to the source.
    catalog = load_matcher().catalog
    source = FileScanSource(
        [Path(tree)], catalog=catalog, cache_path=Path(cache), yara_rules=Path(rules)
    )
    (inventory,) = list(source.collect())
    yara_hits = [o for o in inventory.observations if o.source.startswith("files:yara:")]
    stats = source.stats
    summary = {
        "observations": len(inventory.observations),
        "yara_matches": len(yara_hits),
        "kaspersky_files": len({o.ident("path") for o in yara_hits}),
        "other_files_matched": len(
            {o.ident("path") for o in yara_hits if not _planted(o.ident("path") or "")}
        ),
        "files": stats.files,
        "opened": stats.opened,
        "cached": stats.cached,
        "executables": stats.executables,
        "bytes_read": stats.bytes_read,
        "status": source.statuses[0].state,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main(*sys.argv[1:4])
