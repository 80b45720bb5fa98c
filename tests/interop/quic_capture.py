#!/usr/bin/env python3
"""Checks a QUIC capture with tshark (issue 5, interop on the wire).

Decrypts the capture with the TLS key log, then fails when:
  - any packet is malformed or raises an expert warning or worse;
  - nothing decoded: no decrypted 1-RTT packet (so a capture that decoded nothing cannot pass);
  - --min-tuples N: fewer than N client 4-tuples (address, port) talked to the server;
  - --challenges: a new client path on which the server's PATH_CHALLENGEs (those sent while it
    was the newest path) got no PATH_RESPONSE with the same data from that path (RFC 9000
    §8.2.2), or a PATH_RESPONSE echoing data nobody challenged. Challenges on a path the client
    already left (the old-path check of §9.3.3) may go unanswered, and of a burst of
    retransmitted challenges a peer may answer only the latest (counted, not failed);
  - --fresh-dcid: a client path reused a DCID of an earlier client path (RFC 9000 §9.5);
  - --preferred-port P: the client never validated the server's preferred address P (a
    PATH_CHALLENGE to it answered from it, RFC 9000 §9.6.1) or never sent it 1-RTT data;
  - --retry: no Retry packet was seen, or no Initial carried a token afterwards (§8.1.2).
Prints the counts as one JSON line.
"""
import argparse
import collections
import json
import subprocess
import sys

FIELDS = ["frame.number", "ip.src", "ipv6.src", "udp.srcport", "ip.dst", "ipv6.dst",
          "udp.dstport", "quic.header_form", "quic.long.packet_type", "quic.dcid",
          "quic.frame_type", "quic.path_challenge.data", "quic.path_response.data",
          "quic.token_length"]


def tshark(args, keylog, extra):
    cmd = ["tshark", "-n", "-r", args.capture, "-o", "tls.keylog_file:" + keylog] + extra
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        sys.exit("quic_capture: tshark failed: " + out.stderr.strip().splitlines()[-1])
    return out.stdout


def packets(args):
    extra = ["-Y", "quic", "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
             "-E", "aggregator=,"]
    for f in FIELDS:
        extra += ["-e", f]
    rows = []
    for line in tshark(args, args.keylog, extra).splitlines():
        v = dict(zip(FIELDS, line.split("\t")))
        split = {k: [x for x in v.get(k, "").split(",") if x] for k in FIELDS}
        src = (split["ip.src"] or split["ipv6.src"] or ["?"])[0]
        dst = (split["ip.dst"] or split["ipv6.dst"] or ["?"])[0]
        rows.append({"n": int(v["frame.number"]), "src": (src, v["udp.srcport"]),
                     "dst": (dst, v["udp.dstport"]), **split})
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("capture")
    ap.add_argument("--keylog", required=True)
    ap.add_argument("--server-port", required=True, help="the server's port(s), comma-separated")
    ap.add_argument("--min-tuples", type=int, default=1)
    ap.add_argument("--challenges", action="store_true")
    ap.add_argument("--fresh-dcid", action="store_true")
    ap.add_argument("--retry", action="store_true")
    ap.add_argument("--preferred-port")
    args = ap.parse_args()
    server_ports = set(args.server_port.split(","))
    errors = []

    bad = tshark(args, args.keylog, ["-Y", '_ws.malformed || _ws.expert.severity >= "warning"'])
    if bad.strip():
        errors.append("malformed packets or expert warnings:\n" + bad.strip()[:4000])

    rows = packets(args)
    to_server = [r for r in rows if r["dst"][1] in server_ports]
    from_server = [r for r in rows if r["src"][1] in server_ports]
    short_decrypted = sum(1 for r in rows if "0" in r["quic.header_form"] and r["quic.frame_type"])
    tuples = []  # client 4-tuples in order of first appearance
    first_seen = {}
    for r in to_server:
        if r["src"] not in first_seen:
            first_seen[r["src"]] = r["n"]
            tuples.append(r["src"])
    counts = {"packets": len(rows), "decrypted_1rtt": short_decrypted,
              "client_tuples": len(tuples), "retry": 0, "challenges_new_path": 0,
              "challenges_answered": 0}
    if short_decrypted == 0:
        errors.append("no decrypted 1-RTT packet: wrong key log, or nothing was exchanged")
    if len(tuples) < args.min_tuples:
        errors.append(f"{len(tuples)} client 4-tuples, wanted at least {args.min_tuples}")

    if args.challenges:
        # Per new client path: the server's challenges sent while it was the newest path, and
        # whether the client echoed them from that path. A peer may answer only the latest of
        # a burst (ngtcp2 keeps the last few); one echo validates the path (§8.2.3), and an
        # echo must carry data the server really sent on that path (§8.2.2).
        challenged = collections.defaultdict(list)
        for r in from_server:
            if r["dst"] not in first_seen or r["dst"] == tuples[0]:
                continue
            newest = max(first_seen[t] for t in tuples if first_seen[t] <= r["n"])
            if first_seen[r["dst"]] == newest:
                challenged[r["dst"]] += r["quic.path_challenge.data"]
        for t in tuples[1:]:
            echoed = [d for a in to_server if a["src"] == t for d in a["quic.path_response.data"]]
            sent = set(challenged[t])
            counts["challenges_new_path"] += len(challenged[t])
            counts["challenges_answered"] += len(sent & set(echoed))
            if not sent:
                errors.append(f"the server never challenged the new client path {t}")
            elif not sent & set(echoed):
                errors.append(f"no PATH_CHALLENGE of the server on {t} was answered from it")
            stray = [d for d in echoed if d not in sent and
                     not any(d in r["quic.path_challenge.data"] for r in from_server)]
            if stray:
                errors.append(f"PATH_RESPONSE from {t} echoes data never challenged: {stray[:3]}")

    if args.fresh_dcid:
        owner = {}
        for r in to_server:
            if "0" not in r["quic.header_form"]:
                continue
            for d in r["quic.dcid"]:
                if owner.setdefault(d, r["src"]) != r["src"]:
                    errors.append(f"frame {r['n']}: DCID {d} of path {owner[d]} reused on {r['src']}")
        counts["client_dcids"] = len(owner)

    if args.preferred_port:
        p = args.preferred_port
        to_p = [r for r in to_server if r["dst"][1] == p]
        asked = [(r, d) for r in to_p for d in r["quic.path_challenge.data"]]
        answered = [d for r, d in asked if any(d in a["quic.path_response.data"] and
                                              a["src"][1] == p for a in from_server)]
        counts["preferred_challenges_answered"] = len(answered)
        counts["preferred_1rtt_packets"] = sum(1 for r in to_p if "0" in r["quic.header_form"])
        if not answered:
            errors.append(f"the client never validated the preferred address (port {p})")
        if not any(t not in ("0", "26", "27", "24", "25", "1") for r in to_p
                   for t in r["quic.frame_type"]):
            errors.append(f"the client never sent data to the preferred address (port {p})")

    if args.retry:
        retry_at = [r["n"] for r in from_server if "3" in r["quic.long.packet_type"]]
        counts["retry"] = len(retry_at)
        if not retry_at:
            errors.append("no Retry packet")
        elif not any(r["n"] > retry_at[0] and "0" in r["quic.long.packet_type"] and
                     any(t != "0" for t in r["quic.token_length"]) for r in to_server):
            errors.append("no Initial with a token after the Retry")

    print(json.dumps(counts))
    for e in errors[:20]:
        print("quic_capture: " + e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
