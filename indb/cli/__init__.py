"""The ``indb`` command line."""
