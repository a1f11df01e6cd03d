#!/usr/bin/env bash
# netns_cluster.sh — an emulated cluster of N "nodes" on one machine, to rehearse multi-node jobs:
# each node is a network namespace with one address on a private bridge, its own host name, and
# links shaped to a rate. Open MPI launches ranks inside the nodes through this script (its `rsh`
# subcommand is the plm_rsh_agent, in place of ssh), and ranks talk over TCP only. Needs root.
# docs/scaling.md "An emulated cluster".
#
#   scripts/netns_cluster.sh up N [--rate RATE] [--mtu M] [--slots S] [--prefix P] [--subnet A.B.C]
#   scripts/netns_cluster.sh down [--prefix P]
#   scripts/netns_cluster.sh status [--prefix P]
#   scripts/netns_cluster.sh hostfile [--prefix P]          the hostfile's path (written by up)
#   scripts/netns_cluster.sh exec NODE CMD...              CMD inside NODE, with its host name and the MCA settings below
#   scripts/netns_cluster.sh mpirun [--prefix P] ARGS...   mpirun on the first node with the hostfile and the settings below
#   scripts/netns_cluster.sh link NODE up|down [--prefix P] take a node's link down (a fault) or up again
#   scripts/netns_cluster.sh rate RATE [--prefix P]        reshape every link (e.g. 1gbit, 500mbit; "off" = unshaped)
#   scripts/netns_cluster.sh rsh NODE CMD...               the launch agent Open MPI calls (not for users)
#
#   up: nodes PREFIX0 .. PREFIX(N-1) [P = hpn]: namespace PREFIXi, address A.B.C.(i+1)/24
#       [A.B.C = 10.213.0] on interface eth0, an /etc/hosts line per node (marked, removed by
#       down), a bridge PREFIXbr joining them, MTU M [1500], each link shaped with tbf to RATE in
#       both directions [unshaped]; hostfile with S slots per node [1]. On any failure up removes
#       what it made. The bridge has no address: no traffic leaves the namespaces.
#   The Open MPI settings (also exported by exec): OMPI_MCA_plm_rsh_agent="THIS rsh",
#   OMPI_MCA_btl=tcp,self (no shared memory, also not between ranks of one node; `mpirun --shm`,
#   or HPCLIP_NETNS_BTL, chooses vader,tcp,self), OMPI_MCA_btl_tcp_if_include=eth0,
#   OMPI_MCA_oob_tcp_if_include=eth0, OMPI_MCA_mpi_yield_when_idle=1 and a TCP keepalive of about
#   20 s for the launcher (each overridable from the environment). `netem` delay is not available
#   in this kernel: links have a rate, not a latency.
#
# Example:
#   scripts/netns_cluster.sh up 4 --rate 10gbit
#   scripts/netns_cluster.sh mpirun -np 4 --oversubscribe build/hpclip run conf/quickstart.cfg --run-dir runs/nodes4
#   scripts/netns_cluster.sh down
set -uo pipefail
SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
STATE_DIR=${HPCLIP_NETNS_STATE:-/run/hpclip-netns}
PREFIX=hpn SUBNET=10.213.0 RATE="" MTU=1500 SLOTS=1 SHM=0
die() { echo "netns_cluster.sh: $*" >&2; exit 2; }
say() { echo "netns_cluster.sh: $*" >&2; }

parse_common() { # sets PREFIX/RATE/MTU/SLOTS/SUBNET/SHM from options; leaves the rest in ARGS
  ARGS=()
  while [ $# -gt 0 ]; do
    case $1 in
      --prefix) [[ "${2:-}" =~ ^[a-z]{1,8}$ ]] || die "--prefix: 1-8 letters a-z"; PREFIX=$2; shift 2 ;;
      --rate) [[ "${2:-}" =~ ^([0-9]+(\.[0-9]+)?(bit|kbit|mbit|gbit)|off)$ ]] || die "--rate: e.g. 1gbit, 500mbit, 10gbit, off (got '${2:-}')"; RATE=$2; shift 2 ;;
      --mtu) [[ "${2:-}" =~ ^[0-9]+$ ]] && [ "$2" -ge 576 ] && [ "$2" -le 65535 ] || die "--mtu: 576..65535 (got '${2:-}')"; MTU=$2; shift 2 ;;
      --slots) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die "--slots: a positive integer (got '${2:-}')"; SLOTS=$2; shift 2 ;;
      --subnet) [[ "${2:-}" =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "--subnet: three octets, e.g. 10.213.0 (got '${2:-}')"; SUBNET=$2; shift 2 ;;
      --shm) SHM=1; shift ;;
      *) ARGS+=("$1"); shift ;;
    esac
  done
}

state_file() { echo "$STATE_DIR/$PREFIX.env"; }

# Run a command in a node's network namespace. nsenter joins only the network namespace; `ip
# netns exec` also remounts /sys in a new mount namespace, which fails in a chroot whose / is
# not a mount point (a fresh Debian chroot, some CI runners).
NETNS_DIR=/run/netns
in_ns() { # NS CMD...
  local ns=$1; shift
  nsenter --net="$NETNS_DIR/$ns" "$@"
}
load_state() {
  [ -r "$(state_file)" ] || die "no cluster '$PREFIX' is up (scripts/netns_cluster.sh up N --prefix $PREFIX)"
  # shellcheck disable=SC1090
  . "$(state_file)"
}
need_root() { [ "$(id -u)" = 0 ] || die "needs root (network namespaces, veth links and /etc/hosts)"; }

# tbf on one interface: burst of 1 ms at the rate (at least 64 KiB, a GSO segment), queue of 50 ms.
shape() { # NETNS_OR_EMPTY DEV RATE
  local ns=$1 dev=$2 rate=$3 run=()
  [ -n "$ns" ] && run=(in_ns "$ns")
  "${run[@]}" tc qdisc del dev "$dev" root 2>/dev/null
  [ "$rate" = off ] || [ -z "$rate" ] && return 0
  local bits
  bits=$(awk -v r="$rate" 'BEGIN { n = r + 0; u = r; sub(/^[0-9.]+/, "", u);
    m = (u == "gbit") ? 1e9 : (u == "mbit") ? 1e6 : (u == "kbit") ? 1e3 : 1; printf "%.0f", n * m }')
  local burst=$((bits / 8 / 1000)); [ "$burst" -lt 65536 ] && burst=65536
  "${run[@]}" tc qdisc add dev "$dev" root tbf rate "$rate" burst "$burst" latency 50ms ||
    { say "cannot shape $dev${ns:+ in $ns} to $rate (tc qdisc add ... tbf)"; return 1; }
}

# Is HOST reachable from inside namespace NS? A TCP connection to the discard port (nobody
# listens) is refused at once by a reachable host and times out otherwise; no ping needed.
# A new bridge port takes a moment to forward: up to 10 tries, a second apart.
reachable() { # NS HOST
  local t out
  for ((t = 0; t < 10; t++)); do
    out=$(in_ns "$1" timeout 2 bash -c "exec 3<>/dev/tcp/$2/9" 2>&1)
    [[ "$out" == *refused* ]] && return 0
    sleep 1
  done
  return 1
}

hosts_remove() { # rewrite /etc/hosts in place (it may be a bind mount: no rename)
  local marker="# hpclip-netns $PREFIX" tmp
  grep -qF "$marker" /etc/hosts 2>/dev/null || return 0
  tmp=$(mktemp) || return 1
  grep -vF "$marker" /etc/hosts >"$tmp" && cat "$tmp" >/etc/hosts
  rm -f "$tmp"
}

cmd_down() {
  need_root
  local n=0 i
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ "$ns" =~ ^${PREFIX}[0-9]+$ ]] || continue
    # processes still inside the node (a test's frozen ranks) would keep the namespace alive
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -CONT "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null && n=$((n + 1))
  done
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    [[ "$l" =~ ^${PREFIX}([0-9]+h|br)$ ]] && ip link del "$l" 2>/dev/null
  done
  hosts_remove
  if [ -e "$STATE_DIR/$PREFIX.netns-mount" ] && [ -z "$(ls -A "$NETNS_DIR" 2>/dev/null)" ]; then
    umount "$NETNS_DIR" 2>/dev/null; rmdir "$NETNS_DIR" 2>/dev/null
  fi
  rm -f "$STATE_DIR/$PREFIX.env" "$STATE_DIR/$PREFIX.hosts" "$STATE_DIR/$PREFIX.netns-mount"
  rmdir "$STATE_DIR" 2>/dev/null
  # what is left, if anything, is an error: down must leave nothing behind
  local left
  left=$( { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${PREFIX}[0-9]+$";
            ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^${PREFIX}([0-9]+h|br)$";
            grep -F "# hpclip-netns $PREFIX" /etc/hosts; } 2>/dev/null)
  [ -z "$left" ] || die "down: could not remove: $(echo "$left" | tr '\n' ' ')"
  say "down: cluster '$PREFIX' removed ($n nodes)"
}

cmd_up() {
  need_root
  local N=${ARGS[0]:-}
  [[ "$N" =~ ^[1-9][0-9]*$ ]] && [ "$N" -le 200 ] || die "up: number of nodes 1..200 (got '${N}')"
  [ ${#ARGS[@]} -eq 1 ] || die "up: unexpected argument '${ARGS[1]}'"
  [ -e "$(state_file)" ] && die "cluster '$PREFIX' is already up ($(state_file)); scripts/netns_cluster.sh down --prefix $PREFIX"
  if ip netns list 2>/dev/null | awk '{print $1}' | grep -qE "^${PREFIX}[0-9]+$" || ip link show "${PREFIX}br" >/dev/null 2>&1; then
    die "leftovers of a cluster '$PREFIX' exist (namespaces or bridge); scripts/netns_cluster.sh down --prefix $PREFIX"
  fi
  command -v ip >/dev/null && command -v tc >/dev/null || die "needs ip and tc (apt-get install iproute2)"
  command -v unshare >/dev/null && command -v nsenter >/dev/null || die "needs unshare and nsenter (util-linux)"
  # From here on a failure removes everything made so far.
  fail() { say "up: $*; removing what was made"; cmd_down >/dev/null 2>&1; exit 1; }
  mkdir -p "$STATE_DIR" || fail "cannot create $STATE_DIR"
  # `ip netns add` makes /run/netns a mount point when it is not one: down undoes that too
  mountpoint -q "$NETNS_DIR" || : >"$STATE_DIR/$PREFIX.netns-mount" || fail "cannot write $STATE_DIR"
  ip link add "${PREFIX}br" type bridge forward_delay 0 || fail "cannot create bridge ${PREFIX}br"
  ip link set "${PREFIX}br" mtu "$MTU" up || fail "cannot set up bridge ${PREFIX}br (MTU $MTU)"
  local i ns hostlines="" hf="$STATE_DIR/$PREFIX.hosts"
  : >"$hf" || fail "cannot write $hf"
  for ((i = 0; i < N; i++)); do
    ns=$PREFIX$i
    [ -n "${HPCLIP_NETNS_FAIL_AT:-}" ] && [ "$HPCLIP_NETNS_FAIL_AT" = "$i" ] && fail "test fault injection at node $i"
    ip netns add "$ns" || fail "cannot create namespace $ns"
    ip link add "${ns}h" mtu "$MTU" type veth peer name "${ns}n" mtu "$MTU" || fail "cannot create veth ${ns}h"
    ip link set "${ns}n" netns "$ns" || fail "cannot move ${ns}n into $ns"
    ip link set "${ns}h" master "${PREFIX}br" up || fail "cannot attach ${ns}h to ${PREFIX}br"
    in_ns "$ns" ip link set "${ns}n" name eth0 || fail "cannot rename ${ns}n to eth0 in $ns"
    in_ns "$ns" ip addr add "$SUBNET.$((i + 1))/24" dev eth0 || fail "cannot address eth0 in $ns"
    in_ns "$ns" ip link set eth0 up || fail "cannot bring up eth0 in $ns"
    in_ns "$ns" ip link set lo up || fail "cannot bring up lo in $ns"
    if [ -n "$RATE" ]; then
      shape "$ns" eth0 "$RATE" || fail "cannot shape $ns"
      shape "" "${ns}h" "$RATE" || fail "cannot shape ${ns}h"
    fi
    hostlines+="$SUBNET.$((i + 1)) $ns # hpclip-netns $PREFIX"$'\n'
    echo "$ns slots=$SLOTS" >>"$hf"
  done
  printf '%s' "$hostlines" >>/etc/hosts || fail "cannot add the nodes to /etc/hosts"
  cat >"$(state_file)" <<EOF || fail "cannot write $(state_file)"
NODES=$N
SUBNET=$SUBNET
RATE=${RATE:-off}
MTU=$MTU
SLOTS=$SLOTS
EOF
  # every node must reach every other one before we call the cluster up
  for ((i = 1; i < N; i++)); do
    reachable "${PREFIX}0" "$PREFIX$i" || fail "node ${PREFIX}0 cannot reach $PREFIX$i"
  done
  say "up: $N nodes ${PREFIX}0..$PREFIX$((N - 1)) on $SUBNET.0/24, MTU $MTU, rate ${RATE:-unshaped}; hostfile $hf"
}

cmd_status() {
  if [ ! -r "$(state_file)" ]; then echo "cluster '$PREFIX': down"; return 0; fi
  load_state
  echo "cluster '$PREFIX': $NODES nodes, $SUBNET.0/24, MTU $MTU, rate $RATE, $SLOTS slots each; hostfile $STATE_DIR/$PREFIX.hosts"
  local i
  for ((i = 0; i < NODES; i++)); do
    echo "  $PREFIX$i $SUBNET.$((i + 1)) link $(in_ns "$PREFIX$i" ip -br link show dev eth0 2>/dev/null | awk '{print $2}' || echo missing)" \
      "processes $(ip netns pids "$PREFIX$i" 2>/dev/null | wc -l)"
  done
}

mca_env() { # the Open MPI settings for running inside the cluster
  export OMPI_MCA_plm_rsh_agent="$SELF rsh"
  export OMPI_MCA_btl=${HPCLIP_NETNS_BTL:-$([ "$SHM" = 1 ] && echo vader,tcp,self || echo tcp,self)}
  export OMPI_MCA_btl_tcp_if_include=eth0 OMPI_MCA_oob_tcp_if_include=eth0
  # ranks that spin in MPI waits take the CPU the network stack needs to move packets between
  # namespaces (8 ms per small message instead of 0.1 ms on this machine): waiting ranks yield
  export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
  # a node cut off is noticed by mpirun's TCP keepalive in about 20 s, not 300 + 9 x 20 s
  export OMPI_MCA_oob_tcp_keepalive_time=${OMPI_MCA_oob_tcp_keepalive_time:-14}
  export OMPI_MCA_oob_tcp_keepalive_intvl=${OMPI_MCA_oob_tcp_keepalive_intvl:-2}
  export OMPI_MCA_oob_tcp_keepalive_probes=${OMPI_MCA_oob_tcp_keepalive_probes:-3}
  export HPCLIP_NETNS_PREFIX=$PREFIX
}

# Run CMD inside namespace NODE with NODE as host name (its own UTS namespace: Open MPI's session
# directories and hpclip's messages then name the node).
in_node() { # NODE CMD...
  local node=$1; shift
  ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$node" || die "no node '$node' (scripts/netns_cluster.sh status)"
  exec nsenter --net="$NETNS_DIR/$node" unshare --uts -- /bin/sh -c 'hostname "$0" && exec "$@"' "$node" "$@"
}

cmd="${1:-}"; [ $# -gt 0 ] && shift
case $cmd in
  up) parse_common "$@"; cmd_up ;;
  down) parse_common "$@"; [ ${#ARGS[@]} -eq 0 ] || die "down: unexpected argument '${ARGS[0]}'"; cmd_down ;;
  status) parse_common "$@"; cmd_status ;;
  hostfile) parse_common "$@"; load_state; echo "$STATE_DIR/$PREFIX.hosts" ;;
  exec)
    [ $# -ge 2 ] || die "exec NODE CMD..."
    node=$1; shift
    [[ "$node" =~ ^[a-z]{1,8}[0-9]+$ ]] && PREFIX=${HPCLIP_NETNS_PREFIX:-$(echo "$node" | sed 's/[0-9]*$//')}
    need_root; mca_env; in_node "$node" "$@" ;;
  mpirun)
    # options of ours first, then mpirun's
    while [ $# -gt 0 ]; do
      case $1 in
        --prefix) parse_common "$1" "$2"; shift 2 ;;
        --shm) SHM=1; shift ;;
        *) break ;;
      esac
    done
    need_root; load_state; mca_env
    in_node "${PREFIX}0" mpirun --hostfile "$STATE_DIR/$PREFIX.hosts" "$@" ;;
  rsh)
    # Open MPI calls AGENT HOST COMMAND-STRING (as for ssh: the string is run by a shell)
    [ $# -ge 2 ] || die "rsh NODE COMMAND (the launch agent Open MPI calls)"
    node=$1; shift
    in_node "$node" /bin/sh -c "$*" ;;
  link)
    parse_common "$@"; [ ${#ARGS[@]} -eq 2 ] || die "link NODE up|down"
    need_root
    [[ "${ARGS[1]}" =~ ^(up|down)$ ]] || die "link: up or down (got '${ARGS[1]}')"
    in_ns "${ARGS[0]}" ip link set eth0 "${ARGS[1]}" || die "cannot set the link of '${ARGS[0]}' ${ARGS[1]}" ;;
  rate)
    parse_common "$@"; [ ${#ARGS[@]} -eq 1 ] || die "rate RATE (e.g. 1gbit, off)"
    need_root; load_state
    parse_common --rate "${ARGS[0]}"
    for ((i = 0; i < NODES; i++)); do
      shape "$PREFIX$i" eth0 "$RATE" && shape "" "$PREFIX${i}h" "$RATE" || die "cannot reshape $PREFIX$i"
    done
    sed -i "s/^RATE=.*/RATE=$RATE/" "$(state_file)"
    say "rate: every link of '$PREFIX' now $RATE" ;;
  -h|--help|"") awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; [ -n "$cmd" ] ;;
  *) die "unknown command '$cmd' (try --help)" ;;
esac
