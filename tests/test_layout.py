"""The test tree stays collectable on a clean checkout: every test folder is a package."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).parent


def test_every_test_folder_is_a_package() -> None:
    missing = [
        str(d.relative_to(TESTS))
        for d in TESTS.rglob("*")
        if d.is_dir()
        and "assets" not in d.relative_to(TESTS).parts
        and d.name != "__pycache__"
        and any(d.glob("test_*.py"))
        and not (d / "__init__.py").exists()
    ]
    assert missing == [], "add __init__.py (same-named test modules collide otherwise)"
