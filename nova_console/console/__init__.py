"""Console proxies: one WebSocket proxy core shared by every console type."""
