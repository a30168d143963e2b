"""Operator moves of a host's lifecycle state, written once for the command line, the API and
the dashboard (one host, or many from the dashboard's bulk action).

Each move goes through the lifecycle's rule (:func:`evict.compliance.lifecycle.transition`): an
operator may move a host between ``identified``, ``planned`` and ``removing``; states set by
evidence or by waivers are refused. Every move is one transaction with its audit event.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass

from evict.compliance.lifecycle import LifecycleError, transition
from evict.model.records import ConflictError, HostInfo, StateChange
from evict.model.states import State
from evict.store.store import Store


def change_state(
    store: Store,
    directive: str,
    host: HostInfo,
    to: State | str,
    *,
    reason: str = "",
    actor: str,
    now: dt.datetime,
) -> StateChange:
    """Move ``host`` to ``to`` for ``directive``, audit-logged as ``actor``.

    Raise :class:`~evict.compliance.lifecycle.LifecycleError` when the move is not an
    operator's to make (or ``to`` is no state), and
    :class:`~evict.model.records.ConflictError` when the state changed meanwhile.
    """
    try:
        target = State(to)
    except ValueError as e:
        raise LifecycleError(f"no state {str(to)!r}") from e
    decide = functools.partial(transition, to=target, now=now, reason=reason.strip())
    return store.change_state(host, directive, decide, actor=actor, now=now)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a bulk action did: the changes made and, per host refused, why."""

    changed: tuple[StateChange, ...]
    refused: tuple[tuple[HostInfo, str], ...]


def change_states(
    store: Store,
    directive: str,
    hosts: Iterable[HostInfo],
    to: State | str,
    *,
    reason: str = "",
    actor: str,
    now: dt.datetime,
) -> Outcome:
    """Move each of ``hosts`` as :func:`change_state` does; a host whose move is refused is
    listed with the reason and the others still move (each is its own transaction)."""
    changed: list[StateChange] = []
    refused: list[tuple[HostInfo, str]] = []
    for host in hosts:
        try:
            changed.append(
                change_state(store, directive, host, to, reason=reason, actor=actor, now=now)
            )
        except (LifecycleError, ConflictError) as e:
            refused.append((host, str(e)))
    return Outcome(tuple(changed), tuple(refused))
