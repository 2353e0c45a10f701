import sys

from job_helpers.cli import main

sys.exit(main())
