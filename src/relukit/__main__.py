"""``python -m relukit``: the same as the ``relukit`` command."""

from relukit.cli import main

raise SystemExit(main())
