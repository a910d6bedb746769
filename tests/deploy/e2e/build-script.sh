#!/bin/bash
# An overlay build script as a hostile user would write it; runs in the build
# sandbox (build-sandbox.conf) with its output dir at /overlay. Prints key=result.
try() { # name, command...
    local name=$1; shift
    if "$@" >/dev/null 2>&1; then echo "$name=ok"; else echo "$name=denied"; fi
}
try write_out sh -c 'echo built > /overlay/built.txt'
try mkdir_out mkdir -p /overlay/left4dead2/addons
try write_state_dir sh -c 'echo x > /var/lib/left4me/evil'
try write_other_overlay sh -c 'echo x > /var/lib/left4me/overlays/other/evil'
try write_etc sh -c 'echo x > /etc/evil'
try write_etc_left4me sh -c 'echo x > /etc/left4me/evil'
try write_usr sh -c 'echo x > /usr/evil'
try write_home sh -c 'echo x > /home/evil'
try write_root_home sh -c 'echo x > /root/evil'
try read_db cat /var/lib/left4me/left4me.db
try read_web_env cat /etc/left4me/web.env
try list_overlays ls /var/lib/left4me/overlays/other
echo "state_dir_listing=$(ls -A /var/lib/left4me | tr '\n' ',')"
echo "proc_pids=$(ls /proc | grep -E '^[0-9]+$' | tr '\n' ',')"
try kill_victim kill -0 "$(cat /overlay/victim.pid)"
try listen_tcp python3 -c 'import socket; s=socket.socket(); s.bind(("0.0.0.0", 27990)); s.listen()'
echo "uid=$(id -u)"
echo "cap_eff=$(sed -n 's/^CapEff:\t//p' /proc/self/status)"
