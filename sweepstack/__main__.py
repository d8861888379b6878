"""``python -m sweepstack``: the ``sweepstack`` command."""

from sweepstack.cli import main

raise SystemExit(main())
