#!/usr/bin/env bash
# Installs the Debian packages the test suite and the benchmark drive (netns hosts, traffic, captures, a real etcd,
# the userspace tunnels the benchmark compares with) when run as root; otherwise stops with the list of what is
# missing.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have ip       || need+=(iproute2)
have ping     || need+=(iputils-ping)
have sysctl   || need+=(procps)
have openssl  || need+=(openssl)
have iperf3   || need+=(iperf3)
have ethtool  || need+=(ethtool)
have tcpdump  || need+=(tcpdump)
have etcd     || need+=(etcd-server)
have etcdctl  || need+=(etcd-client)
have sockperf || need+=(sockperf)
# The benchmark's userspace-tunnel modes (bench/peers/).
have tincd        || need+=(tinc)
have openvpn      || need+=(openvpn)
have wireguard-go || need+=(wireguard-go)
have wg           || need+=(wireguard-tools)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "vxtun tests need these Debian packages: ${need[*]}" >&2
  echo "install them with: sudo apt-get install -y ${need[*]}   (or run the tests as root)" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
