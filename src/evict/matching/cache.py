"""Load a compiled matcher, from a cache keyed by the catalog's content hash when possible.

Validating the YAML catalog and compiling its automaton takes longer than a whole scan of this
host; the compiled :class:`~evict.matching.engine.Matcher` is therefore pickled into the user's
cache directory under a name that includes the catalog version and evict's version, and reused
until either changes. The cache file is written atomically and only ever read from the
user's own cache directory; set ``EVICT_NO_CACHE=1`` to bypass it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from evict import __version__
from evict.catalog.loader import catalog_files, catalog_version, load_catalog
from evict.matching import domains, engine
from evict.matching.engine import Matcher
from evict.model import normalize


def cache_dir() -> Path:
    """The per-user cache directory of evict (XDG on Linux)."""
    override = os.environ.get("EVICT_CACHE_DIR")
    if override:
        return Path(override)
    linux = sys.platform.startswith("linux")
    if linux:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "evict"
    import platformdirs  # not needed on Linux, the common case: loaded only elsewhere

    return Path(platformdirs.user_cache_dir("evict"))


def _code_digest() -> str:
    """A digest of the code that compiles the matcher: a change there invalidates the cache."""
    digest = hashlib.sha256()
    for module in (engine, normalize, domains):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:8]


def load_matcher(extra_dirs: Sequence[Path] = (), *, use_cache: bool | None = None) -> Matcher:
    """Return a matcher for the built-in catalog plus ``extra_dirs``."""
    if use_cache is None:
        use_cache = not os.environ.get("EVICT_NO_CACHE")
    if not use_cache:
        return Matcher(load_catalog(extra_dirs))
    version = catalog_version(catalog_files(extra_dirs))
    path = (
        cache_dir() / f"matcher-{__version__}-{version.partition(':')[2]}-{_code_digest()}.pickle"
    )
    try:
        with path.open("rb") as f:
            matcher = pickle.load(f)
        if isinstance(matcher, Matcher) and matcher.catalog.version == version:
            return matcher
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
        pass
    matcher = Matcher(load_catalog(extra_dirs))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as tmp:
            pickle.dump(matcher, tmp, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp.name, path)
        for stale in path.parent.glob("matcher-*.pickle"):
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only home is no reason to fail a scan; the next run compiles again
    return matcher
