"""What a hypervisor says of an instance's guest (power_state): Nova's numbers,
which the API shows as OS-EXT-STS:power_state and drivers return from
get_power_state."""

NOSTATE = 0
RUNNING = 1
PAUSED = 3
SHUTDOWN = 4
CRASHED = 6

STATES = (NOSTATE, RUNNING, PAUSED, SHUTDOWN, CRASHED)
