#!/usr/bin/env bash
# Builds the seed corpora under fuzz/corpus/<target>/ from ../shared/reference (next to the
# repository; override with REFERENCE=/path/to/reference). Nothing from the reference is
# committed: run this before the first `cargo +nightly fuzz run`. Safe to re-run (it only adds).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
ref="${REFERENCE:-$here/../../shared/reference}"
[ -d "$ref" ] || { echo "no reference directory at $ref (set REFERENCE=…)" >&2; exit 1; }
corpus="$here/corpus"
mkdir -p "$corpus"/{meta_webhook,twilio_form,chatwoot_event,phone,template_render,send_validator,wame_link}

python3 - "$ref" "$corpus" <<'PY'
import hashlib, json, pathlib, sys, urllib.parse

ref, corpus = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    name = hashlib.sha1(data).hexdigest()
    (corpus / target / name).write_bytes(data)

counts = {}
def count(target):
    counts[target] = counts.get(target, 0) + 1

# 1. Meta webhooks: every JSON sample that is a webhook (or close to one) goes in as it is.
for f in sorted((ref / "whatsapp").glob("*.json")):
    if f.name.startswith("meta_openapi_send_"):
        continue
    put("meta_webhook", f.read_bytes()); count("meta_webhook")
signed = ref / "meta_signatures.json"
if signed.exists():
    def bodies(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k in ("body", "raw_body") and isinstance(x, str):
                    yield x
                else:
                    yield from bodies(x)
        elif isinstance(v, list):
            for x in v:
                yield from bodies(x)
    for b in bodies(json.loads(signed.read_text())):
        put("meta_webhook", b); count("meta_webhook")

# 2. Twilio: token \0 url \0 signature \0 form body, from the SDK test vectors.
for v in json.loads((ref / "twilio_signatures.json").read_text())["vectors"]:
    params = v.get("params") or {}
    pairs = []
    for k, x in params.items():
        for one in (x if isinstance(x, list) else [x]):
            pairs.append((k, "" if one is None else str(one)))
    body = v["body"] if v.get("body") is not None else urllib.parse.urlencode(pairs)
    parts = [v["auth_token"], v["url"], v.get("expected_signature") or "", body]
    put("twilio_form", "\0".join(parts)); count("twilio_form")
    # The same parameters as an inbound WhatsApp message and as a status callback.
    for extra in ([("MessageSid", "SM0123"), ("From", "whatsapp:+14155238886"), ("Body", "Hola")],
                  [("MessageSid", "SM0123"), ("MessageStatus", "delivered"), ("ErrorCode", "30008")]):
        put("twilio_form", "\0".join(parts[:3] + [urllib.parse.urlencode(pairs + extra)])); count("twilio_form")

# 3. Chatwoot events and schemas.
for f in sorted((ref / "chatwoot").glob("*.json")):
    put("chatwoot_event", f.read_bytes()); count("chatwoot_event")

# 4. Phones: REGION \n NUMBER \n WA_ID.
import csv
with open(ref / "phone_numbers.tsv", newline="") as fh:
    for row in csv.DictReader(fh, delimiter="\t"):
        expected = (row.get("expected_e164") or "").lstrip("+")
        put("phone", f"{row['default_region']}\n{row['input']}\n{expected}"); count("phone")
with open(ref / "wa_id_variants.tsv", newline="") as fh:
    for row in csv.DictReader(fh, delimiter="\t"):
        a, b = row["incoming_wa_id"], row["expected_resolved_or_normalized"]
        put("phone", f"\n{a}\n{b}"); count("phone")
        put("phone", f"\n+{b}\nwhatsapp:+{a}"); count("phone")

# 5/6. Sends, as published (placeholders and all) and with the placeholders filled in.
subs = {
    "{{Recipient-Phone-Number}}": "+5491123456789",
    "<IMAGE_OBJECT_ID>": "med_01900000000000000000000000000001",
    "<AUDIO_OBJECT_ID>": "med_01900000000000000000000000000005",
    "<VIDEO_OBJECT_ID>": "med_01900000000000000000000000000003",
    "<STICKER_OBJECT_ID>": "med_01900000000000000000000000000006",
    "template-name": "confirmacion_turno",
    "language-and-locale-code": "es_AR",
}
for f in sorted((ref / "whatsapp").glob("meta_openapi_send_*.json")):
    raw = f.read_text()
    put("send_validator", raw); count("send_validator")
    filled = raw
    for k, x in subs.items():
        filled = filled.replace(k, x)
    put("send_validator", filled); count("send_validator")
    for to in ("011 15-2345-6789", "+52 1 55 1234 5678"):
        put("send_validator", filled.replace("+5491123456789", to)); count("send_validator")
    doc = json.loads(filled)
    if isinstance(doc.get("template"), dict):
        # The template object alone, in template_render's JSON mode (first byte even).
        t = {"name": "confirmacion_turno", "language": "es_AR", "status": "APPROVED",
             "category": "UTILITY", "components": [
                 {"type": "HEADER", "format": "TEXT", "text": "Turno {{1}}"},
                 {"type": "BODY", "text": "Hola {{1}}, total {{2}}, el {{3}}."},
                 {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Ver",
                                                  "url": "https://x.example/{{1}}"}]}]}
        put("template_render", b"\0" + json.dumps({"template": t, "message": doc["template"]}).encode())
        count("template_render")

# Template messages from the Cloud API reference text (```json blocks with a "template" key).
import re
md = (ref / "cloud-api.md").read_text() if (ref / "cloud-api.md").exists() else ""
for block in re.findall(r"```json\s*(.*?)```", md, re.S):
    try:
        doc = json.loads(block)
    except ValueError:
        continue
    if isinstance(doc, dict) and isinstance(doc.get("template"), dict):
        put("template_render", b"\0" + json.dumps({"message": doc["template"]}).encode())
        count("template_render")
        put("send_validator", json.dumps(doc)); count("send_validator")

# 7. wa.me: structured input; a few byte strings are enough for libFuzzer to start from.
for s in ("Hola, te escribo por la factura A-0042\nINV-0042", "[ref: inv-1 ]", "¡Hola! 😀 & = # +",
          "invoice\nes-AR\n{{number}}"):
    put("wame_link", s); count("wame_link")
# template_render's structured mode (first byte odd) starts from random bytes.
for i in range(8):
    put("template_render", bytes([1]) + hashlib.sha256(bytes([i])).digest() * 4); count("template_render")

for k in sorted(counts):
    print(f"{k}: {counts[k]} seeds written")
PY
