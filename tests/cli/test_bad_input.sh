#!/usr/bin/env bash
# Issue 5, "bad input": wrong flags, unreadable certificate or key, an unreachable address, a
# port in use, a server that does not answer: each gets one line on stderr and a non-zero exit,
# never a hang. Also: --help lists every flag with a line each.
source "$(dirname "$0")/lib.sh"

# Wrong flags and values: exit 2.
expect_error 2 "unknown command" "$ROAMQUIC" serve
expect_error 2 "unknown or incomplete option" "$ROAMQUIC" server --listen 127.0.0.1:0 --bogus
expect_error 2 "listen ADDR:PORT is required" "$ROAMQUIC" server --root /tmp
expect_error 2 "needs a port" "$ROAMQUIC" server --listen 127.0.0.1 --root /tmp
expect_error 2 "root DIR is required" "$ROAMQUIC" server --listen 127.0.0.1:0
expect_error 2 "go together" "$ROAMQUIC" server --listen 127.0.0.1:0 --root /tmp --cert x
expect_error 2 "byte count" "$ROAMQUIC" server --listen 127.0.0.1:0 --gen-max lots
expect_error 2 "cannot resolve" "$ROAMQUIC" server --listen 127.0.0.1:0 --root /tmp --preferred-ipv4 [::1]:5
expect_error 2 "no URL" "$ROAMQUIC" client --insecure
expect_error 2 "not an https:// URL" "$ROAMQUIC" client http://127.0.0.1:1/x
expect_error 2 "same server" "$ROAMQUIC" client https://127.0.0.1:1/a https://127.0.0.1:2/b
expect_error 2 "bad port in URL" "$ROAMQUIC" client https://127.0.0.1:99999/a
expect_error 2 "write the same file" "$ROAMQUIC" client https://127.0.0.1:1/a/x https://127.0.0.1:1/b/x
expect_error 2 "exclude each other" "$ROAMQUIC" client --insecure --ca x https://127.0.0.1:1/
expect_error 2 "4 or 6" "$ROAMQUIC" client --prefer-family 5 https://127.0.0.1:1/
expect_error 2 "needs --migrate-to" "$ROAMQUIC" client --migrate-after 1M https://127.0.0.1:1/
expect_error 2 "from 1 to" "$ROAMQUIC" client --timeout 0 https://127.0.0.1:1/
expect_error 2 "unknown or incomplete option" "$ROAMQUIC" demo --size
expect_error 2 "at least" "$ROAMQUIC" demo --size 1K

# Files and the network: exit 1.
echo junk >"$WORK/junk.pem"
expect_error 1 "cannot open --root" "$ROAMQUIC" server --listen 127.0.0.1:0 --root "$WORK/none"
expect_error 1 "certificate or key" "$ROAMQUIC" server --listen 127.0.0.1:0 --root "$WORK" \
    --cert "$WORK/none.pem" --key "$WORK/none.pem"
expect_error 1 "certificate or key" "$ROAMQUIC" server --listen 127.0.0.1:0 --root "$WORK" \
    --cert "$WORK/junk.pem" --key "$WORK/junk.pem"
expect_error 1 "cannot listen on" "$ROAMQUIC" server --listen 192.0.2.1:4433 --root "$WORK"
expect_error 1 "CA file" "$ROAMQUIC" client --ca "$WORK/none.pem" https://127.0.0.1:1/
expect_error 1 "cannot resolve" "$ROAMQUIC" client --insecure https://no-such-host.invalid:1/

# A port in use: a running server holds it.
start_server --listen 127.0.0.1:0 --root "$WORK"
expect_error 1 "cannot listen on" "$ROAMQUIC" server --listen "127.0.0.1:$SERVER_PORT" --root "$WORK"
stop_server

# Nobody answers: the client gives up after its timeout.
python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' >"$WORK/port"
start=$(date +%s)
expect_error 1 "giving up" "$ROAMQUIC" client --insecure --timeout 2 "https://127.0.0.1:$(cat "$WORK/port")/x"
(( $(date +%s) - start <= 6 )) || fail "the silent server took more than 6 s to give up on"

# --help: every flag of the usage line is described.
for cmd in server client demo; do
    "$ROAMQUIC" "$cmd" --help >"$WORK/help"
    for flag in $(grep -o -- '--[a-z0-9-]*' "$WORK/help" | sort -u); do
        grep -qE "^  $flag( |$)|^  .*  $flag " "$WORK/help" || grep -qE "^ +$flag" "$WORK/help" ||
            fail "$cmd --help does not describe $flag"
    done
    pass "$cmd --help"
done
echo "all bad-input checks passed"
