#!/bin/sh
# PID 1 of a kernel-matrix guest (exec'd by the image's stub with the checkout mounted on /src): mount what netdrop
# needs, run the checks, print results between markers on the console, power off. No network but the lab's.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs tmp /tmp
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
mount -t debugfs nodev /sys/kernel/debug 2>/dev/null  # as on a normal boot (bcc 0.18 detaches kprobes there)
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mkdir -p /dev/pts && mount -t devpts -o ptmxmode=0666 devpts /dev/pts 2>/dev/null  # terminals (the tmux test)
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
mkdir -p /run/netns /var/run && mount -t tmpfs run /run && mkdir -p /run/netns
ln -sfn /run /var/run 2>/dev/null
ip link set lo up
cp -a /src/. /tmp/netdrop && cd /tmp/netdrop
# NETDROP_VM_GUEST: the tests skip what an emulated CPU cannot do (a 100k drops/s flood), and say so.
export PYTHONPATH=/tmp/netdrop:/opt/netdrop-deps NO_COLOR=1 COLUMNS=120 HOME=/tmp NETDROP_VM_GUEST=1
# netdrop.steps=cost on the kernel command line: only the hook-cost measurement (make bench)
# netdrop.nic=...: the harness joined an e1000e to a tap on the host (tests/vm/nic.py): run that scenario too
for arg in $(cat /proc/cmdline); do case "$arg" in
  netdrop.steps=*) export NETDROP_STEPS="${arg#netdrop.steps=}" ;;
  netdrop.nic=*) export NETDROP_NIC="${arg#netdrop.nic=}" ;;
esac; done
echo "@@@ kernel $(uname -r)"
sh tests/vm/guest-run.sh 2>&1
echo "@@@ done"
sync
echo o > /proc/sysrq-trigger
sleep 30
