"""Compute drivers: the seam between nova-console-compute and a hypervisor."""
