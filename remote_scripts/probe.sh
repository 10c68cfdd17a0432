#!/bin/sh
# fleetwatch probe: the only code that runs on a monitored host.
#
# Dumb on purpose (Checkmk agent style): it prints raw text under
# <<<section>>> headers and the hub interprets everything, so a parsing fix
# never needs a redeploy. Nothing is installed and nothing stays running.
#
# Usage: probe.sh [-o] [-p] [-g [-c]] [-a | -m MOUNTS] [--] [UNIT...]
#        probe.sh -U
#   -U        service catalog instead of a probe: only the `units`
#             (systemctl list-units), `unit_files` (list-unit-files) and
#             `rc` sections; the hub asks on request, never while polling
#   -o        add the static `os` section (hub asks once per connection)
#   -p        add the `ps` section (top processes; costly, hub asks rarely)
#   -g        GPUs: query nvidia-smi (prints "absent" when it is not installed)
#             and read AMD cards' amdgpu sysfs files (no tool needed)
#   -c        with -g: also the GPU compute processes (`gpu_apps`: nvidia-smi
#             --query-compute-apps) and `gpu_ps` (ps: user, elapsed seconds
#             and command of those pids); a second nvidia-smi call, so the
#             hub asks every 30 s by default, not at every probe
#   -a        df over all local filesystems
#   -m LIST   df over these mount points, one per line
#   UNIT...   systemd units for `systemctl show`
# The hub validates every mount point and unit against strict patterns and
# single-quotes them before they reach this shell.
#
# Output, in order: epoch, uptime, stat, loadavg, proc (one `head -v` over
# meminfo, diskstats and net/dev: the hub splits it on head's
# "==> FILE <==" lines), pressure, netclass, [os], [nvidia], [amdgpu],
# [gpu_apps, gpu_ps], [systemd], [ps], inodes, rc, df.
# The `rc` section lists "name exit-status" for every command run behind
# `timeout` (124 = timed out, 127 = not found); df runs last and its status
# is the exit status of the whole probe.
#
# Cost matters (it runs every 5 s on every host): each external process costs
# about 1 ms of host CPU, so /proc is read by one `head`, one-line files by
# the `read` builtin, and output is gathered into few writes.
#
# Sourceable for tests: FLEETWATCH_PROBE_LIB=1 . probe.sh  defines the
# functions without running anything. FW_SYS (default /sys) is where the
# amdgpu section looks for sysfs; tests point it at a fake tree.

# A zsh login shell runs the probe too, once told to behave like sh.
[ -n "${ZSH_VERSION:-}" ] && emulate sh
LC_ALL=C
export LC_ALL
PATH=$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

# Per-command time limits in seconds; their sum stays below the hub's
# default probe timeout of 10 s.
FW_T_DF=3
FW_T_INODES=2  # a mount that hangs df hangs this one first: keep its share short
FW_T_GPU=5
FW_T_SYSTEMD=3
FW_T_PS=3
FW_T_CATALOG=5

fw_rc=''
fw_nl='
'
FW_SYS=${FW_SYS:-/sys}

# fw_run NAME SECS CMD...: run CMD behind `timeout` when available and
# remember its exit status for the rc section. stderr is kept with stdout so
# the hub can show the tool's own error message.
fw_run() {
    fw_name=$1
    fw_secs=$2
    shift 2
    if [ -n "$fw_timeout" ]; then
        timeout -k 1 "$fw_secs" "$@" 2>&1
    else
        "$@" 2>&1
    fi
    fw_rc="$fw_rc$fw_name $?
"
}

fw_epoch() {
    # bash >= 5 and busybox ash know the time without a process. Under dash
    # this section stays empty: a `date` would cost ~1 ms on every probe, so
    # the hub takes the epoch from the os section's `date` (read once per
    # connection) plus /proc/uptime, both host-side clocks.
    # shellcheck disable=SC3028 # empty where the shell lacks it, on purpose
    printf '<<<epoch>>>\n%s\n' "${EPOCHSECONDS:-}"
}

fw_counters() {
    # One-line files (and the first, aggregate line of /proc/stat) through the
    # read builtin, printed with one printf; then one head for the rest.
    fw_u='' fw_s='' fw_a=''
    IFS= read -r fw_u < /proc/uptime || :
    IFS= read -r fw_s < /proc/stat || :
    IFS= read -r fw_a < /proc/loadavg || :
    printf '<<<uptime>>>\n%s\n<<<stat>>>\n%s\n<<<loadavg>>>\n%s\n<<<proc>>>\n' \
        "$fw_u" "$fw_s" "$fw_a"
    head -v -n 400 /proc/meminfo /proc/diskstats /proc/net/dev 2>&1
}

fw_pressure() {
    # Pressure stall information (kernel 4.20+), one "RESOURCE LINE" per line of
    # /proc/pressure/{cpu,memory,io}, read with the read builtin (no process).
    # Older kernels, or psi=0, print an empty section: the hub shows no value.
    printf '<<<pressure>>>\n'
    for fw_f in cpu memory io; do
        [ -r "/proc/pressure/$fw_f" ] || continue
        while IFS= read -r fw_l; do
            printf '%s %s\n' "$fw_f" "$fw_l"
        done < "/proc/pressure/$fw_f" 2>/dev/null
    done
}

fw_netclass() {
    # What /sys/class/net says of each interface, as paths: every name, then
    # NAME/device (a physical device behind it), NAME/bonding (bond master),
    # NAME/bonding_slave, NAME/bridge, NAME/brport (bridge port) and
    # NAME/lower_OTHER (stacked on OTHER: VLAN, macvlan, bond, bridge). One
    # glob reads each interface's directory once (a test per entry and
    # interface cost 5 ms at 100 interfaces, this 1 ms); the pattern matches
    # those entries and no other entry the kernel has today. The hub decides
    # which interfaces count (collector/net_counting.py). No /sys: empty.
    printf '<<<netclass>>>\n'
    fw_cwd=$PWD
    cd /sys/class/net 2>/dev/null || return 0
    set -- * */[bdl][eor][inpvw][deio]*
    cd "$fw_cwd" || :
    printf '%s\n' "$@"
}

fw_os() {
    printf '<<<os>>>\n'
    date +%s
    IFS= read -r fw_u < /proc/uptime || :
    printf '%s\n' "$fw_u"
    head -v -n 40 /etc/os-release /proc/sys/kernel/hostname \
        /proc/sys/kernel/ostype /proc/sys/kernel/osrelease \
        /proc/sys/kernel/arch /sys/devices/system/cpu/online 2>&1
}

# fw_df MODE MOUNTS: MODE is "all" or "list"; MOUNTS is newline-separated.
# Runs last and replaces the shell (exec saves a fork on every probe), so its
# exit status is the probe's: 124 means df timed out.
fw_df() {
    printf '<<<df>>>\n'
    if [ "$1" = all ]; then
        set -- -PTkl
    elif [ -z "$2" ]; then
        exit 0  # `disks: []`: no df at all (a bare df would list remote mounts too)
    else
        # Split only on newlines: mount points may contain spaces.
        IFS='
'
        set -f
        # shellcheck disable=SC2086 # splitting on newlines is the point
        set -- -PTk -- $2
    fi
    if [ -n "$fw_timeout" ]; then
        exec timeout -k 1 "$FW_T_DF" df "$@" 2>&1
    fi
    exec df "$@" 2>&1
}

# fw_inodes MODE MOUNTS: inode use of the filesystems fw_df lists (df -i, one
# more process); a df without -i leaves its error text and no values.
fw_inodes() {
    printf '<<<inodes>>>\n'
    if [ "$1" = all ]; then
        fw_run inodes "$FW_T_INODES" df -Pil
    elif [ -n "$2" ]; then
        fw_ifs=$IFS
        IFS='
'
        set -f
        # shellcheck disable=SC2086 # splitting on newlines is the point
        fw_run inodes "$FW_T_INODES" df -Pi -- $2
        set +f
        IFS=$fw_ifs
    fi
}

# The --query-gpu lists, in the order collector/parsers/nvidia.py reads them:
# the base fields every driver knows, the card's state, the clocks event
# reasons bitmask, then ECC and memory-repair health.
FW_GPU_BASE=index,uuid,name,pci.bus_id,utilization.gpu,utilization.memory,memory.used,memory.total,temperature.gpu,power.draw,power.limit,fan.speed
FW_GPU_STATE=clocks.sm,clocks.mem,pstate,pcie.link.gen.current,pcie.link.width.current,persistence_mode,mig.mode.current
FW_GPU_HEALTH=ecc.errors.corrected.volatile.total,ecc.errors.uncorrected.volatile.total,ecc.errors.corrected.aggregate.total,ecc.errors.uncorrected.aggregate.total,retired_pages.pending,remapped_rows.pending

# fw_gpu_query FIELDS: one nvidia-smi call; its output in fw_out, status in fw_st.
fw_gpu_query() {
    if [ -n "$fw_timeout" ]; then
        fw_out=$(timeout -k 1 "$FW_T_GPU" nvidia-smi --query-gpu="$1" --format=csv,noheader,nounits 2>&1)
    else
        fw_out=$(nvidia-smi --query-gpu="$1" --format=csv,noheader,nounits 2>&1)
    fi
    fw_st=$?
}

# One nvidia-smi call per probe. nvidia-smi refuses the whole query over one
# field it does not know, so an older driver is asked again: drivers before
# 535 name the reasons clocks_throttle_reasons, drivers before 460 know no
# remapped_rows (a refusal costs a few ms: nvidia-smi checks the list before
# it opens the driver). The hub reads the short rows too.
fw_nvidia() {
    printf '<<<nvidia>>>\n'
    if command -v nvidia-smi >/dev/null 2>&1; then
        fw_gpu_query "$FW_GPU_BASE,$FW_GPU_STATE,clocks_event_reasons.active,$FW_GPU_HEALTH"
        case $fw_out in *'is not a valid field'*)
            fw_gpu_query "$FW_GPU_BASE,$FW_GPU_STATE,clocks_throttle_reasons.active,$FW_GPU_HEALTH"
            case $fw_out in *'is not a valid field'*) fw_gpu_query "$FW_GPU_BASE" ;; esac ;;
        esac
        [ -n "$fw_out" ] && printf '%s\n' "$fw_out"
        fw_rc="${fw_rc}nvidia $fw_st
"
    else
        printf 'absent\n'
    fi
}

# The compute processes on the cards, then who runs them. process_name goes
# last: it is the only field that may hold a comma. ps is asked only for the
# pids nvidia-smi named (procps: user:32 keeps long LDAP names whole; the
# command is cut at 300 characters, a training job's argv can be kilobytes).
fw_gpu_apps() {
    printf '<<<gpu_apps>>>\n'
    command -v nvidia-smi >/dev/null 2>&1 || { printf 'absent\n<<<gpu_ps>>>\n'; return 0; }
    if [ -n "$fw_timeout" ]; then
        fw_out=$(timeout -k 1 "$FW_T_GPU" nvidia-smi --query-compute-apps=gpu_uuid,pid,used_memory,process_name \
            --format=csv,noheader,nounits 2>&1)
    else
        fw_out=$(nvidia-smi --query-compute-apps=gpu_uuid,pid,used_memory,process_name \
            --format=csv,noheader,nounits 2>&1)
    fi
    fw_rc="${fw_rc}gpu_apps $?
"
    [ -n "$fw_out" ] && printf '%s\n' "$fw_out"
    # the pids: the second field of each row, split with the shell's own
    # expansions (no here-document: the hub sends the script minified)
    fw_pids=''
    fw_ifs=$IFS
    IFS=$fw_nl
    set -f
    for fw_line in $fw_out; do
        fw_pid=${fw_line#*, }
        fw_pid=${fw_pid%%,*}
        case $fw_pid in
            ''|*[!0-9]*) ;;
            *) fw_pids="$fw_pids${fw_pids:+,}$fw_pid" ;;
        esac
    done
    set +f
    IFS=$fw_ifs
    printf '<<<gpu_ps>>>\n'
    # shellcheck disable=SC2016 # $1 is the inner sh's
    [ -n "$fw_pids" ] && fw_run gpu_ps "$FW_T_PS" sh -c \
        'ps -o pid=,user:32=,etimes=,args= -p "$1" | cut -c 1-300' sh "$fw_pids"
}

# fw_kv FILE: "NAME VALUE" onto fw_o (NAME: the file's own name) when FILE
# reads; a file the card lacks, or one its driver refuses, adds nothing.
# The value is left in fw_v (empty when there is none).
fw_kv() {
    fw_v=''
    IFS= read -r fw_v 2>/dev/null < "$1" && fw_o="$fw_o${1##*/} $fw_v$fw_nl"
}

# AMD GPUs without any tool: the amdgpu driver's sysfs files, read with the
# read builtin (no process; asked with -g, so at every probe). Raw values,
# interpreted by collector/parsers/amdgpu.py: bytes, millidegrees C,
# microwatts, Hz, "NAME VALUE" lines under a "card cardN" line per card.
# A host without the amdgpu module pays one test and prints nothing.
# A runtime-suspended card (a sleeping desktop card) is not woken: after its
# runtime_status it gets no sensor read.
FW_AMD_HWMON='temp1_input temp2_input temp3_input power1_average power1_input power1_cap freq1_input freq2_input pwm1 pwm1_max'
fw_amdgpu() {
    [ -d "$FW_SYS/module/amdgpu" ] || return 0
    fw_o=''
    for fw_c in "$FW_SYS"/class/drm/card[0-9]*; do
        # not the connectors (card0-DP-1)
        case ${fw_c##*/} in *-*) continue ;; esac
        fw_d=$fw_c/device fw_v=''
        IFS= read -r fw_v 2>/dev/null < "$fw_d/vendor"
        if [ "$fw_v" != 0x1002 ] || [ ! -e "$fw_d/gpu_busy_percent" ]; then
            continue
        fi
        fw_o="${fw_o}card ${fw_c##*/}$fw_nl"
        if [ -r "$fw_d/uevent" ]; then
            while IFS='=' read -r fw_k fw_v; do
                case $fw_k in PCI_ID|PCI_SLOT_NAME) fw_o="$fw_o$fw_k $fw_v$fw_nl" ;; esac
            done < "$fw_d/uevent"
        fi
        for fw_f in product_name unique_id mem_info_vram_total mem_info_vram_used power/runtime_status; do
            fw_kv "$fw_d/$fw_f"
        done
        [ "$fw_v" = suspended ] && continue
        fw_kv "$fw_d/gpu_busy_percent"
        fw_kv "$fw_d/mem_busy_percent"
        for fw_h in "$fw_d"/hwmon/hwmon*; do
            # shellcheck disable=SC2086 # a list of plain names
            for fw_f in $FW_AMD_HWMON; do
                fw_kv "$fw_h/$fw_f"
            done
        done
    done
    printf '<<<amdgpu>>>\n%s' "$fw_o"
}

# fw_systemd UNIT...
fw_systemd() {
    printf '<<<systemd>>>\n'
    if command -v systemctl >/dev/null 2>&1; then
        fw_run systemd "$FW_T_SYSTEMD" systemctl show --no-pager \
            --property=Id,LoadState,ActiveState,SubState -- "$@"
    else
        printf 'absent\n'
    fi
}

# Service catalog (-U): every service unit systemd knows, loaded or not.
# "absent" in both sections when there is no systemctl.
fw_catalog() {
    if ! command -v systemctl >/dev/null 2>&1; then
        printf '<<<units>>>\nabsent\n<<<unit_files>>>\nabsent\n'
        return 0
    fi
    printf '<<<units>>>\n'
    fw_run units "$FW_T_CATALOG" systemctl list-units --type=service --all \
        --no-legend --no-pager --plain
    printf '<<<unit_files>>>\n'
    fw_run unit_files "$FW_T_CATALOG" systemctl list-unit-files --type=service \
        --no-legend --no-pager
}

fw_ps() {
    printf '<<<ps>>>\n'
    # procps ps: %cpu is CPU time over the process lifetime.
    fw_run ps "$FW_T_PS" sh -c 'ps -eo pid=,pcpu=,rss=,comm= --sort=-pcpu | head -n 15'
}

fw_main() {
    fw_want_os='' fw_want_ps='' fw_want_gpu='' fw_want_apps='' fw_df_mode=list fw_mounts=/
    fw_want_catalog=''
    while [ $# -gt 0 ]; do
        case $1 in
            -U) fw_want_catalog=1 ;;
            -o) fw_want_os=1 ;;
            -p) fw_want_ps=1 ;;
            -g) fw_want_gpu=1 ;;
            -c) fw_want_apps=1 ;;
            -a) fw_df_mode=all ;;
            -m) fw_df_mode=list; fw_mounts=$2; shift ;;
            --) shift; break ;;
            -*) printf '<<<error>>>\nunknown option %s\n' "$1"; return 2 ;;
            *) break ;;
        esac
        shift
    done
    fw_timeout=''
    command -v timeout >/dev/null 2>&1 && fw_timeout=1

    if [ -n "$fw_want_catalog" ]; then
        fw_catalog
        printf '<<<rc>>>\n%s' "$fw_rc"
        return 0
    fi
    fw_epoch
    fw_counters
    fw_pressure
    fw_netclass
    [ -n "$fw_want_os" ] && fw_os
    if [ -n "$fw_want_gpu" ]; then
        fw_nvidia
        fw_amdgpu
        [ -n "$fw_want_apps" ] && fw_gpu_apps
    fi
    [ $# -gt 0 ] && fw_systemd "$@"
    [ -n "$fw_want_ps" ] && fw_ps
    fw_inodes "$fw_df_mode" "$fw_mounts"
    printf '<<<rc>>>\n%s' "$fw_rc"
    fw_df "$fw_df_mode" "$fw_mounts"
}

if [ -z "${FLEETWATCH_PROBE_LIB:-}" ]; then
    fw_main "$@" </dev/null
fi
