"""The store port stays narrow: one interface per concern, none with more than a dozen
methods, and IdentityStore only combines them (plus the batched read built on them)."""

from __future__ import annotations

import inspect

import pytest

import app.stores.ports as ports
from app.stores.base import IdentityStore
from app.stores.outbox import OutboxPort

PORTS = [getattr(ports, name) for name in ports.__all__] + [OutboxPort]


def declared(port: type) -> set[str]:
    return {name for name, member in vars(port).items()
            if inspect.isfunction(member) and not name.startswith("_")}


@pytest.mark.parametrize("port", PORTS, ids=lambda p: p.__name__)
def test_each_interface_is_narrow(port):
    assert 0 < len(declared(port)) <= 12


def test_identity_store_combines_the_interfaces_and_adds_only_the_batched_read():
    assert set(PORTS) <= set(IdentityStore.__mro__)
    assert declared(IdentityStore) == {"read_customers"}
    names = [name for port in PORTS for name in declared(port)]
    assert len(names) == len(set(names))  # no method in two interfaces
