"""Reading a small YAML file a user wrote (profiles, policies) safely, with errors that name it.

The same rules for every such file: a size limit checked before reading, UTF-8 only, no
aliases (billion-laughs), the C safe loader when PyYAML has it, and each failure raised as the
caller's :class:`~evict.errors.InputError` subclass with the file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evict.errors import InputError


def safe_loader() -> Any:
    """PyYAML's C safe loader when built in, else the pure-Python one."""
    import yaml  # loaded on first use: most commands never read YAML after the cached catalog

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def first_alias(text: str) -> Any:
    """The first alias event in the YAML ``text`` (None without one), found while parsing."""
    # PyYAML: only when YAML is read (catalogs load from their cache)
    import yaml

    for event in yaml.parse(text, Loader=safe_loader()):
        if isinstance(event, yaml.AliasEvent):
            return event
    return None


def read_small_yaml(
    path: Path, *, max_bytes: int, error: type[InputError], what: str
) -> tuple[str, Any]:
    """Return ``(text, data)`` of the YAML file at ``path``.

    :param max_bytes: the largest file accepted.
    :param error: the :class:`InputError` subclass raised, naming ``path``.
    :param what: the file's kind in messages ("a profile", "a policy").
    """
    # PyYAML: only when YAML is read (catalogs load from their cache)
    import yaml

    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise error(str(path), f"{size} bytes is more than {what} may hold")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(str(path), "not UTF-8 text", where=f"byte {e.start}") from e
    except OSError as e:
        raise error(str(path), f"cannot be read: {e.strerror or e}") from e
    try:
        alias = first_alias(text)
        if alias is not None:
            line = alias.start_mark.line + 1 if alias.start_mark is not None else None
            raise error(str(path), "YAML aliases are not allowed", line=line)
        data = yaml.load(text, Loader=safe_loader())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise error(
            str(path), f"not valid YAML: {getattr(e, 'problem', None) or e}", line=line
        ) from e
    return text, data
