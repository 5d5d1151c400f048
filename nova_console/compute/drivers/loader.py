"""Finds the compute driver named by [DEFAULT] compute_driver."""
import importlib

from importlib import metadata

from nova_console import exception
from nova_console.compute.drivers import base

ENTRY_POINT_GROUP = "nova_console.compute.drivers"


def _find_class(name):
    if ":" in name:
        module_name, _, class_name = name.partition(":")
        return getattr(importlib.import_module(module_name), class_name)
    matches = metadata.entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not matches:
        known = sorted(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))
        raise LookupError("no entry point %r in %s (known: %s)"
                          % (name, ENTRY_POINT_GROUP, ", ".join(known) or "none"))
    return next(iter(matches)).load()


def load_driver(name):
    """An instance of the driver `name` (entry point name or 'module:Class')."""
    try:
        driver_class = _find_class(name)
        if not (isinstance(driver_class, type) and issubclass(driver_class, base.ComputeDriver)):
            raise TypeError("%r is not a ComputeDriver subclass" % driver_class)
        return driver_class()
    except Exception as exc:
        raise exception.DriverLoadError(driver=name, reason="%s: %s"
                                        % (exc.__class__.__name__, exc)) from exc
