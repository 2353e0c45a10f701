import sys

from job_helpers.control.cli import main

sys.exit(main())
