"""`tunnels serve`'s start: every channel's credentials checked first (`preflight`), and a
platform that cannot be reached yet tried again with backoff while the others serve (`patient`)."""
