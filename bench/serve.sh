# Sourced by the bench scripts: starts `dillws --listen 127.0.0.1:0` with
# the given arguments in the background, its log in $1, and sets SRV_PID
# and SRV_PORT (empty when it did not start listening within 20 s).
# Usage: dillws_serve LOG DILLWS [dillws options...]
dillws_serve() {
    local log=$1 d=$2
    shift 2
    # Emptied here, not by the redirection (which happens in the child, by
    # when the loop below may have read the last run's port).
    : >"$log"
    "$d" --listen 127.0.0.1:0 "$@" 2>>"$log" &
    SRV_PID=$!
    SRV_PORT=""
    for _ in $(seq 400); do
        SRV_PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$log" 2>/dev/null)
        [ -n "$SRV_PORT" ] && break
        sleep 0.05
    done
}
