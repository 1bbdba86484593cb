# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# `make demo` needs the project alone, not the test extras (pytest, mypy, kubernetes-validate...).
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: test demo install bench clean lint ssh-server sandbox-tools browser

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# Already installed with the test extras: nothing more to install for the demo.
$(DEMO_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	if [ ! $(STAMP) -nt pyproject.toml ]; then $(PY) -m pip install -q -e .; fi
	touch $(DEMO_STAMP)

install: $(STAMP)

test: $(STAMP) lint ssh-server sandbox-tools browser
	$(PY) -m pytest -q -p no:cacheprovider

# ruff (style, imports, no wall clock in actors/ events/ projections/) and mypy over the installed
# names; a finding fails `make test` and CI.
FOLDERS := actors events projections channels remote_agent config tunnels
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	@mkdir -p $(VENV)/typecheck/claude_tunnels
	@for d in $(FOLDERS); do ln -sfn "$(CURDIR)/$$d" "$(VENV)/typecheck/claude_tunnels/$$d"; done
	cd $(VENV)/typecheck && MYPYPATH=. $(CURDIR)/$(VENV)/bin/mypy --config-file $(CURDIR)/pyproject.toml -p claude_tunnels

# Claude Code's OS sandbox on Linux needs bubblewrap and socat: without them it runs commands
# unconfined, so agents refuse to run. Installed from Debian's packages when we are root.
sandbox-tools:
	@if { ! command -v bwrap >/dev/null 2>&1 || ! command -v socat >/dev/null 2>&1; } \
	    && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing bubblewrap and socat for Claude Code's sandbox"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  timeout 300 apt-get install -y -q bubblewrap socat >/dev/null 2>&1 \
	  || { timeout 300 apt-get update -q >/dev/null 2>&1 && timeout 300 apt-get install -y -q bubblewrap socat >/dev/null 2>&1; } \
	  || echo "note: could not install bubblewrap and socat; the sandbox tests will be skipped and agents refuse to run"; \
	fi

# The live `tunnels deploy ssh` test runs a real sshd on a loopback port (skipped without one).
# Installed from Debian's packages when we are root; RUNLEVEL=1 keeps the package from starting
# a system sshd on port 22.
ssh-server:
	@if [ ! -x /usr/sbin/sshd ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing openssh-server for the live ssh deploy test"; \
	  export DEBIAN_FRONTEND=noninteractive RUNLEVEL=1; \
	  timeout 300 apt-get install -y -q openssh-server >/dev/null 2>&1 \
	  || { timeout 300 apt-get update -q >/dev/null 2>&1 && timeout 300 apt-get install -y -q openssh-server >/dev/null 2>&1; } \
	  || echo "note: could not install openssh-server; the live ssh deploy test will be skipped"; \
	fi

# The dashboard's browser tests drive Debian's chromium through its chromedriver (selenium).
# Installed from Debian's packages when we are root; elsewhere those tests are skipped.
browser:
	@if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; } \
	    && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium and chromium-driver for the dashboard's browser tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  timeout 600 apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 \
	  || { timeout 300 apt-get update -q >/dev/null 2>&1 && timeout 600 apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; } \
	  || echo "note: could not install chromium and chromium-driver; the dashboard's browser tests will be skipped"; \
	fi

demo: $(DEMO_STAMP) sandbox-tools
	$(VENV)/bin/tunnels demo

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .tunnels .pytest_cache
