"""nova_console: Nova's remote-console subsystem as oslo.messaging services."""
