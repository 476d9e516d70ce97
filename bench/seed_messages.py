#!/usr/bin/env python3
"""Seeds a Chasqui database with many stored messages by SQL, and checks ingest into it.

Seeding through the webhook endpoint would take 8–40 minutes per million at the processing rates
measured (about 2,000/s on SQLite, 400/s on PostgreSQL), and would stamp every row "now": no
months of history, no outbound messages with their status trail. So the rows are written directly, in
the shape processing writes them (the same tables and columns, ids in Chasqui's format, the same
content JSON for inbound texts), into a database the server has migrated and set up (tenant, API
key, channels). Search sees them exactly as it sees real ones: on SQLite the `messages_fts`
triggers of migration 0005 index every inserted row; on PostgreSQL the generated `search`
tsvector column is computed on insert (COPY).

  seed_messages.py seed --db URL --tenant ten_… --channels chn_a,chn_b,… --messages N
                        [--contacts C] [--days D] [--seed S] --manifest FILE
      N messages over C contacts (default N/20, at most 50,000), one open conversation each on
      one of the channels (weighted 70/20/10 % for three), over the last D days (180). Message
      counts per conversation are skewed (log-normal weights; every conversation has at least
      one). About 57 % inbound (texts with words drawn from a Zipf-distributed vocabulary of ~20,000
      words, plus images, audio, stickers, …), the rest outbound (texts and templates, status read /
      delivered / sent / failed, with their status history in `message_events`). Ids are
      UUIDv7 at each row's creation time, so id order is time order as in a real database.
      Writes FILE (JSON): the search words chosen by their measured document frequency
      (common ≈ 10 %, medium ≈ 0.5 %, rare ≈ 0.005 % of messages, an order number in ~2, and a
      word in none), sample conversation and provider ids, a one-day window, and timings.
      Not seeded: webhook receipts and the outgoing-event log (`events`, which has retention);
      the read APIs measured do not read them.
  seed_messages.py mark --db URL
      One JSON line: the newest message id and the receipt count, taken before an ingest run.
      `dbwait.py inbound --mark JSON` then waits for and checks only what came after it.

URL: `sqlite:///path/chasqui.db` (Python's sqlite3) or `postgres://…` (psql, COPY for seeding).
Standard library only.
"""
import argparse
import json
import math
import os
import queue
import random
import re
import sqlite3
import subprocess
import sys
import threading
import time

# ---------------------------------------------------------------------------------------------
# ids

_last_ms = -1
_counter = 0


def uuid7_hex(ms, rng, monotonic=False):
    """A UUIDv7 (as `uuid::Uuid::simple()`: 32 lowercase hex digits) at Unix time `ms`. With
    `monotonic`, ids made in one millisecond still increase (a counter in rand_a, as the uuid
    crate does), so rows inserted in time order have ascending ids."""
    global _last_ms, _counter
    if monotonic:
        if ms == _last_ms:
            _counter = (_counter + 1) & 0xFFF
        else:
            _last_ms, _counter = ms, rng.getrandbits(11)
        rand_a = _counter
    else:
        rand_a = rng.getrandbits(12)
    rand_b = rng.getrandbits(62)
    v = (ms & 0xFFFFFFFFFFFF) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return "%032x" % v


def hyphenated(h):
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


# ---------------------------------------------------------------------------------------------
# words

COMMON = """hola buenas buenos dias tardes noches gracias por favor quiero necesito consulta pedido
precio cuanto cuesta tienen stock talle color envio envíos retiro local horario abierto mañana hoy
semana pago transferencia tarjeta efectivo cuotas factura recibo dirección calle numero codigo
postal cuando llega llegó paquete seguimiento demora problema cambio devolución garantía producto
modelo marca nuevo usado disponible reservar turno cancelar confirmar confirmado listo perfecto
genial dale ok bueno bien mal todavia ya ahora después antes tarde temprano sábado domingo lunes
martes miércoles jueves viernes mes año foto imagen catálogo lista oferta descuento promo promoción
envío gratis costo total seña saldo cuenta alias cbu mercado libre whatsapp llamar llamada mensaje
respuesta espero aviso avisar enviar mandar mando mandé recibí recibido falta faltan otro otra más
menos mucho poco grande chico mediano negro blanco azul rojo verde gris rosa zapatillas remera
pantalón campera buzo medias mochila celular cargador funda auricular pantalla batería repuesto
service técnico reparación presupuesto urgente rápido hasta luego saludos abrazo""".split()

SYL = ["ba", "be", "bi", "bo", "ca", "ce", "ci", "co", "cu", "da", "de", "di", "do", "fa", "fe", "fi",
       "ga", "go", "la", "le", "li", "lo", "lu", "ma", "me", "mi", "mo", "na", "ne", "ni", "no", "pa",
       "pe", "pi", "po", "ra", "re", "ri", "ro", "sa", "se", "si", "so", "ta", "te", "ti", "to", "va",
       "ve", "vi", "za", "zo", "tra", "tre", "pla", "bri", "gor", "mun", "quel", "ster"]

NAMES = """María José Juan Ana Luis Carlos Laura Sofía Martín Lucía Diego Valentina Pablo Camila
Jorge Florencia Nicolás Agustina Federico Julieta Matías Paula Santiago Carolina Gabriel Romina
Alejandro Natalia Fernando Daniela Sergio Micaela Ricardo Victoria Andrés Belén""".split()
SURNAMES = """González Rodríguez Gómez Fernández López Díaz Martínez Pérez García Sánchez Romero
Sosa Álvarez Torres Ruiz Ramírez Flores Acosta Benítez Medina Herrera Suárez Aguirre Giménez""".split()


def vocabulary(rng, size):
    """Common words first (they get the top Zipf ranks), then made-up words for the long tail."""
    words, seen = [], set()
    for w in COMMON:
        if w not in seen:
            seen.add(w)
            words.append(w)
    while len(words) < size:
        w = "".join(rng.choice(SYL) for _ in range(rng.choice((2, 3, 3, 4))))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def fold(w):
    """What the search indexes see (accents and case folded), to count document frequencies."""
    return w.translate(str.maketrans("áéíóúñü", "aeiounu")).lower()


# ---------------------------------------------------------------------------------------------
# databases

class Db:
    def __init__(self, url):
        self.url = url
        self.sqlite = url.startswith("sqlite:")
        if self.sqlite:
            path = url[len("sqlite:"):]
            while path.startswith("//"):
                path = path[1:]
            self.path = path.split("?")[0]
            self.conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)

    def rows(self, sql, params=()):
        if self.sqlite:
            return [tuple(r) for r in self.conn.execute(sql, params).fetchall()]
        assert not params
        out = subprocess.run(["psql", self.url, "-qAtF", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                             capture_output=True, text=True, check=True).stdout
        return [tuple(int(x) if x.lstrip("-").isdigit() else (None if x == "" else x) for x in line.split("\t"))
                for line in out.splitlines() if line]

    def one(self, sql, params=()):
        return self.rows(sql, params)[0][0]


def copy_escape(v):
    if v is None:
        return "\\N"
    if isinstance(v, int):
        return str(v)
    return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class Writer:
    """Inserts rows table by table: executemany on SQLite, COPY … FROM STDIN through psql. The
    writing runs on a thread of its own (sqlite3 and pipe writes release the GIL), so generating
    the next chunk overlaps inserting the last one."""

    def __init__(self, db):
        self.db = db
        self.procs = {}
        self.queue = queue.Queue(maxsize=2)
        self.error = None
        if db.sqlite:
            # Seeding only, with nothing else using the file: no journal, no fsync (a crash
            # means seeding again). `finish` puts the database back in WAL mode.
            db.conn.execute("PRAGMA synchronous = OFF")
            db.conn.execute("PRAGMA journal_mode = OFF")
            db.conn.execute("PRAGMA cache_size = -262144")
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while True:
                item = self.queue.get()
                if item is None:
                    return
                if self.db.sqlite:
                    self.db.conn.execute("BEGIN")
                for table, cols, rows in item:
                    self._write(table, cols, rows)
                if self.db.sqlite:
                    self.db.conn.execute("COMMIT")
        except BaseException as e:  # reported by finish()
            self.error = e
            while self.queue.get() is not None:
                pass

    def _write(self, table, cols, rows):
        if self.db.sqlite:
            self.db.conn.executemany("INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(cols), ", ".join("?" * len(cols))), rows)
            return
        p = self.procs.get(table)
        if p is None:
            p = subprocess.Popen(["psql", self.db.url, "-q", "-v", "ON_ERROR_STOP=1", "-c",
                                  "COPY %s (%s) FROM STDIN" % (table, ", ".join(cols))], stdin=subprocess.PIPE)
            self.procs[table] = p
        p.stdin.write("".join("\t".join(copy_escape(v) for v in r) + "\n" for r in rows).encode())

    def chunk(self, *tables):
        """Queues one chunk: (table, columns, rows)… written in one transaction on SQLite."""
        if self.error is not None:
            raise self.error
        self.queue.put([t for t in tables if t[2]])

    def finish(self):
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error
        if self.db.sqlite:
            self.db.conn.execute("PRAGMA journal_mode = WAL")
            return
        for table, p in self.procs.items():
            p.stdin.close()
            if p.wait() != 0:
                sys.exit("COPY into %s failed" % table)


# ---------------------------------------------------------------------------------------------
# seed

def seed(args):
    t_start = time.time()
    rng = random.Random(args.seed)
    db = Db(args.db)
    channels = args.channels.split(",")
    n = args.messages
    c_count = args.contacts or max(1, min(50000, n // 20))
    c_count = min(c_count, n)
    end_ms = int(time.time() * 1000) - 60_000
    start_ms = end_ms - args.days * 86_400_000
    ch_weights = [0.7, 0.2, 0.1][:len(channels)] if len(channels) <= 3 else [1.0] * len(channels)

    # Conversations: when each began, its channel, and how many messages it gets (every one at
    # least one, the rest by skewed weights: a few customers write a lot).
    conv_start = sorted(rng.randint(start_ms, end_ms - 60_000) for _ in range(c_count))
    conv_channel = rng.choices(range(len(channels)), weights=ch_weights, k=c_count)
    weights = [rng.lognormvariate(0, 1.2) for _ in range(c_count)]
    msg_conv = list(range(c_count)) + rng.choices(range(c_count), weights=weights, k=n - c_count)
    msg_time = [0] * n
    for i, c in enumerate(msg_conv):
        s = conv_start[c]
        msg_time[i] = s if i < c_count else s + int(rng.random() * (end_ms - s))
    order = sorted(range(n), key=msg_time.__getitem__)
    del weights

    vocab = vocabulary(rng, args.vocabulary)
    cum, acc = [], 0.0
    for r in range(len(vocab)):
        acc += 1.0 / (r + 2.7)
        cum.append(acc)
    dfc = {}  # folded word -> messages whose text has it, as the search indexes tokenize it
    token = re.compile(r"\w+")
    # Order numbers ("pedido 4821733"): about two messages each.
    order_pool = max(1, n // 40)
    order_base = 4_000_000

    writer = Writer(db)
    msg_cols = ("id", "tenant_id", "channel_id", "conversation_id", "contact_id", "direction", "provider_message_id",
                "kind", "status", "body_text", "content", "context_message_id", "provider_timestamp", "error_code",
                "error_message", "created_at", "updated_at", "to_address", "attempts", "last_attempt_at")
    ev_cols = ("id", "tenant_id", "channel_id", "provider_message_id", "status", "occurred_at", "payload", "created_at")
    conv_first = [None] * c_count
    conv_last = [0] * c_count
    conv_last_in = [None] * c_count
    conv_msgs = [0] * c_count
    conv_ids = ["cnv_" + uuid7_hex(conv_start[c], rng) for c in range(c_count)]
    contact_ids = ["con_" + uuid7_hex(conv_start[c], rng) for c in range(c_count)]
    wa_ids = ["549351%07d" % (3_000_000 + c * 7 % 7_000_000) for c in range(c_count)]
    ten = args.tenant
    samples_pid = []
    kinds_count = {}
    status_count = {}
    batch, events = [], []
    chunk = 20000
    t_gen = time.time()
    written = 0

    def flush():
        nonlocal batch, events
        writer.chunk(("messages", msg_cols, batch), ("message_events", ev_cols, events))
        batch, events = [], []

    for seq, i in enumerate(order):
        c = msg_conv[i]
        ms = msg_time[i]
        mid = "msg_" + uuid7_hex(ms, rng, monotonic=True)
        first = conv_first[c] is None
        if first:
            conv_first[c] = ms
        conv_last[c] = ms
        conv_msgs[c] += 1
        inbound = first or rng.random() < 0.55
        ch = channels[conv_channel[c]]
        wa = wa_ids[c]
        text = None
        if inbound or rng.random() < 0.8:
            k = rng.choice((2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20))
            ws = rng.choices(range(len(vocab)), cum_weights=cum, k=k)
            words = [vocab[x] for x in ws]
            if rng.random() < 0.1:
                num = order_base + rng.randrange(order_pool)
                words.insert(rng.randrange(len(words) + 1), "pedido %d" % num)
            text = " ".join(words)
            text = text[0].upper() + text[1:]
        if inbound:
            conv_last_in[c] = ms
            pid = "wamid.HBgN%sFQIAEhgU%020X" % (wa, seq)
            r = rng.random()
            if r < 0.85:
                kind = "text"
                inner = {"body": text, "kind": "text"}
                raw = {"from": wa, "id": pid, "text": {"body": text}, "timestamp": str(ms // 1000), "type": "text"}
            else:
                kind = "image" if r < 0.92 else "audio" if r < 0.96 else "sticker" if r < 0.98 else "document"
                caption = text if kind in ("image", "document") and rng.random() < 0.5 else None
                text = caption
                media = {"id": "%016d" % (seq * 7919 % 10**16), "mime_type": {"image": "image/jpeg", "audio": "audio/ogg",
                         "sticker": "image/webp", "document": "application/pdf"}[kind], "sha256": "%064x" % rng.getrandbits(256)}
                if caption:
                    media["caption"] = caption
                inner = {"kind": kind, "media": media}
                raw = {"from": wa, "id": pid, kind: media, "timestamp": str(ms // 1000), "type": kind}
            content = json.dumps({"message": {"additional_media": [], "content": inner, "context": None, "errors": [],
                                              "provider_message_id": pid, "referral": None,
                                              "sender": {"email": None, "identifier": None, "parent_user_id": None, "phone": None,
                                                         "profile_name": "Cliente %d" % c, "provider_contact_id": None,
                                                         "user_id": None, "username": None, "wa_id": wa},
                                              "timestamp": ms // 1000}, "raw": raw}, ensure_ascii=False, separators=(",", ":"))
            row = (mid, ten, ch, conv_ids[c], contact_ids[c], "in", pid, kind, "received", text, content, None,
                   ms // 1000 * 1000, None, None, ms, ms, None, 0, None)
            status = "received"
        else:
            pid = "wamid.HBgN%sFQIAERgS%020X" % (wa, seq)
            r = rng.random()
            status = "read" if r < 0.60 else "delivered" if r < 0.85 else "sent" if r < 0.95 else "failed"
            if text is None:
                kind = "template"
                text = "Hola! Tu pedido %d ya está en camino. Seguilo en el enlace." % (order_base + rng.randrange(order_pool))
                req = {"messaging_product": "whatsapp", "recipient_type": "individual", "template": {
                    "components": [{"parameters": [{"text": text.split()[3], "type": "text"}], "type": "body"}],
                    "language": {"code": "es_AR"}, "name": "pedido_en_camino"}, "to": wa, "type": "template"}
            else:
                kind = "text"
                req = {"messaging_product": "whatsapp", "recipient_type": "individual", "text": {"body": text}, "to": wa, "type": "text"}
            content = json.dumps({"request": req}, ensure_ascii=False, separators=(",", ":"))
            sent_at = ms + rng.randint(80, 900)
            err = ("131026", "Message undeliverable.") if status == "failed" else (None, None)
            row = (mid, ten, ch, conv_ids[c], contact_ids[c], "out", pid, kind, status, text, content, None, None,
                   err[0], err[1], ms, sent_at, wa, 1, sent_at)
            chain = ["failed"] if status == "failed" else ["sent", "delivered", "read"][:["sent", "delivered", "read"].index(status) + 1]
            at = sent_at
            for st in chain:
                payload = json.dumps({"id": pid, "recipient_id": wa, "status": st, "timestamp": str(at // 1000)},
                                     separators=(",", ":"))
                events.append((hyphenated(uuid7_hex(at, rng)), ten, ch, pid, st, at // 1000 * 1000, payload, at))
                at += rng.randint(500, 3_600_000)
        if text is not None:
            for t in set(token.findall(fold(text))):
                dfc[t] = dfc.get(t, 0) + 1
        kinds_count[kind] = kinds_count.get(kind, 0) + 1
        status_count[status] = status_count.get(status, 0) + 1
        if rng.random() < 2000 / n:
            samples_pid.append(pid)
        batch.append(row)
        if len(batch) >= chunk:
            written += len(batch)
            flush()
            if written % 200000 == 0:
                print("[seed] %d messages, %.0f s" % (written, time.time() - t_start), file=sys.stderr)
    written += len(batch)
    flush()

    con_cols = ("id", "tenant_id", "wa_id", "contact_key", "profile_name", "created_at", "updated_at")
    cnv_cols = ("id", "tenant_id", "channel_id", "contact_id", "status", "opened_at", "last_inbound_at",
                "last_message_at", "updated_at")
    rows_con, rows_cnv = [], []
    for c in range(c_count):
        name = "%s %s" % (rng.choice(NAMES), rng.choice(SURNAMES))
        rows_con.append((contact_ids[c], ten, wa_ids[c], wa_ids[c], name, conv_start[c], conv_last_in[c]))
        rows_cnv.append((conv_ids[c], ten, channels[conv_channel[c]], contact_ids[c], "open", conv_start[c],
                         conv_last_in[c], conv_last[c], conv_last[c]))
    writer.chunk(("contacts", con_cols, rows_con), ("conversations", cnv_cols, rows_cnv))
    writer.finish()
    t_rows = time.time()

    # What a database that had grown by itself would have: SQLite without statistics (Chasqui
    # never runs ANALYZE), PostgreSQL vacuumed and analyzed (autovacuum does that after bulk
    # inserts anyway; done here so the run does not depend on when it kicks in).
    if db.sqlite:
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = os.path.getsize(db.path)
    else:
        subprocess.run(["psql", args.db, "-q", "-c", "VACUUM ANALYZE"], check=True)
        size = db.one("SELECT pg_database_size(current_database())")
    t_done = time.time()

    # Search words by the document frequency they ended up with.
    accented = {fold(v) for v in vocab if fold(v) != v.lower()}

    def pick(fraction):
        want = fraction * n
        # Plain ASCII words with no accented spelling: PostgreSQL's `simple` configuration does
        # not fold accents, SQLite's tokenizer does; these match the same rows on both.
        best = min((w for w in dfc if w.isascii() and w.isalpha() and w not in accented), key=lambda w: (abs(math.log((dfc[w] + 0.5) / want)), w))
        return {"word": best, "docs": dfc[best]}
    words = {"common": pick(0.10), "medium": pick(0.005), "rare": pick(0.00005)}
    absent = "zzyzxquorble"
    words["absent"] = {"word": absent, "docs": 0}
    numbers = [w for w in dfc if w.isdigit()]
    num = min(numbers, key=lambda w: (abs(dfc[w] - 2), w)) if numbers else str(order_base)
    words["order_number"] = {"word": num, "docs": dfc.get(num, 0)}
    day = start_ms + (end_ms - start_ms) // 2
    day -= day % 86_400_000
    manifest = {
        "backend": "sqlite" if db.sqlite else "postgres",
        "tenant": ten,
        "channels": channels,
        "messages": n,
        "contacts": c_count,
        "conversations": c_count,
        "message_events": None,
        "days": args.days,
        "start_ms": start_ms,
        "end_ms": end_ms,
        "day_window": [day, day + 86_400_000],
        "kinds": kinds_count,
        "statuses": status_count,
        "words": words,
        "conversation_sample": rng.sample(conv_ids, min(2000, c_count)),
        "conversation_msgs_median": sorted(conv_msgs)[c_count // 2],
        "conversation_msgs_max": max(conv_msgs),
        "provider_id_sample": samples_pid[:2000],
        "db_bytes": size,
        "seconds": {"plan": round(t_gen - t_start, 1), "rows": round(t_rows - t_gen, 1),
                    "checkpoint_or_vacuum": round(t_done - t_rows, 1), "total": round(t_done - t_start, 1)},
    }
    manifest["message_events"] = db.one("SELECT count(*) FROM message_events")
    with open(args.manifest, "w") as f:
        json.dump(manifest, f)
    short = {k: v for k, v in manifest.items() if k not in ("conversation_sample", "provider_id_sample")}
    print(json.dumps(short, separators=(",", ":")))


# ---------------------------------------------------------------------------------------------
# ingest check

def mark(args):
    db = Db(args.db)
    newest = db.one("SELECT coalesce(max(id), '') FROM messages")
    receipts = db.one("SELECT count(*) FROM webhook_receipts")
    print(json.dumps({"newest_message": newest, "receipts": receipts}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--db", required=True)
    s.add_argument("--tenant", required=True)
    s.add_argument("--channels", required=True)
    s.add_argument("--messages", type=int, required=True)
    s.add_argument("--contacts", type=int, default=0)
    s.add_argument("--days", type=int, default=180)
    s.add_argument("--vocabulary", type=int, default=20000)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--manifest", required=True)
    k = sub.add_parser("mark")
    k.add_argument("--db", required=True)
    args = ap.parse_args()
    {"seed": seed, "mark": mark}[args.cmd](args)


if __name__ == "__main__":
    main()
