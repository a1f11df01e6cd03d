#!/usr/bin/env bash
# scripts/slurm_local.sh — a throw-away SLURM "cluster" on this one machine, to run
# jobs/slurm.sbatch for real (tests/jobs/slurm_local.sh; docs/jobs.md "Verified under SLURM").
#
#   scripts/slurm_local.sh start [DIR]   install (Debian, as root) and start munged, slurmctld and
#                                        two slurmd, nodes n1 and n2 of NCPU CPUs each, both on this
#                                        host (multiple-slurmd: ports 17001, 17002)
#   scripts/slurm_local.sh stop [DIR]    stop the slurmd, slurmctld and munged started by `start`
#   scripts/slurm_local.sh status [DIR]  sinfo / squeue
#
# DIR (default /tmp/hpclip-slurm) holds slurm.conf, the state, spool and log files; nothing is
# written to /etc except Debian's packages. Every SLURM command then needs
#   export SLURM_CONF=DIR/slurm.conf
# (`start` prints it). Environment: NCPU (CPUs per node, default 1), NODES (default 2).
# Root only: the daemons run as root (SlurmUser=root), jobs run as the submitting user.
# Not a production setup: no accounting database (sacct is unavailable; finished jobs stay in
# `scontrol show job` for an hour and in DIR/log/jobcomp.txt), no cgroups (proctrack/linuxproc).
set -euo pipefail
cmd=${1:-}
dir=${2:-/tmp/hpclip-slurm}
ncpu=${NCPU:-1}
nodes=${NODES:-2}
conf=$dir/slurm.conf
die() { echo "slurm_local.sh: $*" >&2; exit 2; }

start() {
  [ "$(id -u)" = 0 ] || die "run as root (it starts the SLURM daemons)"
  if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
     || ! command -v munged >/dev/null; then
    echo "slurm_local.sh: installing Debian's SLURM (slurmctld slurmd slurm-client munge)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
  fi
  mkdir -p "$dir/state" "$dir/log" "$dir/spool"
  local host; host=$(hostname -s)
  {
    echo "# written by scripts/slurm_local.sh: $nodes nodes x $ncpu CPUs, all on $host"
    echo "ClusterName=hpclip-local"
    echo "SlurmctldHost=$host"
    echo "SlurmctldPort=16817"
    echo "SlurmUser=root"
    echo "SlurmdUser=root"
    echo "AuthType=auth/munge"
    echo "CredType=cred/munge"
    echo "StateSaveLocation=$dir/state"
    echo "SlurmdSpoolDir=$dir/spool/%n"
    echo "SlurmctldPidFile=$dir/slurmctld.pid"
    echo "SlurmdPidFile=$dir/slurmd-%n.pid"
    echo "SlurmctldLogFile=$dir/log/slurmctld.log"
    echo "SlurmdLogFile=$dir/log/slurmd-%n.log"
    echo "ProctrackType=proctrack/linuxproc"
    echo "TaskPlugin=task/affinity"
    echo "SelectType=select/cons_tres"
    echo "SelectTypeParameters=CR_Core"
    echo "MpiDefault=none"
    echo "SchedulerType=sched/backfill"
    echo "ReturnToService=2"
    echo "JobRequeue=1"
    echo "MinJobAge=3600"
    echo "KillWait=30"
    echo "InactiveLimit=0"
    echo "SlurmdTimeout=300"
    # Per-node temporary directory: the PMIx plugin (srun --mpi=pmix) makes its client directory
    # spmix_appdir_UID_JOB.STEP there, which would collide between two slurmd of one host in /tmp.
    echo "TmpFS=$dir/tmp/%n"
    echo "JobCompType=jobcomp/filetxt"
    echo "JobCompLoc=$dir/log/jobcomp.txt"
    echo "AccountingStorageType=accounting_storage/none"
    echo "JobAcctGatherType=jobacct_gather/none"
    local i
    # Every slurmd sees all $total cores of the machine; core specialisation (CpuSpecList: cores
    # kept from jobs) leaves node n<i> its own NCPU cores, so the nodes' ranks do not share cores
    # while nodes x NCPU <= the cores of the machine.
    local total c spec
    total=$(nproc --all)
    for i in $(seq 1 "$nodes"); do
      spec=""
      for c in $(seq 0 $((total - 1))); do
        if [ $((nodes * ncpu)) -le "$total" ] && [ $c -ge $(((i - 1) * ncpu)) ] && [ $c -lt $((i * ncpu)) ]; then continue; fi
        spec=${spec:+$spec,}$c
      done
      if [ $((nodes * ncpu)) -le "$total" ] && [ -n "$spec" ]; then
        echo "NodeName=n$i NodeHostname=$host NodeAddr=127.0.0.1 Port=$((17000 + i)) CPUs=$total Sockets=1 CoresPerSocket=$total ThreadsPerCore=1 CpuSpecList=$spec RealMemory=2000 State=UNKNOWN"
      else
        echo "NodeName=n$i NodeHostname=$host NodeAddr=127.0.0.1 Port=$((17000 + i)) CPUs=$ncpu Sockets=1 CoresPerSocket=$ncpu ThreadsPerCore=1 RealMemory=2000 State=UNKNOWN"
      fi
    done
    echo "PartitionName=local Nodes=n[1-$nodes] Default=YES MaxTime=INFINITE State=UP"
  } >"$conf"
  export SLURM_CONF=$conf
  # munge: one daemon per host; started as its own user unless one already answers.
  if ! munge -n </dev/null >/dev/null 2>&1; then
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    [ -s /etc/munge/munge.key ] || { mungekey -c >/dev/null 2>&1 || create-munge-key -f; chown munge:munge /etc/munge/munge.key; }
    runuser -u munge -- /usr/sbin/munged
    sleep 1
    munge -n </dev/null | unmunge >/dev/null || die "munged does not answer"
    touch "$dir/munged.started"
  fi
  if ! [ -s "$dir/slurmctld.pid" ] || ! kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    slurmctld -f "$conf" -c   # -c: a clean start (no old jobs from a previous DIR state)
  fi
  for i in $(seq 1 "$nodes"); do
    if ! [ -s "$dir/slurmd-n$i.pid" ] || ! kill -0 "$(cat "$dir/slurmd-n$i.pid")" 2>/dev/null; then
      mkdir -p "$dir/spool/n$i" "$dir/tmp/n$i"
      slurmd -f "$conf" -N "n$i"
    fi
  done
  # wait until every node is idle
  local t
  for t in $(seq 1 60); do
    [ "$(sinfo -h -o '%t' -N 2>/dev/null | grep -c '^idle')" = "$nodes" ] && break
    sleep 1
  done
  sinfo -N -o '%N %t %c %m' || true
  [ "$(sinfo -h -o '%t' -N | grep -c '^idle')" = "$nodes" ] || die "nodes not idle after 60 s (see $dir/log/)"
  echo "slurm_local.sh: SLURM $(sinfo -V | awk '{print $2}') up: $nodes nodes x $ncpu CPUs on $host; now: export SLURM_CONF=$conf"
}

stop() {
  export SLURM_CONF=$conf
  local f p
  for f in "$dir"/slurmd-*.pid "$dir/slurmctld.pid"; do
    [ -s "$f" ] || continue
    p=$(cat "$f")
    if kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p"
      for _ in $(seq 1 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
    fi
    rm -f "$f"
  done
  # munged: only the one this script started (its pid file under /run/munge)
  if [ -f "$dir/munged.started" ] && [ -s /run/munge/munged.pid ]; then
    rm -f "$dir/munged.started"
    p=$(cat /run/munge/munged.pid)
    kill -0 "$p" 2>/dev/null && kill -TERM "$p"
  fi
  echo "slurm_local.sh: stopped (packages and $dir kept)"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) export SLURM_CONF=$conf; sinfo -N; squeue ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; [ -n "$cmd" ] && exit 2 || exit 0 ;;
esac
