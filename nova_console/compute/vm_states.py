"""The states an instance can be in (vm_state), as Nova names them.

vm_state is where an instance is at rest; what is being done to it is its
task_state (task_states.py), and what its hypervisor says is its power_state
(power_state.py). The API shows vm_state as a server's status (api/servers.py).
This project's instances go through the first five; the others are Nova's, so
that a server in any of them shows as Nova would show it.
"""

BUILDING = "building"   # created in the API, being built on its host
ACTIVE = "active"       # built, its guest runs (a reboot does not leave ACTIVE)
STOPPED = "stopped"     # built, its guest does not run
ERROR = "error"         # a build, delete or reboot failed; the fault says why
DELETED = "deleted"     # destroyed on its host; the row is soft-deleted

PAUSED = "paused"
SUSPENDED = "suspended"
RESCUED = "rescued"
RESIZED = "resized"
SOFT_DELETED = "soft-delete"
SHELVED = "shelved"
SHELVED_OFFLOADED = "shelved_offloaded"
