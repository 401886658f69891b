# Kiln: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test install browser worker beat clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# Builds a small demo marketplace on the embedded SQLite database and serves the back-office.
demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_demo
	$(PY) manage.py runserver 127.0.0.1:8000

# Browser tests drive the distribution's Chromium; nothing is downloaded at test time.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && apt-get install -y -qq chromium >/dev/null); \
		else echo "chromium is not installed and this user cannot apt-get it: browser tests will be skipped"; fi; }

# The import contracts (.importlinter: layers and independence) are part of the test run.
test: install browser
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The production shape: PostgreSQL, Redis, a worker and beat (see README).
worker: install
	$(VENV)/bin/celery -A config worker -Q default,ingest,notify,recompute -l INFO

beat: install
	$(VENV)/bin/celery -A config beat -l INFO

clean:
	rm -rf $(VENV) var staticfiles artifacts
