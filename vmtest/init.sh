#!/bin/sh
# /init of the VM that vmtest/run.sh boots (busybox sh, PID 1, no systemd).
# Mounts what guardrun needs, with cgroup2 at /sys/fs/cgroup and the cpu,
# memory, pids and io controllers enabled for children of the root, runs
# the test binaries as root in the root cgroup, prints VMTEST lines on the
# serial console (ttyS0) and reboots, which ends QEMU (-no-reboot).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TMPDIR=/tmp
/bin/busybox --install -s 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /var/tmp /root && chmod 1777 /var/tmp
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo "+cpu +memory +pids +io" > /sys/fs/cgroup/cgroup.subtree_control
ip link set lo up

echo "VMTEST KERNEL $(uname -r)"
fstype=$(stat -f -c %t /sys/fs/cgroup) # 63677270: CGROUP2_SUPER_MAGIC
[ "$fstype" = 63677270 ] && fstype=cgroup2
echo "VMTEST CGROUP $fstype, controllers for children: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
echo "VMTEST LSM $(cat /sys/kernel/security/lsm 2>/dev/null)"

# A heartbeat: run.sh takes a console silent for 75 s for a frozen guest,
# not for a test that hangs (which its -test.timeout ends, with a dump).
(while sleep 10; do echo "VMTEST alive $(cut -d' ' -f1 /proc/uptime)"; done) &

run() {
  name=$1
  shift
  echo "VMTEST BEGIN $name"
  start=$(cut -d' ' -f1 /proc/uptime)
  (cd /tmp && "$@" 2>&1)
  rc=$?
  end=$(cut -d' ' -f1 /proc/uptime)
  if [ "$rc" = 0 ]; then verdict=PASS; else verdict="FAIL (exit $rc)"; fi
  echo "VMTEST RESULT $name $verdict in $(awk "BEGIN { printf \"%.0f\", $end - $start }") s"
}

# -test.v: every test's name and verdict in the log; the timeouts stay
# below run.sh's, so a hung test still prints its goroutines.
run sandbox env GUARDRUN_SANDBOX_HELPER=/vm/bin/helper /vm/sandbox.test -test.v -test.count=1 -test.timeout=150s
run vmtest env GUARDRUN_VMTEST_BIN=/vm/bin /vm/vmtest.test -test.v -test.count=1 -test.timeout=150s
echo "VMTEST DONE"
sync
reboot -f
