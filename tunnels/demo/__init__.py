"""`tunnels demo`: the main job end to end, offline (embedded NATS, scripted model, sample tree)."""
