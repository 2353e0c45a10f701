"""The batch commands' use cases (execute, catchup, status, report, retry, cleanup), below the command line.

``commands/runs_cmd.py`` registers the options and hands each command's values here; planning,
checks, starting and waiting, and what is shown on the console live in modules of their own.
"""
