"""``python -m driftrec.experiments.cli``: the ``driftrec`` command."""

import sys

from driftrec.experiments.cli.main import main

sys.exit(main())
