# The two commands of README.md:
#   make run   - install tools if missing, build fpgactl, doctor, lint, compile the example rules,
#                unit tests, functional scenarios on the simulated board at both widths
#   make test  - install tools if missing, go vet + go test, lint, unit tests, functional scenarios,
#                a bounded differential fuzz run (RTL vs golden model), a 4-seed open-flow build
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
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
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
	$(BIN) lint
	$(BIN) rules compile tests/rules/example.yaml
	$(BIN) test unit --keep-going $(UNIT_FLAGS)
	$(BIN) test functional

test: deps build gotest
	$(BIN) lint
	$(BIN) test unit --keep-going $(UNIT_FLAGS)
	# JSON kept as a CI artifact; the summary fields are echoed; a failed scenario fails the target.
	mkdir -p .fpgactl/reports
	set -o pipefail; $(BIN) test functional --output json | tee .fpgactl/reports/functional.json \
	  | grep -E '^  "(passed|failed|frames|mismatches)"'
	$(BIN) test fuzz --seed $(FUZZ_SEED) --frames $(FUZZ_FRAMES) --backpressure
	# The open flow for real: four place-and-route seeds of the CI-sized filter (fpgactl.yaml: ecp5-ci).
	$(BIN) build --target ecp5-ci --seeds 1-4 --output json > .fpgactl/reports/build.json
	python3 scripts/check-build.py .fpgactl/reports/build.json ecp5-ci 4

deps:
	scripts/install-deps.sh

# Always rebuilt; the Go build cache makes it cheap.
build:
	$(GO) build -trimpath -buildvcs=false -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/fpgactl

gotest:
	$(GO) vet ./...
	# -count=1: several tests drive Verilator and yosys, whose changes Go's test cache cannot see.
	$(GO) test -count=1 ./...

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
