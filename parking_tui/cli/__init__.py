"""The ``parking-tui`` command (DESIGN.md "Layers": the top layer, above the doors and the stores).

``main.py`` parses the command line and runs the command (``main()`` is the console script and
``python -m parking_tui``).
"""
