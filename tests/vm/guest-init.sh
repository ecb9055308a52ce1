#!/bin/sh
# PID 1 of a kernel-matrix guest: mount what netdrop needs, run the checks from the checkout on /dev/vdb, print
# results between markers on the console, power off. No network beyond the namespaces the lab creates.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mkdir -p /run/netns /var/run && mount -t tmpfs run /run && mkdir -p /run/netns
ln -sfn /run /var/run 2>/dev/null
ip link set lo up
mkdir -p /src && mount -o ro /dev/vdb /src
cp -a /src/. /tmp/netdrop && cd /tmp/netdrop
export PYTHONPATH=/tmp/netdrop:/opt/netdrop-deps NO_COLOR=1 COLUMNS=120 HOME=/tmp
echo "@@@ kernel $(uname -r)"
sh tests/vm/guest-run.sh 2>&1
echo "@@@ done"
sync
echo o > /proc/sysrq-trigger
sleep 30
