#!/usr/bin/env python3
"""Payload files for bench-loadgen: one request a line, `HEADER-VALUE<TAB>BODY`.

  inbound  --count N --out FILE
      N unique, signed WhatsApp Cloud `messages` webhooks (text) from one customer; the same
      format as ../shared/bench-peer/gen_payloads.py, used when that directory is absent.
  outbound --numbers K --sends M --openers FILE --out FILE
      K signed webhooks, one from each of K customers with today's timestamp (they open the
      24-hour windows), and M `POST /v1/messages` bodies spread round-robin over those customers
      (first column empty: the API key goes in a header of its own).

Signed with BENCH_SECRET (default `bench-app-secret-0123456789abcdef`).
"""
import argparse
import hashlib
import hmac
import json
import os
import time

SECRET = os.environ.get("BENCH_SECRET", "bench-app-secret-0123456789abcdef").encode()


def webhook(pnid, wa_id, wamid, text, ts):
    return {
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550001111", "phone_number_id": pnid},
                    "contacts": [{"profile": {"name": "Bench Customer"}, "wa_id": wa_id}],
                    "messages": [{"from": wa_id, "id": wamid, "timestamp": str(ts), "type": "text", "text": {"body": text}}],
                },
            }],
        }],
    }


def signed_line(obj):
    body = json.dumps(obj, separators=(",", ":")).encode()
    sig = hmac.new(SECRET, body, hashlib.sha256).hexdigest().encode()
    return b"sha256=" + sig + b"\t" + body + b"\n"


def customer(i):
    # Argentine mobile numbers in WhatsApp's form (549 + area 11 + 8 digits): 549112xxxxxxx.
    return "549112%07d" % i


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("inbound")
    a.add_argument("--count", type=int, required=True)
    a.add_argument("--pnid", default="1122334455667")
    a.add_argument("--out", required=True)
    b = sub.add_parser("outbound")
    b.add_argument("--numbers", type=int, required=True)
    b.add_argument("--sends", type=int, required=True)
    b.add_argument("--pnid", default="1122334455667")
    b.add_argument("--openers", required=True)
    b.add_argument("--out", required=True)
    args = ap.parse_args()
    now = int(time.time())
    if args.cmd == "inbound":
        with open(args.out, "wb") as f:
            for i in range(args.count):
                f.write(signed_line(webhook(args.pnid, customer(0), "wamid.BENCHIN%012d" % i, "bench message %d" % i, now)))
        print("wrote", args.count)
        return
    with open(args.openers, "wb") as f:
        for i in range(args.numbers):
            f.write(signed_line(webhook(args.pnid, customer(i), "wamid.BENCHOPEN%012d" % i, "hola %d" % i, now)))
    with open(args.out, "wb") as f:
        for i in range(args.sends):
            body = {"to": "+" + customer(i % args.numbers), "type": "text", "text": {"body": "bench send %d" % i}}
            f.write(b"\t" + json.dumps(body, separators=(",", ":")).encode() + b"\n")
    print("wrote", args.numbers, "openers and", args.sends, "sends")


if __name__ == "__main__":
    main()
