"""`tunnels chat` in a terminal: a line editor on a tty (`editor`), plain lines from a pipe (`lines`).

Both talk through one `channels.terminal.TerminalChannel`; `interrupts` decides what Ctrl-C
means (cancel what runs, then leave) and `settle` when the orchestrator waits for the person.
"""
