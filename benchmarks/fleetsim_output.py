"""What a simulated host prints for the probe: probe.sh's output, synthesized in Python.

`SimHostState.answer(command, now)` returns what `remote_scripts/probe.sh`
would print on a real server, byte for byte in its format (sections in the
script's order, `head -v` file headers, the kernel's column widths for
/proc/diskstats and /proc/net/dev, df's table, nvidia-smi's CSV, systemctl's
KEY=VALUE blocks), with no shell and no subprocess. The format was taken from
real runs of probe.sh on Debian 12 (dash and bash, with and without the fake
nvidia-smi/systemctl of collector/demo_bin).

Each host is drawn once from (seed, index) by `HostProfile`: CPU count,
memory, 2-12 whole disks (sd*, nvme*) with partitions plus loop devices,
2-10 interfaces (lo, eth*/ens*/eno*, docker0, veth*), 1-6 mounts, an OS, a
role with its services and processes, and for 20 % of hosts 1-8 GPUs. Its
state then evolves on every probe from the elapsed host time: CPU ticks,
disk and network counters advance at per-device rates with noise, memory
and load wander, disks fill slowly, GPUs go busy and idle (some run hot),
a watched service now and then fails and recovers.

Cost matters (one simulator process serves thousands of hosts): every
section is one %-format over a precomputed template, counters advance with
one random draw per device, and the static parts (os, df header, meminfo
labels) are built once per host. Measured on the 2-core EPYC: about 100 µs per
probe for this module (100-160 µs over several runs on the shared machine;
`python benchmarks/fleetsim_output.py`).
"""
from __future__ import annotations

import math
import random
import shlex
import uuid
from dataclasses import dataclass

GPU_MODELS = (  # name, MiB, power limit W, idle W, has a fan reading
    ("NVIDIA H100 80GB HBM3", 81559, 700.0, 70.0, False),
    ("NVIDIA A100-SXM4-80GB", 81920, 400.0, 55.0, False),
    ("NVIDIA A100-PCIE-40GB", 40960, 250.0, 35.0, False),
    ("NVIDIA L40S", 46068, 350.0, 30.0, True),
    ("Tesla V100-SXM2-32GB", 32768, 300.0, 40.0, False),
    ("NVIDIA GeForce RTX 4090", 24564, 450.0, 20.0, True),
)
OSES = (  # os-release text, kernel release
    ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
     'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL="https://www.debian.org/"\n'
     'SUPPORT_URL="https://www.debian.org/support"\nBUG_REPORT_URL="https://bugs.debian.org/"', "6.1.0-28-amd64"),
    ('PRETTY_NAME="Ubuntu 22.04.5 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nVERSION="22.04.5 LTS (Jammy Jellyfish)"\n'
     'VERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\nHOME_URL="https://www.ubuntu.com/"\n'
     'SUPPORT_URL="https://help.ubuntu.com/"\nBUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"\n'
     'PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"\n'
     'UBUNTU_CODENAME=jammy', "5.15.0-126-generic"),
    ('PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION="24.04.1 LTS (Noble Numbat)"\n'
     'VERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\nHOME_URL="https://www.ubuntu.com/"\n'
     'SUPPORT_URL="https://help.ubuntu.com/"\nBUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"\n'
     'UBUNTU_CODENAME=noble\nLOGO=ubuntu-logo', "6.8.0-51-generic"),
    ('NAME="Rocky Linux"\nVERSION="9.5 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.5"\n'
     'PLATFORM_ID="platform:el9"\nPRETTY_NAME="Rocky Linux 9.5 (Blue Onyx)"\nANSI_COLOR="0;32"\n'
     'LOGO="fedora-logo-icon"\nCPE_NAME="cpe:/o:rocky:rocky:9::baseos"\nHOME_URL="https://rockylinux.org/"',
     "5.14.0-503.15.1.el9_5.x86_64"),
)
ROLES = {  # services watched on such a host, top processes
    "web": (("nginx.service", "ssh.service", "cron.service", "node_exporter.service"),
            ("nginx", "php-fpm8.2", "node_exporter", "sshd", "systemd-journal", "rsyslogd", "cron")),
    "db": (("postgresql@15-main.service", "ssh.service", "pgbouncer.service"),
           ("postgres", "pgbouncer", "node_exporter", "sshd", "systemd-journal", "rsyslogd")),
    "cache": (("redis-server.service", "ssh.service", "memcached.service"),
              ("redis-server", "memcached", "node_exporter", "sshd", "systemd-journal")),
    "batch": (("docker.service", "containerd.service", "ssh.service", "cron.service"),
              ("java", "python3", "dockerd", "containerd", "containerd-shim", "sshd")),
    "k8s": (("kubelet.service", "containerd.service", "ssh.service"),
            ("kubelet", "containerd", "kube-proxy", "coredns", "calico-node", "containerd-shim")),
    "gpu": (("nvidia-persistenced.service", "docker.service", "ssh.service", "slurmd.service"),
            ("python3", "python3", "nvidia-persistenced", "dockerd", "slurmd", "sshd", "pt_data_worker")),
}
NET_HEADER = ("Inter-|   Receive                                                |  Transmit\n"
              " face |bytes    packets errs drop fifo frame compressed multicast|"
              "bytes    packets errs drop fifo colls carrier compressed")
COMMON_PROCS = ("kworker/0:1-events", "systemd", "dbus-daemon", "irqbalance", "chronyd", "polkitd", "agetty",
                "udisksd", "rcu_preempt", "ksoftirqd/0")
HZ = 100  # USER_HZ: /proc/stat ticks a second


@dataclass(frozen=True)
class ProbeArgs:
    """What probe.sh was asked for (its options, parsed as its fw_main does)."""

    want_os: bool = False
    want_ps: bool = False
    want_gpu: bool = False
    want_gpu_apps: bool = False
    df_all: bool = False
    mounts: tuple[str, ...] = ("/",)
    units: tuple[str, ...] = ()
    catalog: bool = False


def parse_command(command: str, cache: dict[str, ProbeArgs | None]) -> ProbeArgs | None:
    """The probe's arguments from an exec request (`set -- 'ARG'...` + the script); None: not the probe.

    The arguments end at the first newline outside single quotes (shlex.quote
    only uses those, and `-m` lists mounts one per line inside them).
    """
    if not command.startswith("set -- "):
        return ProbeArgs() if "fw_main" in command else None
    i, quoted = 7, False
    for i in range(7, len(command)):
        c = command[i]
        if c == "'":
            quoted = not quoted
        elif c == "\n" and not quoted:
            break
    head = command[7:i]
    if head in cache:
        return cache[head]
    parsed = None
    if "fw_main" in command:
        a = shlex.split(head)
        opts: dict = {"mounts": ("/",)}
        while a:
            x = a.pop(0)
            if x == "--":
                break
            if x == "-m" and a:
                opts["mounts"] = tuple(m for m in a.pop(0).split("\n") if m)
                opts["df_all"] = False
            elif x in ("-o", "-p", "-g", "-c", "-a", "-U"):
                key = {"-o": "want_os", "-p": "want_ps", "-g": "want_gpu", "-c": "want_gpu_apps", "-a": "df_all",
                       "-U": "catalog"}[x]
                opts[key] = True
            else:
                a.insert(0, x)
                break
        parsed = ProbeArgs(units=tuple(a), **opts)
    if len(cache) < 10_000:
        cache[head] = parsed
    return parsed


class HostProfile:
    """What one simulated server is made of; drawn once from (seed, index), so every run is the same."""

    def __init__(self, seed: int, index: int, gpu_share: float = 0.2) -> None:
        r = self.rng = random.Random(seed * 1_000_003 + index)
        self.index = index
        self.gpu_count = r.choice((1, 2, 2, 4, 4, 8, 8, 8, 3, 6)) if r.random() < gpu_share else 0
        self.role = "gpu" if self.gpu_count else r.choices(("web", "db", "cache", "batch", "k8s"),
                                                           (30, 15, 10, 20, 25))[0]
        self.hostname = f"{self.role}-{index:05d}"
        self.cpus = r.choice((64, 96, 128)) if self.gpu_count else r.choice((4, 8, 8, 16, 16, 32, 48, 64))
        self.mem_kb = self.cpus * r.choice((2, 4, 8)) * 1024 * 1024 - r.randrange(50_000, 400_000)
        self.swap_kb = r.choice((0, 0, 2 * 1024 * 1024, 8 * 1024 * 1024))
        self.os_release, self.kernel = r.choice(OSES)
        self.epoch_builtin = r.random() < 0.7  # bash/busybox login shell: the probe prints the epoch
        self.units, self.procs = ROLES[self.role]
        self.base_util = r.choice((0.03, 0.05, 0.1, 0.2, 0.35, 0.6, 0.85))
        self.docker = self.role in ("batch", "k8s", "gpu") or r.random() < 0.2
        self._disks(r)
        self._nics(r)
        self._netclass()
        self._mounts(r)
        self._gpus(r)

    def _disks(self, r: random.Random) -> None:
        """Whole disks (2-12), each with 0-3 partitions, plus loop devices; rows as the kernel lists them."""
        n = r.randint(2, 12)
        nvme = r.randint(0, n) if r.random() < 0.7 else 0
        rows: list[tuple[int, int, str, str | None]] = []  # major, minor, name, parent
        minor = 0
        for k in range(nvme):
            rows.append((259, minor, f"nvme{k}n1", None))
            minor += 1
            for p in range(1, r.choice((0, 1, 1, 2, 3)) + 1):
                rows.append((259, minor, f"nvme{k}n1p{p}", f"nvme{k}n1"))
                minor += 1
        for k in range(n - nvme):
            name = "sd" + "abcdefghijklmnop"[k]
            rows.append((8, 16 * k, name, None))
            for p in range(1, r.choice((0, 1, 1, 2, 3)) + 1):
                rows.append((8, 16 * k + p, f"{name}{p}", name))
        loops = [(7, k, f"loop{k}", None) for k in range(r.choice((0, 0, 2, 4, 8)))]
        self.disk_rows = sorted(loops + rows, key=lambda x: (x[0] != 7, x[0] == 259, x[1]))
        self.whole_disks = n

    def _nics(self, r: random.Random) -> None:
        phys = r.choice((["eth0"], ["eth0", "eth1"], ["ens3"], ["eno1", "eno2"], ["ens1f0", "ens1f1"]))
        if self.gpu_count >= 4:
            phys = phys + ["ib0"]
        virt = ["docker0"] + [f"veth{r.getrandbits(28):07x}" for _ in range(r.randint(0, 6))] if self.docker else []
        self.nics = ["lo", *phys, *virt][:10]

    def _netclass(self) -> None:
        """The probe's netclass lines: physical NICs have a device, docker0 is a bridge, its veths are ports."""
        facts = [f"{n}/device\n" for n in self.nics if not n.startswith(("lo", "docker", "veth"))]
        facts += [f"{n}/bridge\n" for n in self.nics if n == "docker0"]
        facts += [f"{n}/brport\n" for n in self.nics if n.startswith("veth")]
        self.netclass = "".join(f"{n}\n" for n in self.nics) + "".join(facts)

    def _mounts(self, r: random.Random) -> None:
        """(source, fstype, mount, size kB); the first is /, then 0-5 more disk mounts."""
        root = "/dev/nvme0n1p2" if any(x[2] == "nvme0n1p2" for x in self.disk_rows) else "/dev/sda1"
        extra = [("/dev/sda2" if root != "/dev/sda2" else "/dev/sdb1", "ext4", "/boot", 1_000_000),
                 ("/dev/md0", "xfs", "/data", r.choice((4, 8, 16, 32)) * 1_000_000_000),
                 ("/dev/sdb1", "xfs", "/scratch", r.choice((2, 4)) * 1_000_000_000),
                 ("/dev/mapper/vg0-var", "ext4", "/var", 200_000_000),
                 ("/dev/nvme1n1", "xfs", "/var/lib/docker", 1_800_000_000)]
        self.mounts = [(root, r.choice(("ext4", "xfs")), "/", r.choice((100, 250, 500, 1000)) * 1_000_000)]
        self.mounts += r.sample(extra, r.randint(0, 5))
        self.pseudo = [("udev", "devtmpfs", "/dev", self.mem_kb // 2), ("tmpfs", "tmpfs", "/run", self.mem_kb // 10),
                       ("tmpfs", "tmpfs", "/dev/shm", self.mem_kb // 2), ("tmpfs", "tmpfs", "/run/lock", 5120)]
        self.overlays = [f"/var/lib/docker/overlay2/{r.getrandbits(256):064x}/merged"
                         for _ in range(r.randint(0, 8) if self.docker else 0)]

    def _gpus(self, r: random.Random) -> None:
        self.gpu_model = r.choice(GPU_MODELS[:5] if self.gpu_count >= 4 else GPU_MODELS)
        self.gpu_uuids = [f"GPU-{uuid.UUID(int=r.getrandbits(128))}" for _ in range(self.gpu_count)]
        self.gpu_bus = [f"00000000:{b:02X}:00.0" for b in sorted(r.sample(range(0x10, 0xF0), self.gpu_count))]
        self.lab_users = r.sample(("alice", "bob", "chen.wei", "li.na", "wang.xiaoming", "svc-train"), 3)
        # degrees per % of utilisation; ~1 GPU in 8 runs hot enough to pass 80 °C when busy
        self.gpu_heat = [r.uniform(0.5, 0.6) if r.random() < 0.12 else r.uniform(0.25, 0.42)
                         for _ in range(self.gpu_count)]


def _walk(v: float, target: float, dt: float, vol: float, r: random.Random, lo: float, hi: float) -> float:
    """Mean-reverting random walk, clamped."""
    v += (target - v) * min(1.0, dt / 120) + r.gauss(0, vol * math.sqrt(max(dt, 0.1) / 5))
    return lo if v < lo else hi if v > hi else v


class SimHostState:
    """One host's counters and gauges, advanced on every probe; `answer` renders the probe output."""

    def __init__(self, profile: HostProfile, now: float) -> None:
        self.p = p = profile
        self.r = r = random.Random(profile.rng.random())
        self._parse_cache: dict[str, ProbeArgs | None] = {}
        self.boot(now - r.uniform(3 * 86400, 400 * 86400), now)
        self.mem_used = r.uniform(0.15, 0.8)
        self.load = [p.cpus * p.base_util] * 3
        self.pid_next = r.randrange(20_000, 4_000_000)
        self.unit_failed: dict[str, bool] = {}
        self.gpu_util = [r.choice((0.0, 0.0, 60.0, 95.0)) for _ in range(p.gpu_count)]
        self.gpu_mem = [r.uniform(0.0, 0.9) for _ in range(p.gpu_count)]
        self.fs_used = [r.uniform(0.2, 0.85) for _ in p.mounts]
        self.fs_rate = [r.choice((0.0, 1e-7, 1e-6, 5e-6)) for _ in p.mounts]  # share of the fs per second
        self.ps_cpu = sorted((r.uniform(0.0, 60.0) * 0.55 ** k for k in range(15)), reverse=True)  # lifetime %
        names = (list(p.procs) + list(COMMON_PROCS))[:15]
        self.ps_rows = [(r.randrange(300, 4_000_000), name, r.randrange(0, 4_000_000)) for name in names]

    def boot(self, boot_at: float, now: float) -> None:
        """(Re)start the counters as if the host booted at `boot_at` (a reboot: a few seconds ago)."""
        p, r = self.p, self.r
        self.boot_at = boot_at
        up = max(0.0, now - boot_at)
        self.cpu_util = p.base_util
        busy = int(up * HZ * p.cpus * p.base_util)
        total = int(up * HZ * p.cpus)
        self.ticks = [busy * 75 // 100, busy // 100, busy * 18 // 100, total - busy, busy // 50, 0,
                      busy * 3 // 100, busy // 200 if r.random() < 0.3 else 0, 0, 0]
        self.idle_s = (total - busy) / HZ
        # per device: reads/s, writes/s (0 for loops after boot); counters start at rate * uptime
        self.dev_rate = []
        self.dev = []
        parts = {}
        for row in p.disk_rows:
            parts[row[3]] = parts.get(row[3], 0) + 1
        whole: dict[str, tuple[float, float, float, float, float]] = {}
        for major, _minor, name, parent in p.disk_rows:
            if parent is None:  # a whole disk: its own rates; its partitions share them out
                rr, wr = (0.0, 0.0) if major == 7 else (r.uniform(0.5, 400.0), r.uniform(1.0, 600.0))
                rs, lat, base = r.uniform(8, 256), r.uniform(0.05, 2.0), up * r.uniform(0.5, 1.5)
                whole[name] = (rr, wr, rs, lat, base)
            else:
                share = r.uniform(0.5, 0.95) / parts[parent]
                rr, wr, rs, lat, base = whole[parent]
                rr, wr = rr * share, wr * share
            self.dev_rate.append((rr, wr, rs, lat))
            self.dev.append([int(rr * base), int(rr * base * 0.1), int(rr * base * rs), int(rr * base * lat),
                             int(wr * base), int(wr * base * 0.3), int(wr * base * rs * 0.7),
                             int(wr * base * lat * 2), 0, int(base * 300), int(base * 600), 0, 0, 0, 0,
                             int(base * 2), int(base * 3)])
            if major == 7:  # an idle loop device; a snap's was read once at boot
                self.dev[-1] = [0] * 17
                if r.random() < 0.5:
                    self.dev[-1][0:4] = [r.randrange(40, 900), 0, r.randrange(1000, 60_000), r.randrange(10, 300)]
                    self.dev[-1][9:11] = [self.dev[-1][3] + 8, self.dev[-1][3]]
        self.nic_rate = []
        self.nic = []
        for name in p.nics:
            scale = 2e6 if name == "lo" else 3e5 if name.startswith(("docker", "veth")) else 2e7
            rx, tx = r.uniform(0.01, 1.0) * scale, r.uniform(0.01, 1.0) * scale
            if name == "lo":
                tx = rx
            self.nic_rate.append((rx, tx, r.uniform(200, 1400)))
            base = up * r.uniform(0.5, 1.5)
            pk = self.nic_rate[-1][2]
            self.nic.append([int(rx * base), int(rx * base / pk), 0, int(base * 0.001), 0, 0, 0, int(base * 0.01),
                             int(tx * base), int(tx * base / pk), 0, 0, 0, 0, 0, 0])
        self.last_t = now

    # ------------------------------------------------------------------ evolution
    def advance(self, now: float) -> None:
        """Move every counter and gauge from the last probe to `now` (host time = this machine's clock)."""
        dt = now - self.last_t
        if dt <= 0:
            return
        self.last_t = now
        p, r = self.p, self.r
        self.cpu_util = u = _walk(self.cpu_util, p.base_util, dt, 0.04, r, 0.005, 0.99)
        total = dt * HZ * p.cpus
        busy = total * u
        iow = busy * 0.02
        t = self.ticks
        t[0] += int(busy * 0.75)
        t[1] += int(busy * 0.01)
        t[2] += int(busy * 0.18)
        idle = int(total - busy - iow)
        t[3] += idle
        t[4] += int(iow)
        t[6] += int(busy * 0.03)
        self.idle_s += idle / HZ
        k = min(1.0, dt / 60)
        target = p.cpus * u * r.uniform(0.9, 1.1)
        self.load = [self.load[0] + (target - self.load[0]) * k, self.load[1] + (target - self.load[1]) * k / 5,
                     self.load[2] + (target - self.load[2]) * k / 15]
        self.mem_used = _walk(self.mem_used, 0.5, dt, 0.01, r, 0.05, 0.97)
        self.pid_next += int(dt * r.uniform(0.5, 30))
        for d, (rr, wr, rs, lat) in zip(self.dev, self.dev_rate):
            if rr or wr:
                f = dt * r.uniform(0.3, 1.7)
                nr, nw = int(rr * f), int(wr * f)
                inc = (nr, nr // 10, int(nr * rs), int(nr * lat), nw, nw // 3, int(nw * rs * 0.7), int(nw * lat * 2))
                d[:8] = [a + b for a, b in zip(d, inc)]
                d[8] = r.randrange(0, 3)
                d[9] += int(min(dt * 1000, (nr + nw) * lat))
                d[10] += int((nr + nw) * lat * 1.3)
                d[15] += int(dt * 2)
                d[16] += int(dt * 3)
        for n, (rx, tx, pk) in zip(self.nic, self.nic_rate):
            f = dt * r.uniform(0.2, 1.8)
            brx, btx = int(rx * f), int(tx * f)
            n[0] += brx
            n[1] += int(brx / pk) + 1
            n[8] += btx
            n[9] += int(btx / pk) + 1
        for i, rate in enumerate(self.fs_rate):
            used = self.fs_used[i] + rate * dt
            self.fs_used[i] = used if used < 0.97 else 0.55  # somebody cleaned up
        for i in range(p.gpu_count):
            g = self.gpu_util[i]
            if r.random() < dt / 600:  # a job starts or ends about every 10 minutes
                g = 0.0 if g > 5 else r.uniform(60, 100)
                self.gpu_mem[i] = r.uniform(0.0, 0.05) if g == 0 and r.random() < 0.5 else r.uniform(0.3, 0.95)
            elif g > 5:
                g = min(100.0, max(20.0, g + r.gauss(0, 6)))
            self.gpu_util[i] = g

    # ------------------------------------------------------------------ rendering
    def answer(self, command: str, now: float) -> tuple[bytes, int]:
        """(stdout, exit status) of this host for an exec request, as probe.sh (or sh) would give them."""
        args = parse_command(command, self._parse_cache)
        if args is None:
            word = command.split(None, 1)[0] if command.strip() else "''"
            return f"sh: 1: {word[:60]}: not found\n".encode(), 127
        if args.catalog:
            return self.catalog().encode(), 0
        self.advance(now)
        return self.render(args, now).encode(), 0

    def render(self, a: ProbeArgs, now: float) -> str:
        p = self.p
        up = now - self.boot_at
        out = ["<<<epoch>>>\n%s\n<<<uptime>>>\n%.2f %.2f\n<<<stat>>>\ncpu  %d %d %d %d %d %d %d %d %d %d\n"
               "<<<loadavg>>>\n%.2f %.2f %.2f %d/%d %d\n<<<proc>>>\n==> /proc/meminfo <==\n"
               % (int(now) if p.epoch_builtin else "", up, self.idle_s, *self.ticks, *self.load,
                  1 + int(self.load[0] / 2), 180 + p.cpus * 4, self.pid_next),
               self.meminfo(), "\n==> /proc/diskstats <==\n", self.diskstats(),
               "\n==> /proc/net/dev <==\n", self.netdev(), "<<<pressure>>>\n", self.pressure(),
               "<<<netclass>>>\n", p.netclass]
        rc = []
        if a.want_os:
            out.append("<<<os>>>\n%d\n%.2f %.2f\n==> /etc/os-release <==\n%s\n\n==> /proc/sys/kernel/hostname <==\n"
                       "%s\n\n==> /proc/sys/kernel/ostype <==\nLinux\n\n==> /proc/sys/kernel/osrelease <==\n%s\n\n"
                       "==> /proc/sys/kernel/arch <==\nx86_64\n\n==> /sys/devices/system/cpu/online <==\n0-%d\n"
                       % (int(now), up, self.idle_s, p.os_release, p.hostname, p.kernel, p.cpus - 1))
        if a.want_gpu:
            if p.gpu_count:
                out.append("<<<nvidia>>>\n" + self.nvidia())
                rc.append("nvidia 0\n")
                if a.want_gpu_apps:
                    apps, owners = self.gpu_apps(now)
                    out.append("<<<gpu_apps>>>\n" + apps + "<<<gpu_ps>>>\n" + owners)
                    rc.append("gpu_apps 0\ngpu_ps 0\n")
            else:
                out.append("<<<nvidia>>>\nabsent\n")
        if a.units:
            out.append("<<<systemd>>>\n" + self.systemd(a.units))
            rc.append("systemd 0\n")
        if a.want_ps:
            out.append("<<<ps>>>\n" + self.ps())
            rc.append("ps 0\n")
        if a.df_all or a.mounts:
            out.append("<<<inodes>>>\n" + self.inodes(a))
            rc.append("inodes 0\n")
        out.append("<<<rc>>>\n")
        out += rc
        if a.df_all or a.mounts:
            out.append("<<<df>>>\n" + self.df(a))
        else:
            out.append("<<<df>>>\n")
        return "".join(out)

    def meminfo(self) -> str:
        p = self.p
        t = p.mem_kb
        avail = int(t * (1 - self.mem_used))
        free = avail // 4
        buffers = t // 200
        cached = max(0, avail - free - buffers - t // 100)
        anon = max(0, t - avail - t // 40)
        shmem = t // 300
        sr, su = t // 100, t // 400
        swap_free = p.swap_kb - (p.swap_kb // 50 if p.swap_kb else 0)
        return (_MEMINFO % (t, free, avail, buffers, cached, 0, anon // 10 + cached * 6 // 10,
                            anon * 9 // 10 + cached * 4 // 10, anon // 10, anon * 9 // 10, cached * 6 // 10,
                            cached * 4 // 10, 13872, 11088, p.swap_kb, swap_free, self.r.randrange(0, 9000), 0,
                            anon, cached // 10, shmem, sr, sr + su, sr, su, p.cpus * 20 + 1800, anon // 100,
                            t // 2 + p.swap_kb, anon * 3 // 2, 14732 + p.cpus * 100, p.cpus * 384, anon // 20,
                            30720, t // 4, t - t // 4))

    def diskstats(self) -> str:
        return "\n".join("%4d %7d %s %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d" % (*row[:3], *d)
                         for row, d in zip(self.p.disk_rows, self.dev)) + "\n"

    def netdev(self) -> str:
        return NET_HEADER + "\n" + "\n".join(
            "%6s:%8d %7d %4d %4d %4d %5d %10d %9d %8d %7d %4d %4d %4d %5d %7d %10d" % (name, *n)
            for name, n in zip(self.p.nics, self.nic)) + "\n"

    def pressure(self) -> str:
        """/proc/pressure as the probe prints it: stalls grow with the load per core (kernel 4.20+)."""
        busy = min(1.0, self.load[0] / self.p.cpus)
        some = (("cpu", 40 * busy ** 3), ("memory", 4 * self.mem_used ** 4), ("io", 6 * busy ** 2))
        lines = []
        for name, value in some:
            lines.append("%s some avg10=%.2f avg60=%.2f avg300=%.2f total=%d\n"
                         % (name, value, value * 0.9, value * 0.8, int(self.idle_s * value * 1e4)))
            full = 0.0 if name == "cpu" else value / 3
            lines.append("%s full avg10=%.2f avg60=%.2f avg300=%.2f total=%d\n"
                         % (name, full, full * 0.9, full * 0.8, int(self.idle_s * full * 1e4)))
        return "".join(lines)

    def inodes(self, a: ProbeArgs) -> str:
        """`df -Pi` of the same filesystems as `df`: one inode per 16 KiB, a third as full as the space."""
        lines = ["Filesystem      Inodes   IUsed   IFree IUse% Mounted on"]
        for src, _fstype, mount, size, share in self._df_rows(a):
            total = size // 16
            used = int(total * share / 3)
            pct = -(-used * 100 // total) if total else 0
            lines.append("%s %d %d %d %d%% %s" % (src, total, used, total - used, pct, mount))
        return "\n".join(lines) + "\n"

    def nvidia(self) -> str:
        p = self.p
        name, mib, limit, idle_w, fan = p.gpu_model
        rows = []
        for i in range(p.gpu_count):
            u = int(self.gpu_util[i])
            used = int(mib * self.gpu_mem[i])
            temp = int(32 + u * p.gpu_heat[i] + self.r.uniform(-1.5, 1.5))
            watts = idle_w + (limit - idle_w) * u / 100 * self.r.uniform(0.8, 0.95)
            # the probe's full list (collector/parsers/nvidia.py QUERY_FIELDS): state, reasons, ECC, repairs
            rows.append("%d, %s, %s, %s, %d, %d, %d, %d, %d, %.2f, %.2f, %s, %d, %d, P%d, 4, 16, Enabled, Disabled, "
                        "0x%016x, 0, 0, %d, 0, [N/A], No\n" % (
                            i, p.gpu_uuids[i], name, p.gpu_bus[i], u, u * 2 // 5, used, mib, temp, watts, limit,
                            str(30 + u // 2) if fan else "[N/A]", 210 + 12 * u, 1593, 0 if u else 8,
                            0x4 if u > 80 else 0x1 if u < 5 else 0, i % 3))
        return "".join(rows)

    def gpu_apps(self, now: float) -> tuple[str, str]:
        """A training process on every card in use (its owner one of a few lab users), and ps's lines for them."""
        p = self.p
        name, mib = p.gpu_model[0], p.gpu_model[1]
        apps, owners = [], []
        for i in range(p.gpu_count):
            if self.gpu_util[i] < 5 and self.gpu_mem[i] < 0.05:
                continue
            pid = 40_000 + 17 * i + p.index % 1000
            apps.append("%s, %d, %d, python3\n" % (p.gpu_uuids[i], pid, int(mib * self.gpu_mem[i])))
            owners.append("%d %-32s %10d python3 train.py --model %s --rank %d\n" % (
                pid, p.lab_users[i % len(p.lab_users)], int(now - self.boot_at) // 2, name.split()[-1], i))
        return "".join(apps), "".join(owners)

    def systemd(self, units: tuple[str, ...]) -> str:
        blocks = []
        r = self.r
        for u in units:
            failed = self.unit_failed.get(u, False)
            if failed and r.random() < 0.05:  # restarted after ~100 s on average
                failed = False
            elif not failed and r.random() < 0.0005:  # ~1 failure per unit per 3 hours
                failed = True
            self.unit_failed[u] = failed
            blocks.append("Id=%s\nLoadState=loaded\nActiveState=%s\nSubState=%s\n"
                          % (u, "failed" if failed else "active", "failed" if failed else "running"))
        return "\n".join(blocks)

    def ps(self) -> str:
        return "".join("%5d %4.1f %6d %s\n" % (pid, cpu * self.r.uniform(0.95, 1.05), rss, name)
                       for (pid, name, rss), cpu in zip(self.ps_rows, self.ps_cpu))

    def _df_rows(self, a: ProbeArgs) -> list[tuple]:
        p = self.p
        if a.df_all:
            rows = [(*m, self.fs_used[i]) for i, m in enumerate(p.mounts)]
            rows += [(*m, 0.01) for m in p.pseudo]
            rows += [("overlay", "overlay", o, p.mounts[0][3], self.fs_used[0]) for o in p.overlays]
        else:
            by_mount = {m[2]: i for i, m in enumerate(p.mounts)}
            rows = []
            for want in a.mounts:
                i = by_mount.get(want, 0)  # a path inside / is reported as /
                rows.append((*p.mounts[i], self.fs_used[i]))
        return rows

    def df(self, a: ProbeArgs) -> str:
        rows = self._df_rows(a)
        w = max(len(x[0]) for x in rows)
        lines = ["%-*s %-8s %11s %9s %9s %8s %s" % (w, "Filesystem", "Type", "1024-blocks", "Used", "Available",
                                                   "Capacity", "Mounted on")]
        for src, fstype, mount, size, share in rows:
            used = int(size * share)
            avail = int((size - used) * 0.95)
            pct = -(-used * 100 // (used + avail)) if used + avail else 0
            lines.append("%-*s %-8s %11d %9d %9d %7d%% %s" % (w, src, fstype, size, used, avail, pct, mount))
        return "\n".join(lines) + "\n"

    def catalog(self) -> str:
        units = self.p.units
        listed = "".join("%-28s loaded active running %s\n" % (u, u.split(".")[0]) for u in units)
        files = "".join("%-28s enabled enabled\n" % u for u in units)
        return f"<<<units>>>\n{listed}<<<unit_files>>>\n{files}<<<rc>>>\nunits 0\nunit_files 0\n"


def _meminfo_template() -> str:
    """/proc/meminfo of a 6.x kernel: "Label:" padded to 16, value %8d, " kB"; constants filled in here."""
    const = {"Zswap": 0, "Zswapped": 0, "SecPageTables": 0, "NFS_Unstable": 0, "Bounce": 0, "WritebackTmp": 0,
             "VmallocTotal": 34359738367, "VmallocChunk": 0, "HardwareCorrupted": 0, "ShmemHugePages": 0,
             "ShmemPmdMapped": 0, "FileHugePages": 0, "FilePmdMapped": 0, "Hugepagesize": 2048, "Hugetlb": 0}
    order = ("MemTotal MemFree MemAvailable Buffers Cached SwapCached Active Inactive Active(anon) Inactive(anon) "
             "Active(file) Inactive(file) Unevictable Mlocked SwapTotal SwapFree Zswap Zswapped Dirty Writeback "
             "AnonPages Mapped Shmem KReclaimable Slab SReclaimable SUnreclaim KernelStack PageTables SecPageTables "
             "NFS_Unstable Bounce WritebackTmp CommitLimit Committed_AS VmallocTotal VmallocUsed VmallocChunk Percpu "
             "HardwareCorrupted AnonHugePages ShmemHugePages ShmemPmdMapped FileHugePages FilePmdMapped "
             "HugePages_Total HugePages_Free HugePages_Rsvd HugePages_Surp Hugepagesize Hugetlb DirectMap4k "
             "DirectMap2M DirectMap1G").split()
    lines = []
    for key in order:
        label = (key + ":").ljust(16)
        if key.startswith("HugePages_"):
            lines.append(label + "       0")
        else:
            lines.append(label + ("%8d kB" % const[key] if key in const else "%8d kB"))
    return "\n".join(lines) + "\n"


_MEMINFO = _meminfo_template()


def _bench(n: int = 500) -> None:
    """Time the synthesis alone: `python benchmarks/fleetsim_output.py` (500 hosts, 5 probes each)."""
    import time

    now = time.time()
    hosts = [SimHostState(HostProfile(1, i), now) for i in range(n)]
    cmd = "set -- '-g' '-m' '/' '--' 'ssh.service' 'nginx.service'\n...fw_main \"$@\"\n"
    t0 = time.process_time()
    sizes = sorted(len(h.answer(cmd, now + 5 * k)[0]) for k in range(1, 6) for h in hosts)
    cpu = time.process_time() - t0
    print(f"{len(sizes)} probes: {cpu / len(sizes) * 1e6:.0f} µs CPU each; output {sizes[0]}-{sizes[-1]} bytes, "
          f"median {sizes[len(sizes) // 2]} bytes")


if __name__ == "__main__":
    _bench()
