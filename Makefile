# `make run` opens the app on the embedded demo store; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint demo bench browser-deps pdf-fonts spark-deps clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# The store's schema is brought up to date first; an empty store then gets the demo utility.
run: $(STAMP) pdf-fonts
	$(PY) -m core migrate
	$(PY) -m core demo --if-missing
	$(VENV)/bin/streamlit run app.py --server.address 127.0.0.1 --server.port 8501

demo: $(STAMP)
	$(PY) -m core demo

# Headless Chromium for the browser tests comes from Debian's package.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The Spark jobs (core/spark) and their tests run on a Java 17 runtime: Debian's headless JRE.
spark-deps:
	@command -v java >/dev/null 2>&1 || { \
		echo "Installing Debian's openjdk-17-jre-headless for the Spark jobs"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			openjdk-17-jre-headless >/dev/null; }

# Chinese visit briefs need a CJK font: Debian's WenQuanYi Micro Hei. Without it (no root, no
# package mirror) the briefs fall back to English, so a failed install does not stop the build.
pdf-fonts:
	@test -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc || { \
		echo "Installing Debian's fonts-wqy-microhei for the Chinese visit briefs"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			fonts-wqy-microhei >/dev/null; } || echo "No CJK font installed: visit briefs in English"; }

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Two workers: the browser tests mostly wait for their app, the store tests for their database.
test: $(STAMP) browser-deps spark-deps pdf-fonts lint
	$(PY) -m pytest -n 2

# Every benchmark in turn; each prints its figures (they go into the README). The reference
# implementations some of them compare against are benchmark-only requirements.
bench: $(STAMP) spark-deps
	$(PY) -m pip install --quiet -r bench/requirements.txt
	for script in bench/bench_*.py; do $(PY) -m bench.$$(basename $$script .py) || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
