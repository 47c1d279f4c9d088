# The two commands of README.md:
#   make run   - install tools if missing, build fpgactl, doctor, then the whole local pipeline
#                (`fpgactl ci --build`): Chisel, lint, unit tests, functional scenarios at both widths
#                and a 2-seed open-flow build of ecp5-ci, cached by content hash; prints the summary
#   make test  - install tools if missing, go vet + go test (incl. the Ansible roles applied to a
#                throwaway host), `fpgactl ci --build` cold and again all cached, a bounded
#                differential fuzz run (RTL vs golden model), and a release of the CI build tagged,
#                verified and a tampered copy refused
# Also:
#   make ansible-test - ansible-lint --profile production on ansible/, then tests/ansible: the simulator,
#                lab_host and deploy_bitstream roles applied for real to a throwaway Debian 12 host
#                (debootstrap chroot + its own sshd in a network namespace; root; see ansible/README.md)
SHELL   := /bin/bash
GO      ?= go
BIN     := bin/fpgactl
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
# The version is padded to 64 characters with '_' (fpgactl trims it): stamps of one length keep the binary's
# layout, so a build of the same Go sources at another commit has the same content hash in `fpgactl ci`'s keys.
VERSION_STAMP := $(shell printf '%-64s' '$(VERSION)' | tr ' ' '_')
LDFLAGS := -X main.version=$(VERSION_STAMP) -X main.commit=$(COMMIT) -X main.date=$(DATE)
# Extra flags for `fpgactl test unit`, e.g. make test UNIT_FLAGS='--width 64'
UNIT_FLAGS ?=
# The pinned Ansible venv scripts/install-deps.sh makes.
ANSIBLE_BIN ?= /opt/fpgactl/ansible/bin
# Differential fuzzing in `make test`: frames per width, and a seed that is fixed per commit
# (reproducible) but moves with every commit (explores).
FUZZ_FRAMES ?= 4000
FUZZ_SEED   ?= $(shell printf '%d' 0x$$(git rev-parse --short=8 HEAD 2>/dev/null || echo 1))

.PHONY: run test deps build lint unit functional fuzz gotest ansible-test clean

run: deps build
	$(BIN) doctor
	$(BIN) ci --build
	@echo; cat .fpgactl/reports/ci.md

test: deps build gotest
	mkdir -p .fpgactl/reports
	# The branch pipeline on this clone (cold in CI): lint, unit, functional, 2-seed ecp5-ci build.
	# The summary is checked (and its table printed) rather than the exit status alone.
	$(BIN) ci --build --output json > .fpgactl/reports/ci.json || true
	python3 scripts/check-ci.py .fpgactl/reports/ci.json --build
	python3 scripts/check-build.py <($(BIN) build show $$(python3 scripts/check-ci.py .fpgactl/reports/ci.json --build-id) --output json) ecp5-ci 2
	# Nothing changed: every item must come from the cache.
	$(BIN) ci --build --output json > .fpgactl/reports/ci-cached.json || true
	python3 scripts/check-ci.py .fpgactl/reports/ci-cached.json --build --cached
	$(BIN) test fuzz --seed $(FUZZ_SEED) --frames $(FUZZ_FRAMES) --backpressure
	scripts/release-check.sh .fpgactl/reports/ci.json

deps:
	scripts/install-deps.sh

# Always rebuilt; the Go build cache makes it cheap.
build:
	$(GO) build -trimpath -buildvcs=false -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/fpgactl

gotest:
	$(GO) vet ./...
	# -count=1: several tests drive Verilator and yosys, whose changes Go's test cache cannot see.
	# tests/ansible applies roles to a debootstrap host: minutes when cold, hence the timeout.
	$(GO) test -count=1 -timeout 40m ./...

lint: build
	$(BIN) lint

unit: build
	$(BIN) test unit --keep-going $(UNIT_FLAGS)

functional: build
	$(BIN) test functional

fuzz: build
	$(BIN) test fuzz --seed $(FUZZ_SEED) --frames $(FUZZ_FRAMES) --backpressure

# Lint here (its output in full), so the Go test skips its own lint run.
ansible-test: deps
	cd ansible && PATH=$(ANSIBLE_BIN):$$PATH ansible-lint --profile production --strict
	FPGACTL_ANSIBLE_BIN=$(ANSIBLE_BIN) $(GO) test -count=1 -timeout 45m -skip '^TestAnsibleLint$$' ./tests/ansible/

clean:
	rm -rf bin .fpgactl
