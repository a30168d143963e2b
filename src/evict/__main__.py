"""Run evict as ``python -m evict``."""

from evict.cli import main

raise SystemExit(main())
