"""The swarmvip terminal UI (Textual). Imported lazily by `swarmvip tui`."""
