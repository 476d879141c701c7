"""The ``stockpilot`` command line: one small module per command group."""
