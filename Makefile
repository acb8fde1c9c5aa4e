# Stratus Console: `make run` serves the console with demo data, `make test`
# runs the whole suite. Both install what is missing and, when DATABASE_URL is
# not set, use a project-local PostgreSQL cluster under .local/.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := run

LOCAL := $(CURDIR)/.local
BIND ?= 127.0.0.1:8080
# Public images offered first and badged "Provided": Amazon Linux and Ubuntu (Canonical).
PROVIDED_IMAGE_OWNERS ?= 137112412989,099720109477
HTMX := node_modules/htmx.org/dist/htmx.min.js
# axe-core: injected by the browser tests to check accessibility, never served.
AXE := node_modules/axe-core/axe.min.js
# The console's own credentials at the local EC2 endpoint (AWS's documented
# example key; the endpoint takes any key and acts in its default account).
# From them the console assumes each account's role, as it does at AWS.
LOCAL_ENDPOINT_CREDENTIALS := AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE \
	AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY AWS_EC2_METADATA_DISABLED=true

# Incremental compilation keeps 2.4 GB of state beside a debug build that a
# clean clone (CI) never reuses; on a small disk that state filled it during
# the tests, and PostgreSQL stopped. Set CARGO_INCREMENTAL=1 to keep it.
export CARGO_INCREMENTAL ?= 0

.PHONY: run test bench stop system-packages browser-packages lint

system-packages:
	@.ci/ensure-packages postgres=postgresql,postgresql-contrib psql=postgresql-client \
		pg_config=libpq-dev python3=python3 npm=nodejs,npm cc=build-essential curl=curl

browser-packages:
	@.ci/ensure-packages chromium=chromium chromedriver=chromium-driver cloud-init=cloud-init

$(HTMX) $(AXE) &: package.json package-lock.json | system-packages
	npm ci --no-audit --no-fund --loglevel=error
	touch $(HTMX) $(AXE)

$(LOCAL)/session.key:
	@mkdir -p $(LOCAL)
	@head -c 64 /dev/urandom | base64 -w0 > $@

# Seals the secrets of accounts reached with an access key (AES-256-GCM).
$(LOCAL)/secrets.key:
	@mkdir -p $(LOCAL)
	@umask 077; head -c 32 /dev/urandom | base64 -w0 > $@

# `make run DEMO=0` starts without demo data, in a database of its own:
# the console then prints its one-time set-up link.
RUN_DB := $(if $(filter 0,$(DEMO)),stratus_own,stratus)

run: system-packages $(HTMX) $(LOCAL)/session.key $(LOCAL)/secrets.key
	@url="$${DATABASE_URL:-}"; \
	if [ -z "$$url" ]; then \
		base=$$(.ci/local-pg start $(LOCAL)/pg); url="$$base/$(RUN_DB)"; \
		psql "$$base/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$(RUN_DB)'" | grep -q 1 \
			|| psql -q "$$base/postgres" -c "CREATE DATABASE $(RUN_DB)"; \
	fi; \
	endpoint="$${PROVIDER_ENDPOINT:-}"; \
	if [ -z "$$endpoint" ] && [ -z "$${AWS_ACCESS_KEY_ID:-}$${AWS_PROFILE:-}" ]; then \
		endpoint=$$(.ci/local-moto start $(LOCAL)/moto); \
		export $(LOCAL_ENDPOINT_CREDENTIALS); \
	fi; \
	cargo build --release --quiet; \
	$(if $(filter 0,$(DEMO)),echo "Stratus Console on http://$(BIND)  (open the set-up link it prints)",echo "Stratus Console on http://$(BIND)  (sign in: admin@acme.test / demo-password-1)"); \
	DATABASE_URL="$$url" BIND="$(BIND)" SESSION_KEY="$${SESSION_KEY:-$$(cat $(LOCAL)/session.key)}" \
		SECRETS_KEY="$${SECRETS_KEY:-$$(cat $(LOCAL)/secrets.key)}" \
		PROVIDER_ENDPOINT="$$endpoint" PROVIDED_IMAGE_OWNERS="$(PROVIDED_IMAGE_OWNERS)" \
		exec target/release/stratus-console $(if $(filter 0,$(DEMO)),,--demo)

# The suite runs against a fresh throw-away cluster without fsync, in memory
# when /dev/shm has room (.ci/local-pg; reset after a run that passed, kept
# with its server.log after one that failed); every test
# (or those TESTS selects, e.g. `make test TESTS="-E test(firewall)"`)
# clones its own database from the migrated template `stratus_template`.
# The build is the lint: clippy compiles the console's own crates as it
# checks them (.ci/clippy-deny), so the dependencies are compiled once, not
# once checked for `cargo clippy` and once built for the tests.
LINTED := RUSTC_WORKSPACE_WRAPPER=$(CURDIR)/.ci/clippy-deny
test: system-packages browser-packages $(HTMX) $(AXE)
	cargo fmt --check
	$(LINTED) cargo build --quiet --bins --tests
	@.ci/local-pg reset $(LOCAL)/pg-test; \
	base=$$(.ci/local-pg start $(LOCAL)/pg-test --fast --in-memory); \
	psql -q "$$base/postgres" -c "CREATE DATABASE stratus_template"; \
	DATABASE_URL="$$base/stratus_template" target/debug/stratus-console --migrate; \
	ec2=$$(MOTO_CATALOG=small .ci/local-moto start $(LOCAL)/moto 2); \
	tools=$$(.ci/api-tools $(LOCAL)/python); \
	status=0; TEST_DATABASE_URL="$$base" TEST_EC2_ENDPOINT="$$ec2" TEST_MOTO_SERVER=$(LOCAL)/moto/venv/bin/moto_server \
		TEST_API_TOOLS="$$tools" \
		$(LOCAL_ENDPOINT_CREDENTIALS) $(LINTED) cargo nextest run --no-fail-fast $(TESTS) || status=$$?; \
	if [ $$status -eq 0 ]; then .ci/local-pg reset $(LOCAL)/pg-test; else .ci/local-pg stop $(LOCAL)/pg-test; fi; \
	.ci/local-moto stop $(LOCAL)/moto tests; exit $$status

# Release build against 1,000,000 public and 10,000 own images; prints the figures.
bench: system-packages $(HTMX)
	@.ci/ensure-packages wrk=wrk pgbench=postgresql-client curl=curl
	.ci/bench/run

lint: $(HTMX)
	cargo fmt --check
	cargo clippy --quiet --all-targets -- -D warnings

stop:
	@.ci/local-pg stop $(LOCAL)/pg; .ci/local-pg stop $(LOCAL)/pg-test; .ci/local-pg stop $(LOCAL)/pg-bench
	@.ci/local-moto stop $(LOCAL)/moto
