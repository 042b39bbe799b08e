"""User interfaces of memsa: the command line and (later) the desktop window."""
