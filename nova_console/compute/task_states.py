"""What is being done to an instance (task_state), as Nova names them; None when
nothing is."""

SPAWNING = "spawning"
DELETING = "deleting"
REBOOTING = "rebooting"            # a soft reboot asked for
REBOOTING_HARD = "rebooting_hard"  # a hard reboot asked for

REBOOT_TASK_STATES = (REBOOTING, REBOOTING_HARD)
