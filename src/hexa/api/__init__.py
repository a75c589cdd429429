"""HTTP and WebSocket routers: parse, call one service, serialise. Nothing else."""
